int vis_hidden(void);
int vis_local_by_script(void);
int consumer_visibility(void) { return vis_hidden() + vis_local_by_script(); }
