/* A library whose one function a consumer calls. */
int used_fn(void) { return 1; }
