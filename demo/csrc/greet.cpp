#include <torch/extension.h>
#include <iostream>

void greet() { std::cout << "Hello Pytorch from C++" << std::endl; }

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("greet", &greet, "Print a greeting from C++"); }
