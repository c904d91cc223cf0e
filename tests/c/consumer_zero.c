int zero_fn(void);
int consumer_zero(void) { return zero_fn(); }
