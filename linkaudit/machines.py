"""One record per architecture glibc supports: what its ``ld.so`` takes as given.

Each :class:`Machine` holds what glibc fixes when it is built for that ABI:
the Debian multiarch triplet(s) and the non-multiarch ``slibdir`` (the default
directories and ``$LIB``), the program interpreter, the ``ld.so.cache`` flags
``_dl_cache_check_flags`` accepts (``sysdeps/*/dl-cache.h``,
``sysdeps/generic/ldconfig.h``), the platform strings ``AT_PLATFORM`` can take,
the names of the ``HWCAP_IMPORTANT`` bits that become legacy hwcap
subdirectories (``sysdeps/*/dl-procinfo.h``), and the ``glibc-hwcaps``
subdirectories with the glibc release that introduced each
(``sysdeps/*/dl-hwcaps-subdirs.c``).

An object's record is chosen by ELF class, byte order, ``e_machine`` and the
ABI bits of ``e_flags`` (ARM float ABI, MIPS n32 and NaN encoding, RISC-V and
LoongArch float ABI), as ``ldconfig`` tells them apart.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from linkaudit.relocations import RelocClasses, classes_for

# ld.so.cache flags (sysdeps/generic/ldconfig.h)
FLAG_ELF = 0x0001
FLAG_ELF_LIBC6 = 0x0003
FLAG_SPARC_LIB64 = 0x0100
FLAG_X8664_LIB64 = 0x0300
FLAG_S390_LIB64 = 0x0400
FLAG_POWERPC_LIB64 = 0x0500
FLAG_MIPS64_LIBN32 = 0x0600
FLAG_MIPS64_LIBN64 = 0x0700
FLAG_X8664_LIBX32 = 0x0800
FLAG_ARM_LIBHF = 0x0900
FLAG_AARCH64_LIB64 = 0x0A00
FLAG_ARM_LIBSF = 0x0B00
FLAG_MIPS_LIB32_NAN2008 = 0x0C00
FLAG_MIPS64_LIBN32_NAN2008 = 0x0D00
FLAG_MIPS64_LIBN64_NAN2008 = 0x0E00
FLAG_RISCV_FLOAT_ABI_SOFT = 0x0F00
FLAG_RISCV_FLOAT_ABI_DOUBLE = 0x1000
FLAG_LARCH_FLOAT_ABI_SOFT = 0x1100
FLAG_LARCH_FLOAT_ABI_DOUBLE = 0x1200

_GENERIC = frozenset({FLAG_ELF, FLAG_ELF_LIBC6})  # sysdeps/generic/dl-cache.h

# e_flags bits that select an ABI
EF_ARM_ABI_FLOAT_SOFT = 0x200
EF_ARM_ABI_FLOAT_HARD = 0x400
EF_MIPS_ABI2 = 0x20  # n32
EF_MIPS_NAN2008 = 0x400
EF_RISCV_FLOAT_ABI = 0x6
EF_LARCH_ABI_MODIFIER = 0x7

# x86-64 micro-architecture levels, best first
X86_64_LEVELS = (("x86-64-v4", (2, 33)), ("x86-64-v3", (2, 33)), ("x86-64-v2", (2, 33)))


class Machine(NamedTuple):
    """What glibc's loader is built to assume for one ABI."""

    name: str  # the name linkaudit reports (Debian's architecture name where there is one)
    e_machine: int
    bits: int
    endian: str  # "<" or ">"
    triplets: tuple[str, ...]  # Debian multiarch directories, preferred first
    slibdir: str  # glibc's default without multiarch; $LIB is its last component
    interp: str
    cache_flags: frozenset[int]
    platform: str | None  # AT_PLATFORM of the architecture's baseline CPU (None: the kernel sets none)
    platforms: tuple[str, ...] = ()  # every AT_PLATFORM value glibc knows for it
    legacy_hwcaps: tuple[str, ...] = ()  # HWCAP_IMPORTANT bit names, lowest bit first
    hwcaps_levels: tuple[tuple[str, tuple[int, int]], ...] = ()  # glibc-hwcaps names best first, with the release
    # their bit numbers in AT_HWCAP, where the kernel's AT_HWCAP is what glibc uses (not x86)
    legacy_hwcap_bits: tuple[int, ...] = ()
    # The ELF ABI selector: (e_flags & flags_mask) == flags_value picks this record.
    flags_mask: int = 0
    flags_value: int = 0

    @property
    def relocations(self) -> RelocClasses:
        """Which relocations this ABI's ``ld.so`` looks up, and in which class (``elf_machine_type_class``).

        They follow ``e_machine`` (and, for ppc64, the ELFv1/ELFv2 ABI, which the
        byte order of glibc's ports decides), not the other ABI bits that split
        records, so they are tabulated once per machine in relocations.py.
        """
        return classes_for(self.e_machine, 0, self.endian == ">")

    @property
    def default_dirs_plain(self) -> tuple[str, ...]:
        """The default directories of a non-multiarch build (``SYSTEM_DIRS``)."""
        usr = "/usr" + self.slibdir
        return (self.slibdir, usr)

    def levels_for(self, glibc: tuple[int, int] | None) -> tuple[str, ...]:
        """The glibc-hwcaps subdirectory names a glibc of this release knows, best first."""
        return tuple(name for name, since in self.hwcaps_levels if glibc is None or glibc >= since)


