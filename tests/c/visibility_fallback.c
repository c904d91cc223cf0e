/* Default-visibility definitions of the same names. */
int vis_hidden(void) { return 11; }
int vis_local_by_script(void) { return 13; }
