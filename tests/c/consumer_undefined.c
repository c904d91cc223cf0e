/* References a function that no library defines. */
int nowhere_fn(void);
int used_fn(void);
int consumer_undefined(void) { return nowhere_fn() + used_fn(); }
