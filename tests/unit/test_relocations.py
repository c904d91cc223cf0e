"""relocations: which relocation types make ld.so look a symbol up, and in which class (numbers from the psABIs)."""

from __future__ import annotations

from linkaudit.relocations import (CLASS_COPY, CLASS_PLT, EM_MIPS, EM_PPC64, EM_X86_64, PPC64_ELFV1, UNKNOWN,
                                   classes_for)

R_X86_64_GLOB_DAT, R_X86_64_JUMP_SLOT, R_X86_64_COPY, R_X86_64_RELATIVE, R_X86_64_64 = 6, 7, 5, 8, 1
R_MIPS_REL32, R_MIPS_COPY, R_MIPS_JUMP_SLOT = 3, 126, 127


def test_x86_64_classes() -> None:
    x86 = classes_for(EM_X86_64)
    assert x86.type_class(R_X86_64_JUMP_SLOT) == CLASS_PLT
    assert x86.type_class(R_X86_64_COPY) == CLASS_COPY
    assert x86.type_class(R_X86_64_GLOB_DAT) == 0  # looked up, in no special class
    assert x86.type_class(R_X86_64_64) == 0
    assert x86.type_class(R_X86_64_RELATIVE) is None  # applied without a lookup


def test_mips_looks_up_only_jump_slots_copies_and_tls() -> None:
    mips = classes_for(EM_MIPS)
    assert mips.type_class(R_MIPS_REL32) is None  # reads the GOT instead
    assert mips.type_class(R_MIPS_JUMP_SLOT) == CLASS_PLT
    assert mips.type_class(R_MIPS_COPY) == CLASS_COPY


def test_ppc64_abi_from_flags_and_byte_order() -> None:
    assert classes_for(EM_PPC64, e_flags=1) is PPC64_ELFV1
    assert classes_for(EM_PPC64, e_flags=0, big_endian=True) is PPC64_ELFV1
    assert classes_for(EM_PPC64, e_flags=2, big_endian=True) is not PPC64_ELFV1
    assert classes_for(EM_PPC64, e_flags=0, big_endian=False) is not PPC64_ELFV1
    # ELFv1 puts every type in the PLT class: R_PPC64_ADDR32 (1), JMP_SLOT (21), COPY (19)
    assert PPC64_ELFV1.type_class(1) == CLASS_PLT
    assert PPC64_ELFV1.type_class(21) == CLASS_PLT
    assert PPC64_ELFV1.type_class(19) == CLASS_PLT | CLASS_COPY


def test_an_unknown_machine_looks_every_symbol_up() -> None:
    other = classes_for(0xBEEF)
    assert other is UNKNOWN
    assert other.type_class(0) is None
    assert other.type_class(7) == 0
