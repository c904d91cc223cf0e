/* A fake CPython extension module: PyInit_fakeext and references to the C API the interpreter provides. */
void *PyModule_Create2(void *def, int api);
long PyLong_AsLong(void *o);
int used_fn(void);
void *PyInit_fakeext(void) { return PyModule_Create2(0, used_fn()) ? (void *)PyLong_AsLong(0) : 0; }
