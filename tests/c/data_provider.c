int lib_data = 17;
