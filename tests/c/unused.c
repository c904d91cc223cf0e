/* A library nobody calls: kept in DT_NEEDED only by --no-as-needed. */
int unused_fn(void) { return 2; }
