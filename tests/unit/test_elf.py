"""ElfObject on compiled fixtures, checked against pyelftools' section-based view.

The code under test reaches every table through PT_DYNAMIC; the expectations
come from the section headers (``.dynsym``, ``.gnu.version_d``...) read by
pyelftools independently, or from how the fixture was built.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from linkaudit.elf import (
    STB_GNU_UNIQUE,
    STT_GNU_IFUNC,
    STT_TLS,
    ElfObject,
    _GnuHash,
    _SysvHash,
    gnu_hash,
    sysv_hash,
)
from linkaudit.errors import ElfReadError

pytestmark = pytest.mark.requires_cc


def dynsyms(path: Path) -> dict[str, tuple[int, int]]:
    """name -> (value, index) of the defined dynamic symbols, from the section headers."""
    with open(path, "rb") as fh:
        sec = ELFFile(fh).get_section_by_name(".dynsym")
        return {s.name: (s["st_value"], i) for i, s in enumerate(sec.iter_symbols())
                if s["st_shndx"] != "SHN_UNDEF" and s.name}


def lookup_index(obj: ElfObject, name: str) -> int | None:
    raw = name.encode()
    table = obj.hash_table
    h = gnu_hash(raw) if isinstance(table, _GnuHash) else sysv_hash(raw)
    for idx in table.candidates(h):
        if obj.symbol(idx).name == raw:
            return idx
    return None


def test_dynamic_tags(build_so, tmp_path):
    used = build_so("libused.so", "used.c", out_dir=tmp_path)
    main = build_so("libmain.so", "consumer_basic.c", out_dir=tmp_path, libs=[used], soname="libmain.so.7",
                    runpath=["$ORIGIN", "/opt/x"])
    obj = ElfObject(main)
    assert obj.needed == ("libused.so", "libc.so.6")
    assert obj.soname == "libmain.so.7"
    assert obj.runpath == "$ORIGIN:/opt/x"
    assert obj.rpath is None
    assert obj.bits in (32, 64)
    old = build_so("libold.so", "consumer_basic.c", out_dir=tmp_path, libs=[used], rpath=["/opt/y"])
    assert (ElfObject(old).rpath, ElfObject(old).runpath) == ("/opt/y", None)


@pytest.mark.parametrize("style", ["gnu", "sysv", "both"])
def test_hash_lookup_matches_dynsym(build_so, tmp_path, style):
    lib = build_so(f"libv_{style}.so", "versioned.c", out_dir=tmp_path, version_script="versioned.map",
                   extra=[f"-Wl,--hash-style={style}"])
    obj = ElfObject(lib)
    assert isinstance(obj.hash_table, _SysvHash if style == "sysv" else _GnuHash)
    syms = dynsyms(lib)
    for name, (value, index) in syms.items():
        if name in ("V1", "V2"):
            continue  # version-name symbols: GNU hash leaves out nothing, but they are absolute
        found = [i for i in obj.hash_table.candidates(
            gnu_hash(name.encode()) if style != "sysv" else sysv_hash(name.encode()))
            if obj.symbol(i).name == name.encode()]
        assert index in found, name
        assert obj.symbol(index).value == value
    assert lookup_index(obj, "no_such_symbol_anywhere") is None


def test_versions(build_so, tmp_path):
    lib = build_so("libversioned.so", "versioned.c", out_dir=tmp_path, version_script="versioned.map")
    consumer = build_so("libc_old.so", "consumer_version_old.c", out_dir=tmp_path, libs=[lib],
                        version_script="consumer.map")
    obj = ElfObject(lib)
    assert set(obj.defined_versions) == {b"V1", b"V2"}
    foos = [i for i in obj.hash_table.candidates(gnu_hash(b"foo")) if obj.symbol(i).name == b"foo"]
    assert len(foos) == 2
    tags = {obj.versions[obj.versyms[i] & 0x7FFF].name: bool(obj.versyms[i] & 0x8000) for i in foos}
    assert tags == {b"V1": True, b"V2": False}  # foo@V1 is hidden (non-default), foo@@V2 the default
    c = ElfObject(consumer)
    reqs = {v.name: v.filename for v in c.versions.values() if v.filename is not None}
    assert reqs[b"V1"] == b"libversioned.so"
    assert all(v.hash == sysv_hash(v.name) for v in c.versions.values())


def test_symbol_kinds(build_so, tmp_path):
    tls = ElfObject(build_so("libtls_provider.so", "tls_provider.c", out_dir=tmp_path))
    assert tls.symbol(lookup_index(tls, "tls_var")).type == STT_TLS
    ifn = ElfObject(build_so("libifunc_provider.so", "ifunc_provider.c", out_dir=tmp_path))
    assert ifn.symbol(lookup_index(ifn, "ifn")).type == STT_GNU_IFUNC
    if shutil.which("c++") is None:
        pytest.skip("no C++ compiler for the STB_GNU_UNIQUE fixture")
    uniq = ElfObject(build_so("libunique_provider.so", "unique_provider.cpp", out_dir=tmp_path))
    idx = lookup_index(uniq, "_ZN6HolderIiE5valueE")
    assert idx is not None
    if uniq.symbol(idx).bind != STB_GNU_UNIQUE:
        pytest.skip("this g++ was built without --enable-gnu-unique-object")


def test_relocations_name_the_references(build_so, tmp_path):
    used = build_so("libused.so", "used.c", out_dir=tmp_path)
    main = ElfObject(build_so("libmain.so", "consumer_basic.c", out_dir=tmp_path, libs=[used]))
    names = {main.symbol(s).name for s, _ in main.relocations()}
    assert b"used_fn" in names
    assert all(s != 0 for s, _ in main.relocations())


def test_section_headers_stripped(build_so, tmp_path):
    """Everything is reached through PT_DYNAMIC, so removing the section headers changes nothing."""
    used = build_so("libused.so", "used.c", out_dir=tmp_path)
    main = build_so("libmain.so", "consumer_basic.c", out_dir=tmp_path, libs=[used], runpath=["$ORIGIN"])
    data = bytearray(main.read_bytes())
    data[0x28:0x30] = b"\0" * 8  # e_shoff
    data[0x3C:0x40] = b"\0" * 4  # e_shnum, e_shstrndx
    stripped = tmp_path / "stripped.so"
    stripped.write_bytes(bytes(data))
    a, b = ElfObject(main), ElfObject(stripped)
    assert (b.needed, b.runpath, b.soname) == (a.needed, a.runpath, a.soname)
    assert lookup_index(b, "consumer_basic") == lookup_index(a, "consumer_basic") is not None
    assert sorted(b.relocations()) == sorted(a.relocations())


def test_static_executable_is_not_dynamic(build_exe, tmp_path):
    try:
        exe = build_exe("static", "int main(void) { return 0; }", out_dir=tmp_path, pie=False, extra=["-static"])
    except Exception as exc:  # noqa: BLE001 - no static libc here
        pytest.skip(f"cannot link statically: {exc}")
    obj = ElfObject(exe)
    assert not obj.is_dynamic
    assert obj.needed == ()


@pytest.mark.parametrize("content", [b"", b"\x7fELF", b"not an elf file at all, just text\n" * 4])
def test_bad_files_raise(tmp_path, content):
    p = tmp_path / "bad.so"
    p.write_bytes(content)
    with pytest.raises(ElfReadError):
        ElfObject(p)


def test_truncated_library_raises(build_so, tmp_path):
    used = build_so("libused.so", "used.c", out_dir=tmp_path)
    cut = tmp_path / "cut.so"
    cut.write_bytes(used.read_bytes()[:200])
    with pytest.raises(ElfReadError):
        ElfObject(cut).needed  # noqa: B018


def test_directory_and_missing_raise(tmp_path):
    with pytest.raises(ElfReadError):
        ElfObject(tmp_path)
    with pytest.raises(ElfReadError):
        ElfObject(tmp_path / "nope.so")



def test_hash_functions_against_the_linker(build_so, tmp_path):
    """The hashes the linker stored (GNU chain words, SysV buckets) are the ones we compute."""
    lib = build_so("libboth.so", "versioned.c", out_dir=tmp_path, version_script="versioned.map",
                   extra=["-Wl,--hash-style=both"])
    readelf = shutil.which("readelf")
    obj = ElfObject(lib)
    assert gnu_hash(b"") == 5381
    assert sysv_hash(b"") == 0
    # Version definition hashes are ELF (SysV) hashes of the version names.
    with open(lib, "rb") as fh:
        verdef = ELFFile(fh).get_section_by_name(".gnu.version_d")
        stored = {aux.name: ver["vd_hash"] for ver, auxes in verdef.iter_versions() for aux in [next(auxes)]}
    assert stored and all(sysv_hash(name.encode()) == h for name, h in stored.items())
    if readelf:
        out = subprocess.run([readelf, "--dyn-syms", "-W", str(lib)], capture_output=True, text=True).stdout
        assert "foo" in out
    assert lookup_index(obj, "bar") is not None