_X86_PLATFORMS = ("x86_64", "haswell", "xeon_phi")
_S390_LEVELS = (("z17", (2, 42)), ("z16", (2, 36)), ("z15", (2, 33)), ("z14", (2, 33)), ("z13", (2, 33)))
_PPC_PLATFORMS = ("power4", "power5", "power5+", "power6", "power6x", "power7", "power8", "power9", "power10",
                  "ppc970", "ppc-cell-be", "ppc405", "ppc440", "ppc464", "ppc476", "ppce500", "ppce500mc",
                  "ppce5500", "ppce6500", "pa6t")
_S390_PLATFORMS = ("g5", "z900", "z990", "z9-109", "z10", "z196", "zEC12", "z13", "z14", "z15", "z16", "z17")
_S390_HWCAPS = ("zarch", "ldisp", "eimm", "dfp", "vx", "vxe", "vxe2")
_S390_BITS = (1, 4, 5, 6, 11, 13, 15)
_ARM_PLATFORMS = ("v5l", "v6l", "v7l", "v8l", "v5b", "v6b", "v7b", "v8b")
_MIPS_PLATFORMS = ("mips", "loongson2e", "loongson2f", "loongson3", "octeon", "octeon2", "octeon3", "gs464",
                   "gs464e", "gs264e")
_SPARC_HWCAPS = ("ultra3", "blkinit", "n2")

