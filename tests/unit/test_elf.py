"""ElfObject and the record decoders, checked against pyelftools' section-based view.

The code under test reaches every table through PT_DYNAMIC; the expectations
come from the section headers (``.dynsym``, ``.gnu.version_d``...) read by
pyelftools independently, or from how the fixture was built: compiled here,
committed per architecture (tests/data/<arch>/), or assembled byte by byte in
every class and byte order (tests/synthetic_elf.py).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from synthetic_elf import BASE, LAYOUT_IDS, LAYOUTS, build_image

from linkaudit.elf import (
    DT_GNU_HASH,
    DT_HASH,
    STB_GNU_UNIQUE,
    STT_GNU_IFUNC,
    STT_TLS,
    VER_FLG_BASE,
    ElfObject,
    Segment,
    Version,
    _GnuHash,
    _SysvHash,
    decode_header,
    gnu_hash,
    hashed_symbol_count,
    open_hash_table,
    program_headers,
    section_headers,
    symbol_layout,
    sysv_hash,
    u16_array,
    unpack_symbol,
    verdaux_name,
    verdef_records,
    verneed_records,
)
from linkaudit.errors import ElfReadError

needs_cc = pytest.mark.requires_cc
DATA = Path(__file__).resolve().parent.parent / "data"


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


@needs_cc
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


@needs_cc
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


@needs_cc
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


@needs_cc
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


@needs_cc
def test_relocations_name_the_references(build_so, tmp_path):
    used = build_so("libused.so", "used.c", out_dir=tmp_path)
    main = ElfObject(build_so("libmain.so", "consumer_basic.c", out_dir=tmp_path, libs=[used]))
    names = {main.symbol(s).name for s, _ in main.relocations()}
    assert b"used_fn" in names
    assert all(s != 0 for s, _ in main.relocations())


@needs_cc
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


@needs_cc
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


@needs_cc
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



@needs_cc
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


# -- the record decoders, shared by the loader view (ElfObject) and the writer view (rewrite.py) --


class BytesSource:
    """The plainest record source: a synthetic image's one PT_LOAD maps vaddr to vaddr - BASE."""

    path = "image"

    def __init__(self, data: bytes, is64: bool, little: bool) -> None:
        self.data, self.size = data, len(data)
        self.bits, self.endian = (64 if is64 else 32), ("<" if little else ">")

    def read(self, off: int, n: int, what: str = "table") -> bytes:
        if off < 0 or off + n > self.size:
            self.fail(f"{what} outside the image")
        return self.data[off : off + n]

    read_small = read

    def locate(self, vaddr: int, size: int, what: str) -> int:
        self.read(vaddr - BASE, size, what)  # the whole record is there
        return vaddr - BASE

    def fail(self, message: str):
        raise ElfReadError(message)


REQUIRED = [("libpthread.so.0", [("GLIBC_2.2.5", 4)]), ("libc.so.6", [("GLIBC_2.2.5", 3), ("GLIBC_2.34", 0x8002)])]
DEFINED = [("libx.so.1", 1, VER_FLG_BASE), ("X_1", 5, 0), ("X_2", 6, 0)]
SYMS = [("pthread_join", 4), ("puts", 3), ("__libc_start_main", 2), ("x_fn", 5), ("weak_thing", 1)]


def synthetic(is64: bool, little: bool, gnu: bool = False):
    return build_image(is64, little, ["libpthread.so.0", "libc.so.6"], REQUIRED, SYMS, verdef=DEFINED, gnu_hash=gnu)


@pytest.mark.parametrize(("is64", "little"), LAYOUTS, ids=LAYOUT_IDS)
def test_header_and_program_headers_every_layout(is64, little):
    img = synthetic(is64, little)
    src = BytesSource(img.data, is64, little)
    hdr = decode_header(img.data[:64], src.fail)
    assert (hdr.bits, hdr.endian, hdr.type, hdr.phnum) == (src.bits, src.endian, 3, 2)
    assert hdr.machine == {(True, True): 62, (True, False): 21, (False, True): 3, (False, False): 20}[(is64, little)]
    dyn = img.offsets["dynamic"]
    assert program_headers(src, hdr) == [Segment((1, 0, BASE, len(img.data))),
                                         Segment((2, dyn, BASE + dyn, len(img.data) - dyn))]
    assert section_headers(src, hdr) == []  # e_shoff 0: none


