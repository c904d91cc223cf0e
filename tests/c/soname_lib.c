int sn_fn(void) { return 8; }
