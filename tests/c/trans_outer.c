/* Defines nothing the consumer uses; only pulls in libtrans_inner. */
int inner_fn(void);
int outer_fn(void) { return inner_fn(); }
