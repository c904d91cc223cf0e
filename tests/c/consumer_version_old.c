/* References the old version foo@V1 explicitly. */
__asm__(".symver foo, foo@V1");
int foo(void);
int consumer_version_old(void) { return foo(); }
