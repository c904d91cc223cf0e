"""The lean build of ``greet``: same C++ function, no torch at run time.

``pybind_torch._lean`` is built with ``build_helpers.lean_torch_extension``:
torch's headers (for pybind11) but no torch libraries, linked with
``--as-needed``, so its DT_NEEDED holds no torch library and importing it
neither needs nor imports torch.
"""

from pybind_torch._lean import greet

__all__ = ["greet"]
