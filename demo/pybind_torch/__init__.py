"""Minimal torch C++ extension demo (and an audit target for linkaudit).

``pybind_torch._C`` is built with ``torch.utils.cpp_extension.CppExtension``,
so it has DT_NEEDED entries for libc10/libtorch/libtorch_cpu/libtorch_python
but no RUNPATH to ``torch/lib``: a plain ``import pybind_torch._C`` fails with
``ImportError: libc10.so: cannot open shared object file``.  Importing torch
first loads those libraries into the process, and the loader then satisfies
the extension's dependencies by soname.  So ``greet`` is resolved lazily:
accessing it imports torch, then ``._C``.  ``import pybind_torch`` alone stays
cheap and does not import torch.

Importing torch without numpy installed makes torch warn ``UserWarning: Failed
to initialize NumPy``.  This package imports torch only so that its libraries
load; it never converts a tensor to or from numpy, so exactly that warning is
silenced here (rather than installing numpy, ~20 MB, only to keep it quiet).
Any other warning torch gives still shows.

For a build that does not need torch at all see ``pybind_torch.lean``.
"""

from __future__ import annotations

import importlib
import warnings

__all__ = ["greet"]


def __getattr__(name: str):
    if name == "greet":
        with warnings.catch_warnings():
            # torch without numpy: irrelevant here, torch is imported only to load its libraries
            warnings.filterwarnings("ignore", message="Failed to initialize NumPy", category=UserWarning)
            import torch  # noqa: F401  -- loads libc10.so etc. so _C's DT_NEEDED resolve

        _C = importlib.import_module("._C", __name__)
        return _C.greet
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
