"""The committed per-architecture fixtures (tests/data/<arch>/, made by scripts/make_arch_fixtures.sh).

They run everywhere, with no cross compiler and no qemu.  The expected verdicts
below were not derived from linkaudit: they were read from each architecture's
own ``ld.so`` run under qemu-user as ``ldd -u -r`` would run it
(``tests/foreign/test_qemu_oracle.py`` repeats that comparison wherever qemu and
the Debian packages are available).  Relocation facts are checked against
pyelftools' section-based reading of the same files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from linkaudit.audit import AuditOptions, audit
import linkaudit.binding as binding
from linkaudit import accel, bulk
from linkaudit.binding import CLASS_COPY, CLASS_PLT, SymbolName, bind, hash_lookup, lookup_in, references, self_bound, type_class
from linkaudit.elf import ElfObject, decode_relocations, gnu_hash
from linkaudit.loader import LoaderEnv
from linkaudit.relocations import RELOC_CLASSES, classes_for
from linkaudit.report import Status

from _compiled import speedups  # tests/unit/_compiled.py: the compiled twin, built in place or here (or None)

DATA = Path(__file__).resolve().parent.parent / "data"
ARCHES = ("aarch64", "armhf", "armel", "i386", "ppc64el", "s390x", "mipsel", "mips64el")
MACHINES = {"aarch64": "aarch64", "armhf": "arm", "armel": "arm", "i386": "i386", "ppc64el": "ppc64",
            "s390x": "s390x", "mipsel": "mips", "mips64el": "mips"}

# What each architecture's ld.so says (qemu-<arch>-static, LD_TRACE_LOADED_OBJECTS=1 LD_BIND_NOW=yes
# LD_DEBUG=unused): the DT_NEEDED entries listed as unused, the others being used.  Identical on
# all eight architectures, which is the point: they get there by different relocations.
EXPECTED_UNUSED = {"libmain.so": {"libfb.so"}, "libuser.so": {"libmain.so"}, "main_copy": {"libfb.so"}}


def statuses(path: Path) -> dict[str, Status]:
    report = audit([str(path)], AuditOptions(env=LoaderEnv(python_package_rule=False), jobs=1))
    assert not report.errors, report.errors
    (obj,) = report.objects
    return {n.name: n.status for n in obj.needed}


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("name", sorted(EXPECTED_UNUSED))
def test_statuses_match_the_architectures_own_loader(arch, name):
    got = statuses(DATA / arch / name)
    assert {n for n, s in got.items() if s is Status.UNUSED} == EXPECTED_UNUSED[name]
    assert all(s in (Status.USED, Status.UNUSED) for s in got.values()), got


@pytest.mark.parametrize("arch", ARCHES)
def test_machine_is_named(arch):
    assert ElfObject(DATA / arch / "libfa.so").machine == MACHINES[arch]


def _pyelftools_relocs(path: Path) -> list[tuple[str, int, int]]:
    """(symbol name, r_info_sym, r_info_type) of every dynamic relocation, from the section headers."""
    out = []
    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        for sec in elf.iter_sections():
            if sec.header["sh_type"] not in ("SHT_REL", "SHT_RELA") or not sec.name.startswith(".rel"):
                continue
            symtab = elf.get_section(sec.header["sh_link"])
            for r in sec.iter_relocations():
                if r["r_info_sym"]:
                    out.append((symtab.get_symbol(r["r_info_sym"]).name, r["r_info_sym"], r["r_info_type"]))
    return out


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("name", ["libmain.so", "libuser.so", "main_copy"])
def test_relocation_symbols_agree_with_pyelftools(arch, name):
    """mips64el packs r_info as r_sym, r_ssym, r_type3, r_type2, r_type: the symbol must still be right."""
    path = DATA / arch / name
    obj = ElfObject(path)
    want = _pyelftools_relocs(path)
    got = obj.relocations()
    assert {s for s, _ in got} == {s for _, s, _ in want}
    assert {obj.symbol(s).name.decode() for s, _ in got} == {n for n, _, _ in want}


def test_mips64el_relocation_type_is_glibcs_combined_type():
    """R_MIPS_REL32 with R_MIPS_64 as r_type2: ELF64_MIPS_R_TYPE = 3 | 18 << 8."""
    obj = ElfObject(DATA / "mips64el" / "libmain.so")
    ((symidx, rtype),) = obj.relocations()
    assert obj.symbol(symidx).name == b"fa_data"
    assert rtype == 3 | 18 << 8
    assert type_class(obj.e_machine, rtype) is None  # read from the GOT: no lookup


@pytest.mark.parametrize("arch", ["aarch64", "armhf", "armel", "i386", "ppc64el", "s390x", "mipsel"])
def test_copy_relocation_binds_in_the_library_not_the_executable(arch):
    main = ElfObject(DATA / arch / "main_copy")
    fa = ElfObject(DATA / arch / "libfa.so")
    (ref,) = references(main)
    assert (ref.name, ref.klass) == (b"fa_data", CLASS_COPY)
    assert hash_lookup(main, SymbolName(b"fa_data"))  # the executable defines it too
    (res,) = bind([main, fa])
    assert res.scope_index == 1


@pytest.mark.parametrize("arch", ["mipsel", "mips64el"])
def test_mips_imports_go_through_the_global_got(arch):
    """libmain.so has no relocation that looks anything up; fa and fa_data are global GOT entries."""
    main = ElfObject(DATA / arch / "libmain.so")
    classes = classes_for(main.e_machine, main.e_flags, main.endian == ">")
    assert all(classes.type_class(t) is None for _, t in main.relocations())
    got_names = {main.symbol(i).name for i in main.mips_global_got()}
    assert got_names == {b"fa", b"fa_data"}
    refs = {r.name: r for r in references(main)}
    assert refs[b"fa"].klass == CLASS_PLT  # undefined function with a lazy stub: R_MIPS_JUMP_SLOT
    assert refs[b"fa_data"].klass == 0  # R_MIPS_32


@pytest.mark.parametrize("arch", ["mipsel", "mips64el"])
def test_undefined_mips_symbol_with_a_stub_address_is_not_a_definition(arch):
    """elf_machine_sym_no_match: libmain.so's fa is undefined, non-zero (its stub) and not STO_MIPS_PLT."""
    lib = ElfObject(DATA / arch / "libmain.so")
    (idx,) = hash_lookup(lib, SymbolName(b"fa")) or [None]
    sym = lib.symbol(idx)
    assert sym.shndx == 0 and sym.value != 0 and not sym.other & 0x8
    assert lookup_in(lib, SymbolName(b"fa"), None, 0) is None
    user = ElfObject(DATA / arch / "libuser.so")
    fa = ElfObject(DATA / arch / "libfa.so")
    providers = {r.ref.name: r.scope_index for r in bind([user, lib, fa])}
    assert providers[b"fa"] == 2


