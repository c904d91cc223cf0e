/* Uses libm only; linked against the glibc stubs libpthread/libdl/librt too. */
double cos(double);
double consumer_stubs(double x) { return cos(x); }
