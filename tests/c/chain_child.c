/* Needs libchain_grand but carries no search path of its own. */
int grand_fn(void);
int child_fn(void) { return grand_fn(); }
