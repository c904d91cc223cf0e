__thread int tls_var = 3;
