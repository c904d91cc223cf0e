/* Calls used_fn (libused) and nothing of libunused. */
int used_fn(void);
int consumer_basic(void) { return used_fn(); }
