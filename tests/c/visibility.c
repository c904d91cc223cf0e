/* Definitions that other objects can never bind to. */
__attribute__((visibility("hidden"))) int vis_hidden(void) { return 1; }
__attribute__((visibility("protected"))) int vis_protected(void) { return 2; }
static int vis_static(void) { return 3; }
int vis_local_by_script(void) { return vis_static(); }
int vis_anchor(void) { return vis_hidden() + vis_protected(); }
