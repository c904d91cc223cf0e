"""Relocation classes per architecture: which dynamic relocations make ``ld.so`` look a symbol up, and how.

glibc's ``elf_machine_rel[a]`` (``sysdeps/<arch>/dl-machine.h``) applies a few
relocation types without calling ``RESOLVE_MAP`` (NONE, RELATIVE and a few
more, tested before the lookup); every other type with a non-local symbol is
looked up, in the class ``elf_machine_type_class`` gives it:

* ``ELF_RTYPE_CLASS_PLT``: an undefined symbol (one with a non-zero value,
  the canonical PLT address of a non-PIC executable) must not satisfy it;
  jump slots, and on most ports the TLS relocations;
* ``ELF_RTYPE_CLASS_COPY``: the main executable is skipped (a copy relocation
  copies the definition *from* a library into the executable).

MIPS is different in kind: only jump slots, copies and TLS relocations look
anything up (``R_MIPS_REL32`` and ``R_MIPS_GLOB_DAT`` read the GOT); its
imports are the global GOT entries, see ``binding.mips_got_references``.
PowerPC64 ELFv1 puts every relocation in the PLT class.

The table below is keyed by ``e_machine`` and taken from glibc's current
sources (plus ia64 before 2.39 and nios2 before 2.41, which removed them).
"""

from __future__ import annotations

from typing import NamedTuple

CLASS_PLT = 1
CLASS_COPY = 2


class RelocClasses(NamedTuple):
    """One architecture's ``elf_machine_type_class`` and the types applied without a lookup."""

    name: str
    no_lookup: frozenset[int]  # tested before RESOLVE_MAP in elf_machine_rel[a]
    plt: frozenset[int]
    copy: frozenset[int]
    lookup_only: frozenset[int] | None = None  # MIPS: only these types look anything up
    all_plt: bool = False  # PowerPC64 ELFv1: every type is ELF_RTYPE_CLASS_PLT

    def type_class(self, rtype: int) -> int | None:
        """The class of a relocation type, or None when glibc applies it without a lookup."""
        if rtype in self.no_lookup or (self.lookup_only is not None and rtype not in self.lookup_only):
            return None
        plt = self.all_plt or rtype in self.plt
        return (CLASS_PLT if plt else 0) | (CLASS_COPY if rtype in self.copy else 0)


def _f(*types: int) -> frozenset[int]:
    return frozenset(types)


EM_X86_64, EM_386, EM_AARCH64, EM_ARM, EM_RISCV = 62, 3, 183, 40, 243
EM_S390, EM_PPC, EM_PPC64, EM_SPARC, EM_SPARC32PLUS, EM_SPARCV9 = 22, 20, 21, 2, 18, 43
EM_MIPS, EM_LOONGARCH, EM_ALPHA, EM_68K, EM_CSKY, EM_PARISC, EM_SH = 8, 258, 0x9026, 4, 252, 15, 42
EM_IA_64, EM_ARC_COMPACT, EM_ARCV2, EM_MICROBLAZE, EM_NIOS2, EM_OPENRISC = 50, 93, 195, 189, 113, 92

_SPARC = RelocClasses("sparc", _f(0, 22, 86, 87), _f(21, *range(56, 80)), _f(19))  # NONE, RELATIVE, SIZE32/64
_PPC64_V2 = RelocClasses(
    "ppc64 (ELFv2)", _f(0, 22),
    _f(21, 2, *range(67, 107), *range(112, 116)),  # JMP_SLOT, ADDR24, the TLS range (IS_PPC64_TLS_RELOC)
    _f(19))
_MIPS_LOOKUPS = _f(127, 126, 38, 39, 40, 41, 47, 48)  # JUMP_SLOT, COPY, TLS_DTPMOD/DTPREL/TPREL 32 and 64
_ARC = RelocClasses("arc", _f(0, 0x38), _f(0x37, 0x42, 0x43, 0x44), _f(0x35))

RELOC_CLASSES: dict[int, RelocClasses] = {
    EM_X86_64: RelocClasses("x86_64", _f(0, 8, 38), _f(7, 16, 17, 18, 36), _f(5)),
    EM_386: RelocClasses("i386", _f(0, 8), _f(7, 35, 36, 37, 14, 41), _f(5)),
    EM_AARCH64: RelocClasses("aarch64", _f(0, 1027), _f(1026, 1028, 1029, 1030, 1031), _f(1024)),
    EM_ARM: RelocClasses("arm", _f(0, 23), _f(22, 17, 18, 19, 13), _f(20)),
    # riscv and loongarch call RESOLVE_MAP before looking at the type: nothing is exempt.
    EM_RISCV: RelocClasses("riscv", _f(), _f(5, 6, 7, 8, 9, 10, 11), _f(4)),
    EM_LOONGARCH: RelocClasses("loongarch", _f(), _f(5), _f(4)),
    EM_S390: RelocClasses("s390", _f(0, 12), _f(11, 54, 55, 56), _f(9)),
    EM_PPC64: _PPC64_V2,
    EM_PPC: RelocClasses("ppc", _f(0, 22), _f(21, 10, *range(68, 79), 2), _f(19)),
    EM_SPARC: _SPARC,
    EM_SPARC32PLUS: _SPARC,
    EM_SPARCV9: _SPARC,
    EM_MIPS: RelocClasses("mips", _f(), _f(127), _f(126), lookup_only=_MIPS_LOOKUPS),
    EM_ALPHA: RelocClasses("alpha", _f(0, 27), _f(26, 31, 33, 38), _f()),
    EM_68K: RelocClasses("m68k", _f(22), _f(21, 40, 41, 42), _f(19)),
    EM_CSKY: RelocClasses("csky", _f(9), _f(12, 56, 57, 58), _f(10)),
    EM_PARISC: RelocClasses("hppa", _f(), _f(129, 130, 242, 244, 153), _f(128)),
    EM_SH: RelocClasses("sh", _f(0, 165), _f(164, 149, 150, 151), _f(162)),
    EM_ARC_COMPACT: _ARC,
    EM_ARCV2: _ARC,
    EM_MICROBLAZE: RelocClasses("microblaze", _f(3, 16), _f(17, 26, 25, 29), _f(21)),
    EM_OPENRISC: RelocClasses("or1k", _f(0), _f(20, 34, 33, 32), _f(18)),
    EM_IA_64: RelocClasses("ia64", _f(0, 0x6C, 0x6D, 0x6E, 0x6F), _f(0x81, 0xA7, 0xB7, 0x97), _f()),
    EM_NIOS2: RelocClasses("nios2", _f(0, 39), _f(38, 33, 34, 35), _f(36)),
}

# ELFv1 (big-endian ppc64): "always set ELF_RTYPE_CLASS_PLT" (sysdeps/powerpc/powerpc64/dl-machine.h).
PPC64_ELFV1 = RelocClasses("ppc64 (ELFv1)", _f(0, 22), _f(), _f(19), all_plt=True)
EF_PPC64_ABI = 3

# An architecture glibc does not support: every type with a symbol is looked up, in no class.
UNKNOWN = RelocClasses("unknown", _f(0), _f(), _f())


def classes_for(e_machine: int, e_flags: int = 0, big_endian: bool = False) -> RelocClasses:
    """The relocation classes ``ld.so`` applies to an object of this machine (and, for ppc64, ABI)."""
    if e_machine == EM_PPC64:
        abi = e_flags & EF_PPC64_ABI
        if abi == 1 or (abi == 0 and big_endian):
            return PPC64_ELFV1
    return RELOC_CLASSES.get(e_machine, UNKNOWN)
