/* Built with -no-pie: the reference to lib_data becomes an R_X86_64_COPY. */
extern int lib_data;
int main(void) { return lib_data == 17 ? 0 : 1; }
