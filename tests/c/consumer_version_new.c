/* References the default version foo@@V2. */
int foo(void);
int consumer_version_new(void) { return foo(); }
