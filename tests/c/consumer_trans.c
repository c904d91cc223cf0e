/* inner_fn lives only in a dependency of a dependency. */
int inner_fn(void);
int consumer_trans(void) { return inner_fn(); }