@pytest.mark.parametrize("head", [b"", b"\x7fELF", b"MZ" + bytes(62), b"\x7fELF\x03\x01" + bytes(58),
                                  b"\x7fELF\x02\x01" + bytes(30)])
def test_decode_header_refuses(head):
    with pytest.raises(ElfReadError, match="not an ELF file|damaged ELF header|truncated"):
        decode_header(head, BytesSource(b"", True, True).fail)


@pytest.mark.parametrize(("is64", "little"), LAYOUTS, ids=LAYOUT_IDS)
def test_verneed_records_carry_their_offsets(is64, little):
    img = synthetic(is64, little)
    src, at, name = BytesSource(img.data, is64, little), img.offsets["verneed"], img.strings
    records = list(verneed_records(src, BASE + at, 100))
    assert [(r.offset, r.addr, r.version, r.cnt, r.file, r.aux, r.next) for r in records] == [
        (at, BASE + at, 1, 1, name["libpthread.so.0"], 16, 32),
        (at + 32, BASE + at + 32, 1, 2, name["libc.so.6"], 16, 0)]
    assert [list(r.auxes) for r in records] == [
        [(at + 16, sysv_hash(b"GLIBC_2.2.5"), 0, 4, name["GLIBC_2.2.5"], 0)],
        [(at + 48, sysv_hash(b"GLIBC_2.2.5"), 0, 3, name["GLIBC_2.2.5"], 16),
         (at + 64, sysv_hash(b"GLIBC_2.34"), 0, 0x8002, name["GLIBC_2.34"], 0)]]
    aux = records[1].auxes[1]
    assert (aux.offset, aux.hash, aux.flags, aux.other, aux.name, aux.next) == tuple(aux)  # the fields name them
    assert repr(aux).startswith(f"Vernaux(offset={at + 64}, hash=")
    assert len(list(verneed_records(src, BASE + at, 1))) == 1  # the limit bounds the walk


@pytest.mark.parametrize(("is64", "little"), LAYOUTS, ids=LAYOUT_IDS)
def test_verdef_records_carry_their_offsets(is64, little):
    img = synthetic(is64, little)
    src, at = BytesSource(img.data, is64, little), img.offsets["verdef"]
    records = list(verdef_records(src, BASE + at, 100))
    assert [(r.offset, r.version, r.flags, r.ndx, r.cnt, r.hash, r.aux, r.next) for r in records] == [
        (at + 28 * k, 1, flags, ndx, 1, sysv_hash(name.encode()), 20, 28 if k < 2 else 0)
        for k, (name, ndx, flags) in enumerate(DEFINED)]
    assert [verdaux_name(src, r) for r in records] == [img.strings[name] for name, _, _ in DEFINED]


@pytest.mark.parametrize("gnu", [False, True], ids=["sysv", "gnu"])
@pytest.mark.parametrize(("is64", "little"), LAYOUTS, ids=LAYOUT_IDS)
def test_symbols_and_their_count_every_layout(is64, little, gnu):
    img = synthetic(is64, little, gnu)
    src = BytesSource(img.data, is64, little)
    tags = {DT_GNU_HASH if gnu else DT_HASH: BASE + img.offsets["hash"]}
    table = open_hash_table(src, tags, 0)
    assert isinstance(table, _GnuHash if gnu else _SysvHash)
    assert hashed_symbol_count(table, tags, 0) == len(SYMS) + 1
    assert hashed_symbol_count(None, {}, 0) is None
    lay = symbol_layout(src.bits, src.endian, img.offsets["dynsym"])
    got = [unpack_symbol(lay, img.data, lay.offset + i * lay.size) for i in range(1, len(SYMS) + 1)]
    assert got == [(img.strings[name], 0x12, 0, 0, 0) for name, _ in SYMS]
    words = u16_array(img.data[img.offsets["versym"] : img.offsets["versym"] + 2 * (len(SYMS) + 1)], src.endian)
    assert list(words) == [0, *(ndx for _, ndx in SYMS)]


