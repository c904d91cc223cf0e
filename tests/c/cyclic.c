/* libcyc_dep.so needs libcyc_main.so back: the name matches the main object's DT_SONAME. */
int cyc_dep(void) { return 1; }