def test_every_architecture_has_jump_slot_and_copy_classes():
    """Each glibc port's table names a PLT-class type; all but alpha and ia64 (no copy relocations) a copy type."""
    for machine, table in RELOC_CLASSES.items():
        assert table.plt, table.name
        assert table.copy or table.name in ("alpha", "ia64"), table.name


def test_ppc64_elfv1_puts_every_relocation_in_the_plt_class():
    assert classes_for(21, e_flags=1).type_class(38) == CLASS_PLT  # R_PPC64_ADDR64, ELFv1
    assert classes_for(21, e_flags=0, big_endian=True).type_class(38) == CLASS_PLT
    assert classes_for(21, e_flags=2).type_class(38) == 0  # ELFv2
    assert classes_for(21, e_flags=2).type_class(21) == CLASS_PLT  # R_PPC64_JMP_SLOT
    assert classes_for(21, e_flags=1).type_class(19) == CLASS_PLT | CLASS_COPY


def test_s390x_classes():
    s390 = classes_for(22)
    assert s390.type_class(9) == CLASS_COPY  # R_390_COPY
    assert s390.type_class(11) == CLASS_PLT  # R_390_JMP_SLOT
    assert s390.type_class(10) == 0  # R_390_GLOB_DAT
    assert s390.type_class(12) is None  # R_390_RELATIVE


# -- the fast paths (self-binding shortcut, name index) on every architecture ------------------

def _scopes(arch: str) -> list[list[ElfObject]]:
    o = {n: ElfObject(DATA / arch / n) for n in ("libmain.so", "libuser.so", "libfa.so", "libfb.so", "main_copy")}
    return [[o["libmain.so"], o["libfa.so"], o["libfb.so"]], [o["libuser.so"], o["libmain.so"], o["libfa.so"]],
            [o["main_copy"], o["libfa.so"], o["libfb.so"]], [o["libfa.so"]]]


