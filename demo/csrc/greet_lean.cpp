// Same behaviour as greet.cpp, but built against pybind11 alone (torch ships
// pybind11 in its include dir). Nothing here uses libtorch, so the resulting
// extension has no DT_NEEDED on any torch library and imports without torch.
#include <pybind11/pybind11.h>
#include <iostream>

void greet() { std::cout << "Hello Pytorch from C++" << std::endl; }

PYBIND11_MODULE(_lean, m) { m.def("greet", &greet, "Print a greeting from C++"); }
