int grand_fn(void) { return 9; }
