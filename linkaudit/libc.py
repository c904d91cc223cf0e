"""Which libc's loader an object is audited under: glibc's or musl's.

Asked for every audited object, so it lives apart from :mod:`linkaudit.musl`
(the emulation itself), which is imported only when a musl object is met.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from linkaudit.errors import ElfReadError

if TYPE_CHECKING:
    from linkaudit.elf import ElfObject
    from linkaudit.loader import Loader

GLIBC = "glibc"
MUSL = "musl"

_MUSL_LIBC = re.compile(r"libc\.musl-[^/]+\.so\.1\Z")
_MUSL_NAME = re.compile(r"(ld-musl-|libc\.musl-)[^/]+\.so\.1\Z")
_GLIBC_LIBC = ("libc.so.6", "libc.so.6.1", "libc.so.0.3")  # the last two: alpha/ia64, hurd

# LDSO_ARCH per (machine, bits), for objects whose PT_INTERP / libc name does not say it.
_ARCH = {
    ("x86_64", 64): "x86_64", ("i386", 32): "i386", ("aarch64", 64): "aarch64", ("arm", 32): "armhf",
    ("riscv", 64): "riscv64", ("s390x", 64): "s390x", ("ppc64", 64): "powerpc64le", ("ppc", 32): "powerpc",
    ("loongarch", 64): "loongarch64", ("mips", 32): "mipsel", ("mips", 64): "mips64el",
}


def libc_of(elf: ElfObject) -> str | None:
    """"musl" or "glibc" when the object itself says (PT_INTERP, or the libc it needs); else None."""
    interp = os.path.basename(elf.interp or "")
    if interp.startswith("ld-musl-"):
        return MUSL
    if interp.startswith(("ld-linux", "ld64.so", "ld.so.1")):
        return GLIBC
    try:
        needed = elf.needed
    except ElfReadError:
        return None
    for name in needed:
        if name == "libc.so" or _MUSL_LIBC.match(name):
            return MUSL
        if name in _GLIBC_LIBC:
            return GLIBC
    return None


def musl_arch(elf: ElfObject) -> str:
    """musl's LDSO_ARCH for the object: from its loader's or libc's name, else from the machine."""
    interp = os.path.basename(elf.interp or "")
    if interp.startswith("ld-musl-") and interp.endswith(".so.1"):
        return interp[len("ld-musl-"):-len(".so.1")]
    try:
        for name in elf.needed:
            if _MUSL_LIBC.match(name):
                return name[len("libc.musl-"):-len(".so.1")]
    except ElfReadError:
        pass
    return _ARCH.get((elf.machine, elf.bits), elf.machine)


def libc_flavour(elf: ElfObject, loader: Loader, display: str = "") -> str:
    """The libc whose loader the object is audited under.

    The object's own evidence first.  An object that names neither (a library
    needing only other libraries, an extension needing nothing) follows its
    name: a member of a ``musllinux``/``manylinux`` wheel, a CPython extension
    suffix ``-linux-musl``, musl's own ``ld-musl-*``/``libc.musl-*`` files, a
    ``<arch>-linux-musl`` directory; else the system it is
    audited against: musl under a ``--root`` that has musl's loader, glibc
    otherwise.
    """
    own = libc_of(elf)
    if own is not None:
        return own
    wheel, _, member = display.rpartition(".whl!")
    if wheel and re.search(r"[-.]musllinux_\d+_\d+_", os.path.basename(wheel)):
        return MUSL
    if wheel and re.search(r"[-.](many|musl)linux", os.path.basename(wheel)) is not None:
        return GLIBC
    name = member or display
    if re.search(r"-linux-musl[a-z0-9_]*\.so\Z", name) or _MUSL_NAME.match(os.path.basename(name)) \
            or re.search(r"(\A|/)[a-z0-9_]+-linux-musl[a-z0-9_]*/", name):
        return MUSL  # a musl extension suffix, musl's own loader/libc, or a musl multiarch directory
    root = loader.env.root
    if root and os.path.exists(loader._host(f"/lib/ld-musl-{musl_arch(elf)}.so.1")):
        return MUSL
    return GLIBC
