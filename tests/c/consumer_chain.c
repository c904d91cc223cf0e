int child_fn(void);
int consumer_chain(void) { return child_fn(); }
