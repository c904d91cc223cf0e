/* foo@V2 only (a non-default, hidden version); with -DWITH_DEFAULT also foo@@V3. */
__asm__(".symver foo_v2, foo@V2");
int foo_v2(void) { return 2; }
#ifdef WITH_DEFAULT
__asm__(".symver foo_v3, foo@@V3");
int foo_v3(void) { return 3; }
#endif
int bar(void) { return 1; }
