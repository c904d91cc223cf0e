"""Build helpers for torch-adjacent C++ extensions that should not link torch.

Why this exists ("build your own cpp_extension"): ``torch.utils.cpp_extension.
CppExtension`` always adds ``libraries=["c10", "torch", "torch_cpu",
"torch_python"]`` whether the sources use them or not.  An extension built that
way carries DT_NEEDED entries for those libraries but no RUNPATH to
``torch/lib``, so it only imports after ``import torch`` has loaded them into
the process.  For code that merely uses pybind11 (which torch ships in its
include dir) that dependency is pure overhead.

``lean_torch_extension`` gives a plain ``setuptools.Extension`` with torch's
include dirs, linking only the torch libraries you name, with
``-Wl,--as-needed`` so unused libraries are dropped from DT_NEEDED.  Still
build it with ``torch.utils.cpp_extension.BuildExtension`` (it supplies the
ABI/pybind11 compile flags and ``TORCH_EXTENSION_NAME``).

If you do name torch libraries, the extension still has no RUNPATH pointing at
``torch/lib`` (its location relative to the installed extension is not fixed in
general), so ``import torch`` must happen before importing the extension.

This module must stay importable on its own (setup.py loads it by file path),
so it imports nothing from the ``pybind_torch`` package.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from setuptools import Extension

__all__ = ["lean_torch_extension"]


def lean_torch_extension(
    name: str,
    sources: Sequence[str],
    torch_libraries: Iterable[str] = (),
    **kwargs,
) -> Extension:
    """Return an Extension compiled against torch headers, linking only ``torch_libraries``.

    ``torch_libraries`` are library names without the ``lib`` prefix
    (e.g. ``("c10",)``).  Extra keyword arguments are merged into the
    Extension's (list arguments are appended to ours).
    """
    from torch.utils import cpp_extension  # imported lazily: only needed at build time

    torch_libraries = list(torch_libraries)

    include_dirs = list(cpp_extension.include_paths()) + list(kwargs.pop("include_dirs", []))
    libraries = torch_libraries + list(kwargs.pop("libraries", []))
    library_dirs = list(kwargs.pop("library_dirs", []))
    if torch_libraries:
        library_dirs = list(cpp_extension.library_paths()) + library_dirs
    extra_compile_args = ["-std=c++17"] + list(kwargs.pop("extra_compile_args", []))
    extra_link_args = ["-Wl,--as-needed"] + list(kwargs.pop("extra_link_args", []))
    define_macros = list(kwargs.pop("define_macros", []))
    kwargs.setdefault("language", "c++")

    return Extension(
        name,
        list(sources),
        include_dirs=include_dirs,
        libraries=libraries,
        library_dirs=library_dirs,
        extra_compile_args=extra_compile_args,
        extra_link_args=extra_link_args,
        define_macros=define_macros,
        **kwargs,
    )
