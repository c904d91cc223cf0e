/* Two weak references: one a library provides, one nobody does. */
extern int weak_present(void) __attribute__((weak));
extern int weak_absent(void) __attribute__((weak));
int consumer_weak(void) {
    return (weak_present ? weak_present() : 0) + (weak_absent ? weak_absent() : 0);
}