MACHINES: tuple[Machine, ...] = (
    Machine("x86_64", 62, 64, "<", ("x86_64-linux-gnu",), "/lib64", "/lib64/ld-linux-x86-64.so.2",
            frozenset({FLAG_X8664_LIB64 | FLAG_ELF_LIBC6}), "x86_64", _X86_PLATFORMS, ("x86_64", "avx512_1"),
            X86_64_LEVELS),
    Machine("x32", 62, 32, "<", ("x86_64-linux-gnux32",), "/libx32", "/libx32/ld-linux-x32.so.2",
            frozenset({FLAG_X8664_LIBX32 | FLAG_ELF_LIBC6}), "x86_64", _X86_PLATFORMS, ("x86_64", "avx512_1"),
            X86_64_LEVELS),
    Machine("i386", 3, 32, "<", ("i386-linux-gnu",), "/lib", "/lib/ld-linux.so.2", _GENERIC, "i686",
            ("i386", "i486", "i586", "i686"), ("sse2",)),
    Machine("arm64", 183, 64, "<", ("aarch64-linux-gnu",), "/lib64", "/lib/ld-linux-aarch64.so.1",
            frozenset({FLAG_AARCH64_LIB64 | FLAG_ELF_LIBC6}), "aarch64", ("aarch64",), ("atomics",),
            legacy_hwcap_bits=(8,)),
    Machine("arm64be", 183, 64, ">", ("aarch64_be-linux-gnu",), "/lib64", "/lib/ld-linux-aarch64_be.so.1",
            frozenset({FLAG_AARCH64_LIB64 | FLAG_ELF_LIBC6}), "aarch64_be", ("aarch64_be",), ("atomics",)),
    Machine("armhf", 40, 32, "<", ("arm-linux-gnueabihf",), "/lib", "/lib/ld-linux-armhf.so.3",
            frozenset({FLAG_ARM_LIBHF | FLAG_ELF_LIBC6, FLAG_ELF_LIBC6}), "v7l", _ARM_PLATFORMS, ("vfp", "neon"),
            legacy_hwcap_bits=(6, 12), flags_mask=EF_ARM_ABI_FLOAT_HARD, flags_value=EF_ARM_ABI_FLOAT_HARD),
    Machine("armel", 40, 32, "<", ("arm-linux-gnueabi",), "/lib", "/lib/ld-linux.so.3",
            frozenset({FLAG_ARM_LIBSF | FLAG_ELF_LIBC6, FLAG_ELF_LIBC6}), "v5l", _ARM_PLATFORMS, ("vfp", "neon"),
            legacy_hwcap_bits=(6, 12)),
    Machine("ppc64el", 21, 64, "<", ("powerpc64le-linux-gnu",), "/lib64", "/lib64/ld64.so.2",
            frozenset({FLAG_POWERPC_LIB64 | FLAG_ELF_LIBC6}), "power8", _PPC_PLATFORMS, ("dfp", "altivec"),
            (("power10", (2, 33)), ("power9", (2, 33))), legacy_hwcap_bits=(10, 28)),
    Machine("ppc64", 21, 64, ">", ("powerpc64-linux-gnu",), "/lib64", "/lib64/ld64.so.1",
            frozenset({FLAG_POWERPC_LIB64 | FLAG_ELF_LIBC6}), "power4", _PPC_PLATFORMS, ("dfp", "altivec"),
            legacy_hwcap_bits=(10, 28)),
    Machine("powerpc", 20, 32, ">", ("powerpc-linux-gnu",), "/lib", "/lib/ld.so.1", _GENERIC, "ppc970",
            _PPC_PLATFORMS, ("dfp", "altivec"), legacy_hwcap_bits=(10, 28)),
    Machine("s390x", 22, 64, ">", ("s390x-linux-gnu",), "/lib64", "/lib/ld64.so.1",
            frozenset({FLAG_S390_LIB64 | FLAG_ELF_LIBC6}), "z900", _S390_PLATFORMS, _S390_HWCAPS, _S390_LEVELS,
            legacy_hwcap_bits=_S390_BITS),
    Machine("s390", 22, 32, ">", ("s390-linux-gnu",), "/lib", "/lib/ld.so.1", _GENERIC, "g5", _S390_PLATFORMS,
            _S390_HWCAPS, legacy_hwcap_bits=_S390_BITS),
    # MIPS: o32 (generic flags, or NaN2008), n32 (EF_MIPS_ABI2 in a 32-bit object), n64.
    Machine("mips64el", 8, 64, "<", ("mips64el-linux-gnuabi64",), "/lib64", "/lib64/ld.so.1",
            frozenset({FLAG_MIPS64_LIBN64 | FLAG_ELF_LIBC6}), None, _MIPS_PLATFORMS,
            flags_mask=EF_MIPS_NAN2008, flags_value=0),
    Machine("mips64", 8, 64, ">", ("mips64-linux-gnuabi64",), "/lib64", "/lib64/ld.so.1",
            frozenset({FLAG_MIPS64_LIBN64 | FLAG_ELF_LIBC6}), None, _MIPS_PLATFORMS,
            flags_mask=EF_MIPS_NAN2008, flags_value=0),
    Machine("mipsr6el", 8, 64, "<", ("mipsisa64r6el-linux-gnuabi64",), "/lib64", "/lib64/ld-linux-mipsn8.so.1",
            frozenset({FLAG_MIPS64_LIBN64_NAN2008 | FLAG_ELF_LIBC6}), None, _MIPS_PLATFORMS,
            flags_mask=EF_MIPS_NAN2008, flags_value=EF_MIPS_NAN2008),
    Machine("mipsn32el", 8, 32, "<", ("mips64el-linux-gnuabin32",), "/lib32", "/lib32/ld.so.1",
            frozenset({FLAG_MIPS64_LIBN32 | FLAG_ELF_LIBC6}), None, _MIPS_PLATFORMS,
            flags_mask=EF_MIPS_ABI2 | EF_MIPS_NAN2008, flags_value=EF_MIPS_ABI2),
    Machine("mipsn32", 8, 32, ">", ("mips64-linux-gnuabin32",), "/lib32", "/lib32/ld.so.1",
            frozenset({FLAG_MIPS64_LIBN32 | FLAG_ELF_LIBC6}), None, _MIPS_PLATFORMS,
            flags_mask=EF_MIPS_ABI2 | EF_MIPS_NAN2008, flags_value=EF_MIPS_ABI2),
    Machine("mipsel", 8, 32, "<", ("mipsel-linux-gnu",), "/lib", "/lib/ld.so.1", _GENERIC, None, _MIPS_PLATFORMS,
            flags_mask=EF_MIPS_ABI2 | EF_MIPS_NAN2008, flags_value=0),
    Machine("mips", 8, 32, ">", ("mips-linux-gnu",), "/lib", "/lib/ld.so.1", _GENERIC, None, _MIPS_PLATFORMS,
            flags_mask=EF_MIPS_ABI2 | EF_MIPS_NAN2008, flags_value=0),
    Machine("mipsr6o32el", 8, 32, "<", ("mipsisa32r6el-linux-gnu",), "/lib", "/lib/ld-linux-mipsn8.so.1",
            frozenset({FLAG_MIPS_LIB32_NAN2008 | FLAG_ELF_LIBC6}), None, _MIPS_PLATFORMS,
            flags_mask=EF_MIPS_ABI2 | EF_MIPS_NAN2008, flags_value=EF_MIPS_NAN2008),
    Machine("riscv64", 243, 64, "<", ("riscv64-linux-gnu",), "/lib64/lp64d", "/lib/ld-linux-riscv64-lp64d.so.1",
            frozenset({FLAG_RISCV_FLOAT_ABI_DOUBLE | FLAG_ELF_LIBC6}), None, (),
            flags_mask=EF_RISCV_FLOAT_ABI, flags_value=0x4),
    Machine("riscv64sf", 243, 64, "<", (), "/lib64/lp64", "/lib/ld-linux-riscv64-lp64.so.1",
            frozenset({FLAG_RISCV_FLOAT_ABI_SOFT | FLAG_ELF_LIBC6}), None, (),
            flags_mask=EF_RISCV_FLOAT_ABI, flags_value=0x0),
    Machine("loong64", 258, 64, "<", ("loongarch64-linux-gnu",), "/lib64", "/lib64/ld-linux-loongarch-lp64d.so.1",
            frozenset({FLAG_LARCH_FLOAT_ABI_DOUBLE | FLAG_ELF_LIBC6}), "loongarch", ("loongarch",),
            flags_mask=EF_LARCH_ABI_MODIFIER, flags_value=0x3),
    Machine("sparc64", 43, 64, ">", ("sparc64-linux-gnu",), "/lib64", "/lib64/ld-linux.so.2",
            frozenset({FLAG_SPARC_LIB64 | FLAG_ELF_LIBC6}), "sparc64", ("sparc64", "sun4u", "sun4v"), _SPARC_HWCAPS),
    Machine("sparc", 18, 32, ">", ("sparc-linux-gnu",), "/lib", "/lib/ld-linux.so.2", _GENERIC, "sparc",
            ("sparc", "sun4u", "sun4v"), ("v9",) + _SPARC_HWCAPS),
    Machine("alpha", 0x9026, 64, "<", ("alpha-linux-gnu",), "/lib", "/lib/ld-linux.so.2", _GENERIC, "ev67",
            ("ev4", "ev5", "ev56", "ev6", "ev67")),
    Machine("m68k", 4, 32, ">", ("m68k-linux-gnu",), "/lib", "/lib/ld.so.1", _GENERIC, None),
    Machine("ia64", 50, 64, "<", ("ia64-linux-gnu",), "/lib", "/lib/ld-linux-ia64.so.2", _GENERIC, None),
    Machine("hppa", 15, 32, ">", ("hppa-linux-gnu",), "/lib", "/lib/ld.so.1", _GENERIC, None),
    Machine("sh4", 42, 32, "<", ("sh4-linux-gnu",), "/lib", "/lib/ld-linux.so.2", _GENERIC, None),
    Machine("csky", 252, 32, "<", ("csky-linux-gnuabiv2",), "/lib", "/lib/ld-linux-cskyv2-hf.so.1", _GENERIC, None),
    Machine("arc", 195, 32, "<", ("arc-linux-gnu",), "/lib", "/lib/ld-linux-arc.so.2", _GENERIC, None),
    Machine("or1k", 92, 32, ">", ("or1k-linux-gnu",), "/lib", "/lib/ld-linux-or1k.so.1", _GENERIC, None),
    Machine("microblaze", 189, 32, ">", ("microblaze-linux-gnu",), "/lib", "/lib/ld.so.1", _GENERIC, None),
)

