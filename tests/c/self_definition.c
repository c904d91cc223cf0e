/* Defines used_fn itself and calls it: the call binds to this object first, so libused is unused. */
int used_fn(void) { return 100; }
int self_definition(void) { return used_fn(); }
