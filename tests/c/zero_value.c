/* zero_fn's st_value is patched to 0 after linking: such a definition never counts. */
int zero_fn(void) { return 4; }
int zero_keep(void) { return 5; }