@pytest.mark.parametrize("gnu", [False, True], ids=["sysv", "gnu"])
@pytest.mark.parametrize(("is64", "little"), LAYOUTS, ids=LAYOUT_IDS)
def test_loader_view_reads_the_records(tmp_path, is64, little, gnu):
    path = tmp_path / "lib.so"
    path.write_bytes(synthetic(is64, little, gnu).data)
    obj = ElfObject(path)
    assert obj.needed == ("libpthread.so.0", "libc.so.6")
    assert obj.symbol_count == len(SYMS) + 1
    assert obj.versions == {
        4: Version(b"GLIBC_2.2.5", sysv_hash(b"GLIBC_2.2.5"), False, b"libpthread.so.0"),
        3: Version(b"GLIBC_2.2.5", sysv_hash(b"GLIBC_2.2.5"), False, b"libc.so.6"),
        2: Version(b"GLIBC_2.34", sysv_hash(b"GLIBC_2.34"), True, b"libc.so.6"),
        5: Version(b"X_1", sysv_hash(b"X_1"), False, None),  # the VER_FLG_BASE definition is left out
        6: Version(b"X_2", sysv_hash(b"X_2"), False, None)}
    assert [obj.versyms[i] for i in range(len(SYMS) + 1)] == [0, *(ndx for _, ndx in SYMS)]


def test_loader_view_refuses_records_outside_the_file(tmp_path):
    img = synthetic(True, True)
    bad = bytearray(img.data)
    struct.pack_into("<I", bad, img.offsets["verneed"] + 8, 0x100000)  # vn_aux far past the end
    path = tmp_path / "bad.so"
    path.write_bytes(bytes(bad))
    with pytest.raises(ElfReadError, match=r"bad\.so: Vernaux record points outside the file"):
        ElfObject(path).versions  # noqa: B018


@pytest.mark.parametrize("arch", sorted(p.name for p in DATA.iterdir()))
def test_records_of_foreign_fixtures_match_pyelftools(arch):
    """Per-architecture fixtures (both classes, both byte orders): headers, segments, sections, symbol count."""
    for path in sorted((DATA / arch).iterdir()):
        data = path.read_bytes()
        with open(path, "rb") as fh:
            elf = ELFFile(fh)
            want_hdr = (elf.elfclass, elf.little_endian, elf["e_machine"], elf["e_phnum"])
            want_segs = [(s["p_offset"], s["p_vaddr"], s["p_filesz"]) for s in elf.iter_segments()]
            want_secs = [(elf["e_shoff"] + i * elf["e_shentsize"], s["sh_addr"], s["sh_info"])
                         for i, s in enumerate(elf.iter_sections())]
            nsyms = elf.get_section_by_name(".dynsym").num_symbols()
        src = BytesSource(data, want_hdr[0] == 64, want_hdr[1])
        hdr = decode_header(data[:64], src.fail)
        machine_ids = {"EM_AARCH64": 183, "EM_ARM": 40, "EM_386": 3, "EM_PPC64": 21, "EM_S390": 22, "EM_MIPS": 8}
        assert (hdr.bits, hdr.endian == "<", hdr.machine, hdr.phnum) == (*want_hdr[:2], machine_ids[want_hdr[2]],
                                                                           want_hdr[3])
        assert [(s.offset, s.vaddr, s.filesz) for s in program_headers(src, hdr)] == want_segs
        secs = section_headers(src, hdr)
        assert [(s.offset, s.addr) for s in secs] == [(off, addr) for off, addr, _ in want_secs]
        word = src.endian + "I"
        assert [struct.unpack_from(word, data, s.info_offset)[0] for s in secs] == [info for _, _, info in want_secs]
        assert ElfObject(path).symbol_count == nsyms, path
