/* An executable that calls used_fn (libused) and nothing of libunused. */
int used_fn(void);
int main(void) { return used_fn() - 1; }
