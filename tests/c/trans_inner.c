int inner_fn(void) { return 7; }
