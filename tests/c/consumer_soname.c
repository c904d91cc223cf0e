int sn_fn(void);
int consumer_soname(void) { return sn_fn(); }
