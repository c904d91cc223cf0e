int zero_fn(void) { return 40; }
