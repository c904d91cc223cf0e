/* ifn is an STT_GNU_IFUNC symbol. */
static int ifn_impl(void) { return 6; }
static int (*ifn_resolver(void))(void) { return ifn_impl; }
int ifn(void) __attribute__((ifunc("ifn_resolver")));
