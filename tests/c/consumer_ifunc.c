int ifn(void);
int consumer_ifunc(void) { return ifn(); }
