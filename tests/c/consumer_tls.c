extern __thread int tls_var;
int consumer_tls(void) { return tls_var; }
