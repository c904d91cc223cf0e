"""ELF reading: the only module that reads ELF structures.

The file header and the program headers are unpacked with ``struct`` (not
pyelftools, whose import alone takes longer than a whole ``ldd`` run and whose
segment objects parse every section).  Everything the loader reads at run time (the dynamic array, the dynamic symbol table, the
hash tables, the version tables and the relocations) is reached the way
``ld.so`` reaches it: through ``PT_DYNAMIC`` and the virtual addresses of its
tags, mapped to file offsets through ``PT_LOAD``.  That works on files whose
section headers were stripped, and it lets a symbol lookup touch only one
hash bucket of a 400 MB library instead of walking every symbol: tables are
read lazily from an ``mmap`` with ``struct``, never copied whole.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
from dataclasses import dataclass
from functools import cached_property, lru_cache
from operator import mul
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from linkaudit.errors import ElfReadError

# Dynamic tags (elf.h).
DT_NULL, DT_NEEDED, DT_PLTRELSZ, DT_HASH, DT_STRTAB, DT_SYMTAB = 0, 1, 2, 4, 5, 6
DT_RELA, DT_RELASZ, DT_RELAENT, DT_STRSZ, DT_SYMENT = 7, 8, 9, 10, 11
DT_INIT, DT_SONAME, DT_RPATH = 12, 14, 15
DT_REL, DT_RELSZ, DT_RELENT, DT_PLTREL, DT_JMPREL = 17, 18, 19, 20, 23
DT_INIT_ARRAY, DT_INIT_ARRAYSZ, DT_RUNPATH, DT_FLAGS = 25, 27, 29, 30
DT_PREINIT_ARRAY = 32
DT_GNU_HASH = 0x6FFFFEF5
DT_VERSYM, DT_RELACOUNT, DT_RELCOUNT = 0x6FFFFFF0, 0x6FFFFFF9, 0x6FFFFFFA
DT_FLAGS_1, DT_VERDEF, DT_VERDEFNUM = 0x6FFFFFFB, 0x6FFFFFFC, 0x6FFFFFFD
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF
DT_FILTER, DT_AUXILIARY = 0x7FFFFFFF, 0x7FFFFFFD

DF_1_NODEFLIB = 0x800
VER_FLG_BASE = 0x1

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
ET_REL, ET_EXEC, ET_DYN = 1, 2, 3

STB_LOCAL, STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE = 0, 1, 2, 10
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE = 0, 1, 2, 3, 4
STT_COMMON, STT_TLS, STT_GNU_IFUNC = 5, 6, 10
STV_DEFAULT, STV_INTERNAL, STV_HIDDEN, STV_PROTECTED = 0, 1, 2, 3
SHN_UNDEF, SHN_ABS = 0, 0xFFF1

MACHINE_NAMES = {
    3: "i386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm",
    62: "x86_64",
    183: "aarch64",
    243: "riscv",
    258: "loongarch",
}

_NATIVE = "<" if sys.byteorder == "little" else ">"

# Upper bounds that keep a hostile file from making us loop or allocate for long.
MAX_DYNAMIC_ENTRIES = 1 << 16
MAX_CHAIN = 1 << 20
MAX_VERSION_ENTRIES = 1 << 15
# A library asked more than INDEX_AFTER_LOOKUPS times, and at least INDEX_LOOKUPS_PER_SYMBOL times per
# symbol its hash chains hold, gets a name index built from those chains (see hash_lookup).  Since
# binding.lookup memoizes every library's answers, only distinct questions count, and an index pays
# only when they far outnumber the symbols (measured on a 768-object corpus: lower thresholds built
# ~190 indexes and made the run 5% slower).  Libraries with more symbols are never indexed.
INDEX_AFTER_LOOKUPS = 4096
INDEX_LOOKUPS_PER_SYMBOL = 2
INDEX_MAX_SYMBOLS = 60_000


# 33**k mod 2**32, highest power first: gnu_hash's polynomial evaluated as one C-level dot product.
_HASH_MAX = 1024
_POW33 = [pow(33, k, 1 << 32) for k in range(_HASH_MAX, -1, -1)]


@lru_cache(maxsize=1 << 16)  # the same names (malloc, free, ...) are hashed for every object audited
def gnu_hash(name: bytes) -> int:
    """The DJB hash used by DT_GNU_HASH (``_dl_new_hash``): h = h * 33 + c over the bytes, from 5381.

    Unrolled, that is 5381 * 33**n + sum(c_i * 33**(n-1-i)) mod 2**32, which
    ``map`` computes without a Python-level loop (a third faster on the long
    mangled C++ names that dominate a corpus).
    """
    n = len(name)
    if n > _HASH_MAX:
        h = 5381
        for c in name:
            h = (h * 33 + c) & 0xFFFFFFFF
        return h
    pows = _POW33
    return (5381 * pows[_HASH_MAX - n] + sum(map(mul, name, pows[_HASH_MAX - n + 1:]))) & 0xFFFFFFFF


def sysv_hash(name: bytes) -> int:
    """The classic SysV ELF hash used by DT_HASH (``_dl_elf_hash``)."""
    h = 0
    for c in name:
        h = ((h << 4) + c) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h


class Sym(NamedTuple):
    """One dynamic symbol, as ``check_match`` sees it.

    A NamedTuple, not a frozen dataclass: hundreds of thousands are made per
    directory audit and a frozen dataclass's ``__init__`` is several times slower.
    """

    index: int
    name: bytes
    info: int
    other: int
    shndx: int
    value: int

    @property
    def bind(self) -> int:
        return self.info >> 4

    @property
    def type(self) -> int:
        return self.info & 0xF

    @property
    def visibility(self) -> int:
        return self.other & 0x3


@dataclass(frozen=True)
class Version:
    """An entry of the loader's ``l_versions`` array (``struct r_found_version``)."""

    name: bytes
    hash: int
    hidden: bool
    filename: bytes | None  # the vn_file of a requirement; None for a definition


