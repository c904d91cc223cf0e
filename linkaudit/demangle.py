"""Readable C++ names, from libstdc++'s own ``__cxa_demangle`` loaded by an explicit path.

No subprocess and no ``ctypes.util.find_library`` (which runs ``ldconfig -p``):
the library is found the way this machine's loader would find it for the
running interpreter, by linkaudit's own emulation (``ld.so.cache``, then the
default directories; ``LD_LIBRARY_PATH`` is not consulted), and opened by its
full path.  Without libstdc++ names stay mangled.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

LIBSTDCXX = "libstdc++.so.6"


def demangle(name: str) -> str:
    """``name`` demangled when it is a C++ name (``_Z...``) libstdc++ can read; else unchanged."""
    if not name.startswith("_Z"):
        return name
    fn = _demangler()
    if fn is None:
        return name
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeError:
        return name
    out = fn(raw)
    return name if out is None else out.decode("utf-8", "surrogateescape")


def library_path() -> str | None:
    """Where this machine's loader finds libstdc++ for the running interpreter (None: nowhere)."""
    from linkaudit.elf import ElfObject
    from linkaudit.errors import LinkauditError
    from linkaudit.loader import Found, LoadedObject, Loader, LoaderEnv

    exe = os.path.realpath(sys.executable)
    try:
        elf = ElfObject(exe)
    except (LinkauditError, OSError):
        return None
    try:
        main = LoadedObject(elf, exe, {exe}, None, None, exe, 0)
        found = Loader(LoaderEnv(python_package_rule=False)).find(LIBSTDCXX, main, main)
    except (LinkauditError, OSError):
        return None
    return found.path if isinstance(found, Found) and os.path.isabs(found.path) else None


@functools.lru_cache(maxsize=1)
def _demangler() -> Callable[[bytes], bytes | None] | None:
    path = library_path()
    if path is None:
        return None
    import ctypes

    try:
        lib = ctypes.CDLL(path)
        cxa_demangle = getattr(lib, "__cxa_demangle")
        free = ctypes.CDLL(None).free  # libc's, already loaded in this process
    except (OSError, AttributeError):
        return None
    cxa_demangle.restype = ctypes.c_void_p
    cxa_demangle.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    free.argtypes = [ctypes.c_void_p]
    free.restype = None

    def run(raw: bytes) -> bytes | None:
        status = ctypes.c_int(0)
        ptr = cxa_demangle(raw, None, None, ctypes.byref(status))
        if not ptr:
            return None
        try:
            return ctypes.string_at(ptr) if status.value == 0 else None
        finally:
            free(ptr)

    return run
