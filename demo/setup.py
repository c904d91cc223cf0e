"""Build script for the greet demo's two C++ extensions; metadata lives in pyproject.toml.

Build with the already-installed torch: ``pip install --no-build-isolation ./demo``
from the repository root (an isolated build env would fetch another torch).
"""

import importlib.util
import os

from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CppExtension

HERE = os.path.dirname(os.path.abspath(__file__))


def _load_build_helpers():
    # Load by file path so the pybind_torch package __init__ is never imported
    # at build time (the extensions it wraps do not exist yet).
    path = os.path.join(HERE, "pybind_torch", "build_helpers.py")
    spec = importlib.util.spec_from_file_location("_pybind_torch_build_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lean_torch_extension = _load_build_helpers().lean_torch_extension

ext_modules = [
    # The classic example, exactly: links c10, torch, torch_cpu, torch_python.
    CppExtension("pybind_torch._C", ["csrc/greet.cpp"]),
    # Same code without torch/extension.h: needs no torch library at all.
    lean_torch_extension("pybind_torch._lean", ["csrc/greet_lean.cpp"]),
]


class BuildExtensionAndCopyInplace(BuildExtension):
    """torch's BuildExtension, plus a copy of each built extension into the source tree.

    A non-editable ``pip install ./demo`` builds in-tree, leaving the extensions in
    ``demo/build/lib.*/pybind_torch/`` (what ``linkaudit demo/build/`` audits) and in
    the wheel.  The tests import the ``demo/pybind_torch`` *source* directory, not
    site-packages, so the extensions are also copied next to the .py files there,
    as ``build_ext --inplace`` and editable installs do.
    """

    def run(self):
        super().run()
        if not self.inplace:  # inplace/editable builds already copy
            self.copy_extensions_to_source()


setup(
    ext_modules=ext_modules,
    cmdclass={"build_ext": BuildExtensionAndCopyInplace},
)