@dataclass(frozen=True)
class Reloc:
    """A symbolic dynamic relocation: which symbol it needs and its type."""

    sym: int
    type: int


class ElfObject:
    """One ELF file opened read-only and memory-mapped.

    Construction reads the header, the program headers and the dynamic array
    and raises :class:`ElfReadError` if any of them is damaged.  Tables used
    for symbol lookup are decoded lazily, on first use.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise ElfReadError(f"{self.path}: cannot open: {exc.strerror}") from None
        try:
            st = os.fstat(fd)
            if not _is_regular(st.st_mode):
                raise ElfReadError(f"{self.path}: not a regular file")
            self.size = st.st_size
            self.file_id = (st.st_dev, st.st_ino)
            # binding.lookup's answers for this object, kept for the run: the objects of a
            # directory ask their common libraries (libc, libstdc++, ...) the same questions.
            self.lookup_memo: dict[bytes, Sym | None] = {}  # binding.Reference.memo_key -> answer
            if self.size < 16:
                raise ElfReadError(f"{self.path}: not an ELF file (too short)")
            try:
                self._map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError) as exc:
                raise ElfReadError(f"{self.path}: cannot map file: {exc}") from None
        finally:
            os.close(fd)
        if self._map[:4] != b"\x7fELF":
            self.close()
            raise ElfReadError(f"{self.path}: not an ELF file")
        try:
            self._read_headers()
        except ElfReadError:
            self.close()
            raise
        except (struct.error, ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
            self.close()
            raise ElfReadError(f"{self.path}: damaged ELF headers ({exc})") from None

    # -- headers --------------------------------------------------------

    def _read_headers(self) -> None:
        m = self._map
        ei_class, ei_data = m[4], m[5]
        if ei_class not in (1, 2) or ei_data not in (1, 2):
            raise ElfReadError(f"{self.path}: damaged ELF header (class {ei_class}, data {ei_data})")
        self.bits = 64 if ei_class == 2 else 32
        self.endian = "<" if ei_data == 1 else ">"
        self.osabi = m[7]
        # The file header is unpacked with struct as well: importing pyelftools' ELFFile
        # (construct, dwarf, ...) alone costs more than ``ldd`` takes for a whole run.
        ehdr_fmt = self.endian + ("16xHHIQQQIHHHHHH" if self.bits == 64 else "16xHHIIIIIHHHHHH")
        if self.size < struct.calcsize(ehdr_fmt):
            raise ElfReadError(f"{self.path}: truncated (ELF header past end of file)")
        fields = struct.unpack_from(ehdr_fmt, m, 0)
        hdr = dict(zip(("e_type", "e_machine", "e_version", "e_entry", "e_phoff", "e_shoff", "e_flags",
                        "e_ehsize", "e_phentsize", "e_phnum", "e_shentsize", "e_shnum", "e_shstrndx"), fields))
        self.e_type = hdr["e_type"]
        self.e_machine = hdr["e_machine"]
        self.e_flags = hdr["e_flags"]  # ABI bits: ARM float ABI, MIPS n32, RISC-V float ABI (machines.py)
        self.machine = MACHINE_NAMES.get(self.e_machine, f"em_{self.e_machine}")
        self.loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
        self.interp: str | None = None
        dyn_seg: tuple[int, int, int] | None = None
        if hdr["e_phnum"] and hdr["e_phoff"] + hdr["e_phnum"] * hdr["e_phentsize"] > self.size:
            raise ElfReadError(f"{self.path}: truncated (program headers past end of file)")
        # Program headers are unpacked with struct, not elf.iter_segments(): pyelftools
        # builds a DynamicSegment for PT_DYNAMIC, which walks every section and parses
        # the whole .gnu.hash bucket array with construct (~10 ms per big library).
        phdr_fmt = self.endian + ("IIQQQQQQ" if self.bits == 64 else "IIIIIIII")
        phdr_size = struct.calcsize(phdr_fmt)
        phoff, phentsize = hdr["e_phoff"], hdr["e_phentsize"]
        if hdr["e_phnum"] and phentsize < phdr_size:
            raise ElfReadError(f"{self.path}: damaged ELF header (e_phentsize {phentsize})")
        for n in range(hdr["e_phnum"]):
            f = struct.unpack_from(phdr_fmt, m, phoff + n * phentsize)
            if self.bits == 64:
                ptype, p_offset, p_vaddr, p_filesz = f[0], f[2], f[3], f[5]
            else:
                ptype, p_offset, p_vaddr, p_filesz = f[0], f[1], f[2], f[4]
            if ptype == PT_LOAD:
                self.loads.append((p_vaddr, p_offset, p_filesz))
            elif ptype == PT_DYNAMIC:
                dyn_seg = (p_vaddr, p_offset, p_filesz)
            elif ptype == PT_INTERP:
                raw = self._map[p_offset : p_offset + p_filesz]
                self.interp = raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        self.tags: dict[int, int] = {}
        self.needed_offsets: list[int] = []
        self.filters: list[int] = []
        self.dynamic_count = 0
        if dyn_seg is not None:
            self._read_dynamic(dyn_seg)

    def _read_dynamic(self, seg: tuple[int, int, int]) -> None:
        vaddr, offset, filesz = seg
        start = self.vaddr_to_offset(vaddr)
        if start is None:
            start = offset
        fmt = self.endian + ("qQ" if self.bits == 64 else "iI")
        entsize = struct.calcsize(fmt)
        end = min(self.size, start + max(filesz, 0))
        pos, count, terminated = start, 0, False
        while pos + entsize <= end and count < MAX_DYNAMIC_ENTRIES:
            tag, val = struct.unpack_from(fmt, self._map, pos)
            pos += entsize
            count += 1
            if tag == DT_NULL:
                terminated = True
                break
            if tag == DT_NEEDED:
                self.needed_offsets.append(val)
            elif tag in (DT_FILTER, DT_AUXILIARY):
                self.filters.append(val)
            elif tag not in self.tags:
                self.tags[tag] = val
        if not terminated and pos + entsize > self.size:
            raise ElfReadError(f"{self.path}: truncated (dynamic section runs past end of file)")
        self.dynamic_count = count
        strtab = self.tags.get(DT_STRTAB)
        self._strtab_off = self.vaddr_to_offset(strtab) if strtab is not None else None
        strsz = self.tags.get(DT_STRSZ, 0)
        if self._strtab_off is not None:
            self._strtab_end = min(self.size, self._strtab_off + strsz) if strsz else self.size
        if self.needed_offsets or DT_SONAME in self.tags or DT_RPATH in self.tags or DT_RUNPATH in self.tags:
            if self._strtab_off is None:
                raise ElfReadError(f"{self.path}: damaged dynamic section (no usable DT_STRTAB)")

    def vaddr_to_offset(self, vaddr: int) -> int | None:
        for seg_vaddr, seg_off, filesz in self.loads:
            if seg_vaddr <= vaddr < seg_vaddr + filesz:
                off = seg_off + (vaddr - seg_vaddr)
                return off if off < self.size else None
        return None

    def dynstr(self, offset: int) -> bytes:
        """A NUL-terminated string of the dynamic string table."""
        if self._strtab_off is None:
            raise ElfReadError(f"{self.path}: no dynamic string table")
        start = self._strtab_off + offset
        if offset < 0 or start >= self._strtab_end:
            raise ElfReadError(f"{self.path}: string offset {offset} outside the dynamic string table")
        end = self._map.find(b"\0", start, self._strtab_end)
        if end < 0:
            raise ElfReadError(f"{self.path}: unterminated string in the dynamic string table")
        return self._map[start:end]

    def _str(self, offset: int) -> str:
        return self.dynstr(offset).decode("utf-8", "surrogateescape")

    # -- the dynamic array, decoded -------------------------------------

    @property
    def is_dynamic(self) -> bool:
        return self.dynamic_count > 0

    @cached_property
    def needed(self) -> tuple[str, ...]:
        return tuple(self._str(o) for o in self.needed_offsets)

    @cached_property
    def soname(self) -> str | None:
        off = self.tags.get(DT_SONAME)
        return None if off is None else self._str(off)

    @cached_property
    def rpath(self) -> str | None:
        """DT_RPATH, or None when DT_RUNPATH is present (``get-dynamic-info.h`` drops it then)."""
        if DT_RUNPATH in self.tags:
            return None
        off = self.tags.get(DT_RPATH)
        return None if off is None else self._str(off)

    @cached_property
    def runpath(self) -> str | None:
        off = self.tags.get(DT_RUNPATH)
        return None if off is None else self._str(off)

    @property
    def flags_1(self) -> int:
        return self.tags.get(DT_FLAGS_1, 0)

    @property
    def has_initializers(self) -> bool:
        """Whether loading the object runs code of its own (DT_INIT / DT_INIT_ARRAY)."""
        return DT_INIT in self.tags or self.tags.get(DT_INIT_ARRAYSZ, 0) > 0

    # -- symbols ----------------------------------------------------------

    @cached_property
    def _symtab(self) -> tuple[int, int, Callable[[mmap.mmap, int], tuple[int, ...]]] | None:
        addr = self.tags.get(DT_SYMTAB)
        if addr is None:
            return None
        off = self.vaddr_to_offset(addr)
        if off is None:
            raise ElfReadError(f"{self.path}: DT_SYMTAB points outside the file")
        if self.bits == 64:
            return off, 24, struct.Struct(self.endian + "IBBHQ").unpack_from
        return off, 16, struct.Struct(self.endian + "IIIBBH").unpack_from

    def symbol(self, index: int) -> Sym:
        sym = self._syms.get(index)
        if sym is None:
            sym = self._syms[index] = self.read_symbol(index)
        return sym

    @cached_property
    def _syms(self) -> dict[int, Sym]:
        return {}

    def symbol_name(self, index: int) -> bytes:
        """Only the name of a dynamic symbol (st_name is the first field in both classes)."""
        sym = self._syms.get(index)
        if sym is not None:
            return sym.name
        tab = self._symtab
        if tab is None:
            raise ElfReadError(f"{self.path}: no dynamic symbol table")
        pos = tab[0] + index * tab[1]
        if index < 0 or pos + tab[1] > self.size:
            raise ElfReadError(f"{self.path}: symbol index {index} outside the file")
        return self.dynstr(struct.unpack_from(self.endian + "I", self._map, pos)[0])

    def hash_lookup(self, name: bytes, ghash: int, shash: list[int]) -> list[int]:
        """The symbols named ``name`` that the loader's hash-table walk reaches, in walk order.

        ``check_match`` rejects every other candidate of the walk (by name, or
        earlier for reasons that make no difference to the outcome), so only
        these matter.  An object asked many times relative to its size gets an
        index built from its own hash chains (never one of more than
        ``INDEX_MAX_SYMBOLS`` symbols): each entry keeps the bucket and chain
        word it was reached by, so a lookup through the index applies the bloom
        filter, bucket and chain-hash tests exactly as the walk does.
        """
        table = self.hash_table
        if table is None or table.nbuckets == 0:
            return []
        if isinstance(table, _SysvHash):
            if not shash:
                shash.append(sysv_hash(name))
            return [i for i in table.candidates(shash[0]) if self.symbol_name(i) == name]
        index = self._name_index
        if index is None:
            self._lookups += 1
            if self._lookups > INDEX_AFTER_LOOKUPS and self._lookups >= INDEX_LOOKUPS_PER_SYMBOL * table.hashed_count:
                index = self._build_index(table)
        if index:
            entries = index.get(name)
            if not entries or not table.bloom_ok(ghash):
                return []
            bucket = ghash % table.nbuckets
            return [i for i, b, word in entries if b == bucket and ((word ^ ghash) >> 1) == 0]
        found = table.candidates(ghash)
        return [i for i in found if self.symbol(i).name == name] if found else found

    _lookups = 0  # lookups so far; decides when an index pays off
    _name_index: dict[bytes, list[tuple[int, int, int]]] | None = None  # None: not built yet; {}: never

    def _build_index(self, table: _GnuHash) -> dict[bytes, list[tuple[int, int, int]]]:
        """name -> [(symbol index, bucket, chain word)]; {} (walk instead, for good) when too large or damaged."""
        index: dict[bytes, list[tuple[int, int, int]]] = {}
        try:
            walked = table.walk(INDEX_MAX_SYMBOLS)
            if walked is None:  # too large to index: keep walking its chains, one bucket per lookup
                self._name_index = {}
                return {}
            for idx, bucket, word in walked:
                index.setdefault(self.symbol_name(idx), []).append((idx, bucket, word))
        except ElfReadError:
            self._name_index = {}
            return {}
        self._name_index = index
        return index

    def read_symbol(self, index: int) -> Sym:
        """Decode one dynamic symbol without caching it (``symbol`` caches)."""
        tab = self._symtab
        if tab is None:
            raise ElfReadError(f"{self.path}: no dynamic symbol table")
        off, size, unpack = tab
        pos = off + index * size
        if index < 0 or pos + size > self.size:
            raise ElfReadError(f"{self.path}: symbol index {index} outside the file")
        if self.bits == 64:
            name, info, other, shndx, value = unpack(self._map, pos)
        else:
            name, value, _size, info, other, shndx = unpack(self._map, pos)
        return Sym(index, self.dynstr(name), info, other, shndx, value)

    def relocated_symbol(self, index: int) -> Sym:
        """The symbol a relocation names; cached only when defined here.

        A defined one is about to be met again as a candidate of the lookup in
        this object; an undefined one (most of them) never is.
        """
        sym = self._syms.get(index)
        if sym is None:
            sym = self.read_symbol(index)
            if sym.shndx != SHN_UNDEF:
                self._syms[index] = sym
        return sym

    @cached_property
    def versyms(self) -> _U16Table | None:
        addr = self.tags.get(DT_VERSYM)
        if addr is None:
            return None
        off = self.vaddr_to_offset(addr)
        if off is None:
            raise ElfReadError(f"{self.path}: DT_VERSYM points outside the file")
        return _U16Table(self._map, off, self.endian, self.path)

    @cached_property
    def versions(self) -> dict[int, Version]:
        """The loader's ``l_versions`` (``_dl_check_map_versions``): index -> version.

        Requirements (``.gnu.version_r``) carry the file they were recorded
        against; definitions (``.gnu.version_d``) do not; the base definition
        (VER_FLG_BASE) is left out, as glibc leaves it out.
        """
        out: dict[int, Version] = {}
        m, e = self._map, self.endian
        vn = self.tags.get(DT_VERNEED)
        if vn is not None:
            pos = self.vaddr_to_offset(vn)
            if pos is None:
                raise ElfReadError(f"{self.path}: DT_VERNEED points outside the file")
            for _ in range(min(self.tags.get(DT_VERNEEDNUM, MAX_VERSION_ENTRIES), MAX_VERSION_ENTRIES)):
                _ver, cnt, file_off, aux, nxt = _unpack(e + "HHIII", m, pos, self.path)
                filename = self.dynstr(file_off)
                apos = pos + aux
                for _ in range(min(cnt, MAX_VERSION_ENTRIES)):
                    vhash, _flags, other, name_off, anext = _unpack(e + "IHHII", m, apos, self.path)
                    out[other & 0x7FFF] = Version(self.dynstr(name_off), vhash, bool(other & 0x8000), filename)
                    if anext == 0:
                        break
                    apos += anext
                if nxt == 0:
                    break
                pos += nxt
        vd = self.tags.get(DT_VERDEF)
        if vd is not None:
            pos = self.vaddr_to_offset(vd)
            if pos is None:
                raise ElfReadError(f"{self.path}: DT_VERDEF points outside the file")
            for _ in range(min(self.tags.get(DT_VERDEFNUM, MAX_VERSION_ENTRIES), MAX_VERSION_ENTRIES)):
                _ver, flags, ndx, _cnt, vhash, aux, nxt = _unpack(e + "HHHHIII", m, pos, self.path)
                if not flags & VER_FLG_BASE:
                    (name_off,) = _unpack(e + "I", m, pos + aux, self.path)
                    out[ndx & 0x7FFF] = Version(self.dynstr(name_off), vhash, False, None)
                if nxt == 0:
                    break
                pos += nxt
        return out

    @cached_property
    def defined_versions(self) -> tuple[bytes, ...]:
        return tuple(v.name for v in self.versions.values() if v.filename is None)

    @cached_property
    def hash_table(self) -> _GnuHash | _SysvHash | None:
        """The table ``_dl_setup_hash`` picks: DT_GNU_HASH when present, else DT_HASH."""
        addr = self.tags.get(DT_GNU_HASH)
        if addr is not None:
            off = self.vaddr_to_offset(addr)
            if off is None:
                raise ElfReadError(f"{self.path}: DT_GNU_HASH points outside the file")
            return _GnuHash(self._map, off, self.endian, self.bits, self.path)
        addr = self.tags.get(DT_HASH)
        if addr is not None:
            off = self.vaddr_to_offset(addr)
            if off is None:
                raise ElfReadError(f"{self.path}: DT_HASH points outside the file")
            return _SysvHash(self._map, off, self.endian, self.path)
        return None

    # -- relocations ------------------------------------------------------

    def relocations(self) -> list[tuple[int, int]]:
        """Unique (symbol index, type) pairs of the symbolic dynamic relocations.

        Covers DT_RELA/DT_REL and the PLT relocations (DT_JMPREL).  The first
        DT_RELACOUNT/DT_RELCOUNT entries of DT_RELA/DT_REL are applied as
        relative relocations by glibc without a symbol lookup, so they are
        skipped here too.  Symbol index 0 never causes a lookup.
        """
        seen: dict[tuple[int, int], None] = {}
        t = self.tags
        ranges: list[tuple[int | None, int, bool, int]] = []
        if DT_RELA in t:
            ranges.append((t[DT_RELA], t.get(DT_RELASZ, 0), True, t.get(DT_RELACOUNT, 0)))
        if DT_REL in t:
            ranges.append((t[DT_REL], t.get(DT_RELSZ, 0), False, t.get(DT_RELCOUNT, 0)))
        if DT_JMPREL in t:
            ranges.append((t[DT_JMPREL], t.get(DT_PLTRELSZ, 0), t.get(DT_PLTREL, DT_RELA) == DT_RELA, 0))
        for addr, size, rela, nrelative in ranges:
            off = self.vaddr_to_offset(addr) if addr is not None else None
            if off is None or size <= 0:
                continue
            entsize = (24 if rela else 16) if self.bits == 64 else (12 if rela else 8)
            count = min(size, self.size - off) // entsize
            if count <= 0:
                continue
            words = _reloc_infos(self._map, off, count, entsize, self.bits, self.endian)
            shift, mask = (32, 0xFFFFFFFF) if self.bits == 64 else (8, 0xFF)
            for info in dict.fromkeys(words[min(nrelative, count):]):
                if info >> shift:
                    seen[(info >> shift, info & mask)] = None
        return list(seen)

    def close(self) -> None:
        try:
            self._map.close()
        except (AttributeError, ValueError, BufferError):  # BufferError: word views still exported
            pass


def _reloc_infos(m: mmap.mmap, off: int, count: int, entsize: int, bits: int, endian: str) -> list[int]:
    """The r_info words of a relocation table, decoded in one C-level pass."""
    word = "Q" if bits == 64 else "I"
    per = entsize // (8 if bits == 64 else 4)
    if endian == _NATIVE:  # a strided memoryview: no Python ints made for r_offset and r_addend
        with memoryview(m) as whole, whole[off : off + count * entsize] as raw, raw.cast(word) as words:
            return words[1::per].tolist()
    raw = struct.unpack_from(f"{endian}{count * per}{word}", m, off)
    return list(raw[1::per])


class _StructWords:
    """What :func:`_words` gives for a file of the other byte order: decoded one word at a time."""

    def __init__(self, m: mmap.mmap, start: int, fmt: str) -> None:
        self._m, self._start, self._fmt = m, start, fmt
        self._size = struct.calcsize(fmt)
        self._len = max(0, (len(m) - start) // self._size)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, k: int) -> int:
        if not 0 <= k < self._len:
            raise IndexError(k)
        return struct.unpack_from(self._fmt, self._m, self._start + k * self._size)[0]


def _words(m: mmap.mmap, start: int, size: int, endian: str) -> memoryview | _StructWords:
    """The file from ``start`` on as words of ``size`` bytes: word k sits at ``start + k * size``.

    A zero-copy ``memoryview`` cast when the file has this machine's byte
    order: indexing it costs a fraction of a ``struct.unpack_from`` call, and
    the hash walk does little else.  Reading past the end raises IndexError;
    callers check for negative indices themselves (a memoryview would wrap).
    """
    code = {2: "H", 4: "I", 8: "Q"}[size]
    count = max(0, (len(m) - start) // size)
    if endian != _NATIVE or start < 0 or struct.calcsize(code) != size:
        return _StructWords(m, start, endian + code)
    return memoryview(m)[start : start + count * size].cast(code)


class _U16Table:
    """Random access to a table of 16-bit words (DT_VERSYM).

    Hot loops index ``words`` directly and fall back to ``self[index]`` on
    IndexError, which raises the ElfReadError a damaged table deserves.
    """

    def __init__(self, m: mmap.mmap, off: int, endian: str, path: Path) -> None:
        self._path = path
        self.words = _words(m, off, 2, endian)

    def __getitem__(self, index: int) -> int:
        try:
            return self.words[index]
        except IndexError:
            raise ElfReadError(f"{self._path}: .gnu.version entry {index} outside the file") from None


class _GnuHash:
    """DT_GNU_HASH, probed exactly as ``do_lookup_x`` probes it."""

    def __init__(self, m: mmap.mmap, off: int, endian: str, bits: int, path: Path) -> None:
        self._m, self._e, self._path = m, endian, path
        nbuckets, self.symbias, nwords, self.shift = _unpack(endian + "IIII", m, off, path)
        self.nbuckets = nbuckets
        self.bits = bits
        self.power_of_two = nwords != 0 and (nwords & (nwords - 1)) == 0
        self.idxbits = (nwords - 1) & 0xFFFFFFFF
        self._bloom = off + 16
        wsize = bits // 8
        self._buckets = self._bloom + nwords * wsize
        self._chain0 = self._buckets + nbuckets * 4 - self.symbias * 4
        if self._buckets + nbuckets * 4 > len(m):
            raise ElfReadError(f"{path}: truncated GNU hash table")
        # Whole-file word views: bloom word k is _bloom_words[_bloom_k + k]; bucket b is
        # _u32[_bucket_k + b]; chain entry i is _u32[_chain_k + i] (negative: before the file).
        rb, r4 = self._bloom % wsize, self._buckets % 4
        self._bloom_words = _words(m, rb, wsize, endian)
        self._bloom_k = (self._bloom - rb) // wsize
        self._u32 = _words(m, r4, 4, endian)
        self._bucket_k = (self._buckets - r4) // 4
        self._chain_k = (self._chain0 - r4) // 4

    def bloom_ok(self, h: int) -> bool:
        """The bloom-filter test of ``do_lookup_x``: False means the name is certainly absent."""
        bits = self.bits
        try:
            word = self._bloom_words[self._bloom_k + ((h // bits) & self.idxbits)]
        except IndexError:
            raise ElfReadError(f"{self._path}: GNU hash bloom filter outside the file") from None
        return bool((word >> (h & (bits - 1))) & (word >> ((h >> (self.shift & 0xFF)) & (bits - 1))) & 1)

    @cached_property
    def hashed_count(self) -> int:
        """How many symbols the chains hold: from the last chain's start to its end bit."""
        if self.nbuckets == 0:
            return 0
        starts = struct.unpack_from(f"{self._e}{self.nbuckets}I", self._m, self._buckets)
        idx = max(starts)
        if idx == 0:
            return 0
        fmt, m = self._e + "I", self._m
        for _ in range(MAX_CHAIN):
            pos = self._chain0 + idx * 4
            if pos < 0 or pos + 4 > len(m) or struct.unpack_from(fmt, m, pos)[0] & 1:
                break
            idx += 1
        return max(0, idx + 1 - self.symbias)

    def walk(self, limit: int) -> list[tuple[int, int, int]] | None:
        """Every (symbol index, bucket, chain word) the chains reach, or None past ``limit`` entries."""
        m, e = self._m, self._e
        starts = struct.unpack_from(f"{e}{self.nbuckets}I", m, self._buckets)
        out: list[tuple[int, int, int]] = []
        fmt = e + "I"
        size = len(m)
        for bucket, idx in enumerate(starts):
            if idx == 0:
                continue
            for _ in range(MAX_CHAIN):
                pos = self._chain0 + idx * 4
                if pos < 0 or pos + 4 > size:
                    raise ElfReadError(f"{self._path}: GNU hash chain outside the file")
                (word,) = struct.unpack_from(fmt, m, pos)
                out.append((idx, bucket, word))
                if len(out) > limit:
                    return None
                if word & 1:
                    break
                idx += 1
        return out

    def candidates(self, h: int) -> list[int]:
        """Symbol indices whose chain hash matches ``h`` (bloom filter first)."""
        if self.nbuckets == 0:
            return []
        bits = self.bits  # the bloom filter (bloom_ok), inlined: most lookups end here
        try:
            word = self._bloom_words[self._bloom_k + ((h // bits) & self.idxbits)]
        except IndexError:
            raise ElfReadError(f"{self._path}: GNU hash bloom filter outside the file") from None
        if not (word >> (h & (bits - 1))) & (word >> ((h >> (self.shift & 0xFF)) & (bits - 1))) & 1:
            return []
        u32 = self._u32
        bucket = u32[self._bucket_k + h % self.nbuckets]  # inside the file: checked by __init__
        if bucket == 0:
            return []
        out = []
        k = self._chain_k + bucket
        if k < 0:
            raise ElfReadError(f"{self._path}: GNU hash chain outside the file")
        base, want, end, size = k - bucket, h >> 1, k + MAX_CHAIN, len(u32)
        while k < end:
            if k >= size:
                raise ElfReadError(f"{self._path}: GNU hash chain outside the file")
            value = u32[k]
            if value >> 1 == want:
                out.append(k - base)
            if value & 1:
                break
            k += 1
        return out


class _SysvHash:
    """DT_HASH, walked as the SysV branch of ``do_lookup_x`` walks it."""

    def __init__(self, m: mmap.mmap, off: int, endian: str, path: Path) -> None:
        self._m, self._e, self._path = m, endian, path
        self.nbuckets, self.nchain = _unpack(endian + "II", m, off, path)
        self._buckets = off + 8
        self._chain = self._buckets + self.nbuckets * 4

    def candidates(self, h: int) -> list[int]:
        if self.nbuckets == 0:
            return []
        m, fmt = self._m, self._e + "I"
        pos = self._buckets + (h % self.nbuckets) * 4
        if pos + 4 > len(m):
            raise ElfReadError(f"{self._path}: SysV hash table outside the file")
        (idx,) = struct.unpack_from(fmt, m, pos)
        out: list[int] = []
        seen = set()
        while idx != 0 and idx not in seen and len(out) < MAX_CHAIN:
            seen.add(idx)
            out.append(idx)
            pos = self._chain + idx * 4
            if pos + 4 > len(m):
                raise ElfReadError(f"{self._path}: SysV hash chain outside the file")
            (idx,) = struct.unpack_from(fmt, m, pos)
        return out


def _unpack(fmt: str, m: mmap.mmap, pos: int, path: Path) -> tuple[int, ...]:
    if pos < 0 or pos + struct.calcsize(fmt) > len(m):
        raise ElfReadError(f"{path}: table entry at offset {pos:#x} outside the file")
    return struct.unpack_from(fmt, m, pos)


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)
