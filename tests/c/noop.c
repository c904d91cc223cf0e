/* A consumer that calls nothing of its libraries. */
int noop(void) { return 0; }