def _resolutions(scope, shortcut: bool) -> list[tuple]:
    return sorted((r.ref.name, r.ref.klass, r.scope_index, r.sym.index if r.sym else None)
                  for r in bind(scope, shortcut=shortcut))


@pytest.mark.parametrize("arch", ARCHES)
def test_shortcut_index_and_batch_answer_like_the_walk(arch, monkeypatch):
    """Self-binding shortcut on or off, name index forced or not, lookups batched (bulk.py's twin and the
    compiled one) or one by one: the same resolutions."""
    monkeypatch.setattr(accel, "BATCH_LOOKUPS", False)  # the walk, memos and name index are that path's
    monkeypatch.setattr(binding, "_LIBRARIES", type(binding._LIBRARIES)())
    walked = [_resolutions(s, shortcut=False) for s in _scopes(arch)]
    assert walked == [_resolutions(s, shortcut=True) for s in _scopes(arch)]
    for impl in (bulk, speedups) if speedups is not None else (bulk,):
        with monkeypatch.context() as m:
            m.setattr(accel, "BATCH_LOOKUPS", True)
            m.setattr(accel, "lookup_batch", impl.lookup_batch)
            m.setattr(accel, "make_references", impl.make_references)
            m.setattr(binding, "_LIBRARIES", type(binding._LIBRARIES)())
            assert walked == [_resolutions(s, shortcut=True) for s in _scopes(arch)], impl
            assert walked == [_resolutions(s, shortcut=False) for s in _scopes(arch)], impl
    monkeypatch.setattr(binding, "INDEX_AFTER_LOOKUPS", 0)
    monkeypatch.setattr(binding, "INDEX_LOOKUPS_PER_SYMBOL", 0)
    monkeypatch.setattr(binding, "_LIBRARIES", type(binding._LIBRARIES)())
    built = []
    original = binding._build_index
    monkeypatch.setattr(binding, "_build_index", lambda obj, lib, table: built.append(1) or original(obj, lib, table))
    assert walked == [_resolutions(s, shortcut=True) for s in _scopes(arch)]
    assert built  # the index really was used


@pytest.mark.parametrize("arch", ["mipsel", "mips64el"])
def test_mips_xhash_names_each_symbol_through_its_translation_table(arch):
    """Every hashed name, looked up by walk and by index, reaches the symbol of that name (not chain position k)."""
    for path in sorted((DATA / arch).iterdir()):
        obj = ElfObject(path)
        table = obj.hash_table
        assert table is not None and table.xlat is not None, path  # DT_MIPS_XHASH, not DT_GNU_HASH
        walked = table.walk(1 << 16)
        assert walked, path
        for idx, _bucket, _word in walked:
            name = obj.symbol_name(idx)
            assert idx in table.candidates(gnu_hash(name)), (path, name)
        assert self_bound(obj, {i for i, _, _ in walked}) == set()  # MIPS: always looked up one by one


def _rela64(sym_word: bytes, type_word: bytes) -> bytes:
    return bytes(8) + sym_word + type_word + bytes(8)  # r_offset, r_info (as two file-order words), r_addend


def test_r_info_layouts_of_the_64_bit_machines():
    """decode_relocations: the generic split, MIPS64's byte-wise type (either order) and SPARC V9's type id."""
    x86 = (7 << 32 | 6).to_bytes(8, "little")
    assert decode_relocations(bytes(8) + x86 + bytes(8), 24, 64, "<", 62) == ([7], [6])
    mips_type = bytes([0, 0, 18, 3])  # r_ssym, r_type3, r_type2, r_type: R_MIPS_REL32 | R_MIPS_64 << 8
    assert decode_relocations(_rela64((7).to_bytes(4, "little"), mips_type), 24, 64, "<", 8) == ([7], [3 | 18 << 8])
    assert decode_relocations(_rela64((7).to_bytes(4, "big"), mips_type), 24, 64, ">", 8) == ([7], [3 | 18 << 8])
    sparc = (7 << 32 | 0x123456 << 8 | 21).to_bytes(8, "big")  # R_SPARC_JMP_SLOT with a 24-bit addend above it
    assert decode_relocations(bytes(8) + sparc + bytes(8), 24, 64, ">", 43) == ([7], [21])
