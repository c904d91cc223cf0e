/* dup_sym is defined by two libraries: the first in breadth-first order wins. */
int dup_sym(void);
int consumer_interpose(void) { return dup_sym(); }
