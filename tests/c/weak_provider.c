int weak_present(void) { return 5; }