_BY_KEY: dict[tuple[int, int, str], tuple[Machine, ...]] = {}
for _m in MACHINES:
    _BY_KEY[(_m.e_machine, _m.bits, _m.endian)] = _BY_KEY.get((_m.e_machine, _m.bits, _m.endian), ()) + (_m,)


@functools.lru_cache(maxsize=64)  # asked for every directory probed: a handful of distinct keys per run
def machine_for(e_machine: int, bits: int, endian: str, e_flags: int = 0) -> Machine | None:
    """The record of an object's ABI; None for an ELF machine glibc has no port for.

    Records that share class, byte order and machine are told apart by their
    ``e_flags`` ABI bits; a record without a selector (``flags_mask == 0``)
    is the fallback (armel for an ARM object that declares no float ABI).
    """
    candidates = _BY_KEY.get((e_machine, bits, endian), ())
    fallback = None
    for m in candidates:
        if not m.flags_mask:
            fallback = fallback or m
        elif e_flags & m.flags_mask == m.flags_value:
            return m
    return fallback or (candidates[-1] if candidates else None)


def by_name(name: str) -> Machine | None:
    return next((m for m in MACHINES if m.name == name), None)


def all_platforms() -> tuple[str, ...]:
    """Every platform name of every record (for naming the valid ones in an error)."""
    seen: dict[str, None] = {}
    for m in MACHINES:
        for p in ((m.platform,) if m.platform else ()) + m.platforms:
            seen[p] = None
    return tuple(seen)


def all_legacy_hwcaps() -> tuple[str, ...]:
    return tuple(dict.fromkeys(h for m in MACHINES for h in m.legacy_hwcaps))


def all_levels() -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for m in MACHINES for name, _ in m.hwcaps_levels))
