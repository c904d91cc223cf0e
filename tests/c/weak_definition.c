/* A weak definition: it still wins when its library comes first (LD_DYNAMIC_WEAK is off). */
__attribute__((weak)) int dup_sym(void) { return 30; }
