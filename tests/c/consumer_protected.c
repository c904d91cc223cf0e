int vis_protected(void);
int consumer_protected(void) { return vis_protected(); }
