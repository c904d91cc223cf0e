"""ELF reading: the only module that reads ELF structures.

The file header and the program headers are unpacked with ``struct`` (not
pyelftools, whose import alone takes longer than a whole ``ldd`` run and whose
segment objects parse every section).  Everything the loader reads at run time (the dynamic array, the dynamic symbol table, the
hash tables, the version tables and the relocations) is reached the way
``ld.so`` reaches it: through ``PT_DYNAMIC`` and the virtual addresses of its
tags, mapped to file offsets through ``PT_LOAD``.  That works on files whose
section headers were stripped, and it lets a symbol lookup touch only one
hash bucket of a 400 MB library instead of walking every symbol.

Every structure has its one decoder here, which returns records with their
file offsets (the "records" section below): :class:`ElfObject` is the loader's
view of them, lenient where ``ld.so`` is, and ``rewrite.py`` the writer's,
strict about anything it could not rewrite safely.

Files are read with ``os.pread`` into buffers this process owns, never
memory-mapped: a file truncated while it is read (a dependency being
reinstalled) gives an :class:`ElfReadError`, where a mapping would kill the
process with SIGBUS.  Only the tables a lookup needs are read (the hash table,
symbols and version indices in bulk, strings in blocks, relocations in chunks),
and descriptors come from a small process-wide pool, reopened on demand and
checked to still be the same file, so a run over thousands of objects holds a
bounded number of open files.
"""

from __future__ import annotations

import os
import struct
import sys
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, NoReturn

from linkaudit import accel
from linkaudit.errors import ElfReadError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Protocol

    class RecordSource(Protocol):
        """What the record decoders below read through: an ElfObject, or rewrite.py's image of the bytes."""

        path: Path | str
        endian: str
        bits: int
        size: int

        def read(self, off: int, n: int, what: str = ...) -> bytes: ...
        def read_small(self, off: int, n: int, what: str = ...) -> bytes: ...
        def locate(self, vaddr: int, size: int, what: str) -> int: ...
        def fail(self, message: str) -> NoReturn: ...

# Dynamic tags (elf.h).
DT_NULL, DT_NEEDED, DT_PLTRELSZ, DT_HASH, DT_STRTAB, DT_SYMTAB = 0, 1, 2, 4, 5, 6
DT_RELA, DT_RELASZ, DT_RELAENT, DT_STRSZ, DT_SYMENT = 7, 8, 9, 10, 11
DT_INIT, DT_SONAME, DT_RPATH = 12, 14, 15
DT_REL, DT_RELSZ, DT_RELENT, DT_PLTREL, DT_JMPREL = 17, 18, 19, 20, 23
DT_INIT_ARRAY, DT_INIT_ARRAYSZ, DT_RUNPATH, DT_FLAGS = 25, 27, 29, 30
DT_PREINIT_ARRAY = 32
DT_GNU_HASH, DT_GNU_CONFLICT, DT_GNU_LIBLIST, DT_POSFLAG_1 = 0x6FFFFEF5, 0x6FFFFEF8, 0x6FFFFEF9, 0x6FFFFDFD
DT_VERSYM, DT_RELACOUNT, DT_RELCOUNT = 0x6FFFFFF0, 0x6FFFFFF9, 0x6FFFFFFA
DT_FLAGS_1, DT_VERDEF, DT_VERDEFNUM = 0x6FFFFFFB, 0x6FFFFFFC, 0x6FFFFFFD
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF
DT_FILTER, DT_AUXILIARY = 0x7FFFFFFF, 0x7FFFFFFD
DT_CONFIG, DT_DEPAUDIT, DT_AUDIT = 0x6FFFFEFA, 0x6FFFFEFB, 0x6FFFFEFC
DT_PLTGOT = 3
DT_MIPS_LOCAL_GOTNO, DT_MIPS_SYMTABNO, DT_MIPS_GOTSYM, DT_MIPS_XHASH = 0x7000000A, 0x70000011, 0x70000013, 0x70000036

DF_1_NODEFLIB = 0x800
VER_FLG_BASE = 0x1
VER_NDX_GLOBAL = 1
SHT_GNU_VERNEED = 0x6FFFFFFE

ELF_MAGIC = b"\x7fELF"
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
ET_NONE, ET_REL, ET_EXEC, ET_DYN, ET_CORE = 0, 1, 2, 3, 4
# What an e_type that ld.so does not load is, in words (ET_EXEC and ET_DYN are linked objects).
NOT_LINKED_TYPES = {ET_NONE: "ET_NONE (no file type)", ET_REL: "a relocatable object file (.o)",
                    ET_CORE: "a core dump (ET_CORE)"}

STB_LOCAL, STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE = 0, 1, 2, 10
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE = 0, 1, 2, 3, 4
STT_COMMON, STT_TLS, STT_GNU_IFUNC = 5, 6, 10
STV_DEFAULT, STV_INTERNAL, STV_HIDDEN, STV_PROTECTED = 0, 1, 2, 3
STO_MIPS_PLT = 0x8
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2
EM_MIPS, EM_SPARCV9 = 8, 43

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
MAX_VERSION_ENTRIES = 1 << 15
# A single hash-chain walk longer than this (plus CHAIN_SLACK times the table's average chain) is no
# linker's output: the library is reported damaged instead of walked for minutes.
CHAIN_LIMIT = 4096
CHAIN_SLACK = 64
MAX_OPEN_FILES = 64  # descriptors held by the pool at once (see _File)
_BLOCK = 1 << 14  # string tables are read in blocks of this size...
_MAX_BLOCKS = 1024  # ...and at most this many are kept per object (16 MiB)
_CHUNK = 1 << 22  # relocation tables are decoded in chunks of this many bytes


def gnu_hash(name: bytes) -> int:
    """The DJB hash of DT_GNU_HASH (``_dl_new_hash``): h = h * 33 + c over the bytes, from 5381 (see bulk.py)."""
    return accel.gnu_hash(name)


def sysv_hash(name: bytes) -> int:
    """The classic SysV ELF hash of DT_HASH (``_dl_elf_hash``) (see bulk.py)."""
    return accel.sysv_hash(name)


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


class Version(NamedTuple):
    """An entry of the loader's ``l_versions`` array (``struct r_found_version``)."""

    name: bytes
    hash: int
    hidden: bool
    filename: bytes | None  # the vn_file of a requirement; None for a definition


# -- records: the one decoder of ELF structures ------------------------------------------------
#
# Both views of a file decode its structures here: ElfObject (the loader's view, lenient where
# ld.so is) and rewrite.py's writer view (strict: it refuses whatever it cannot rewrite safely,
# and writes at the file offsets these records carry).  A decoder reads through a source (see
# RecordSource): the view decides how an address maps to a file offset (``locate``), what a short
# read means (``read``) and which error a damaged file raises (``fail``).  Struct formats are
# given without the byte-order prefix, which is the file's.

EHDR_FORMAT = {32: "16xHHIIIIIHHHHHH", 64: "16xHHIQQQIHHHHHH"}  # Elf32_Ehdr / Elf64_Ehdr after e_ident
PHDR_FORMAT, PHDR_SIZE = {32: "IIIIIIII", 64: "IIQQQQQQ"}, {32: 32, 64: 56}
SHDR_FORMAT = {32: "IIIIIIIIII", 64: "IIQQQQIIQQ"}
DYN_FORMAT, DYN_SIZE = {32: "iI", 64: "qQ"}, {32: 8, 64: 16}  # d_tag, d_val
VERNEED_FORMAT, VERNAUX_FORMAT = "HHIII", "IHHII"  # the same in both classes, 16 bytes each
VERDEF_FORMAT, VERDAUX_FORMAT = "HHHHIII", "II"  # 20 and 8 bytes
VERNEED_SIZE = VERNAUX_SIZE = 16
VERDEF_SIZE, VERDAUX_SIZE = 20, 8
PN_XNUM = 0xFFFF  # e_phnum saying "the real count is in section header 0"


def _record(cls: type) -> type:
    """Make a ``tuple`` subclass's annotated fields name its positions: a record, built as ``Cls((a, b, ...))``.

    What ``typing.NamedTuple`` gives, without its generated code (for these six
    records, a third more import time for this module); and building one is
    ``tuple.__new__`` itself, at C speed, for the thousands of records a run reads.
    """
    names = tuple(cls.__annotations__)
    for i, name in enumerate(names):
        setattr(cls, name, property(itemgetter(i)))
    cls.__repr__ = lambda self: f"{cls.__name__}({', '.join(f'{n}={v!r}' for n, v in zip(names, self))})"
    return cls


@_record
class ElfHeader(tuple):
    """The fields of the file header the views use."""

    __slots__ = ()

    bits: int
    endian: str  # the struct prefix: "<" or ">"
    osabi: int
    type: int
    machine: int
    version: int
    flags: int
    phoff: int
    phentsize: int
    phnum: int
    shoff: int
    shentsize: int
    shnum: int


@_record
class Segment(tuple):
    """One program header (the fields the loader uses)."""

    __slots__ = ()

    type: int
    offset: int
    vaddr: int
    filesz: int


@_record
class Section(tuple):
    """One section header, with where its ``sh_info`` word lies (the writer keeps it truthful)."""

    __slots__ = ()

    offset: int  # file offset of the header itself
    type: int
    addr: int
    info_offset: int


@_record
class Vernaux(tuple):
    """One ``Elf*_Vernaux``: a version required from the file of its Verneed."""

    __slots__ = ()

    offset: int  # file offset of the record
    hash: int
    flags: int
    other: int  # the version index (bit 15: hidden)
    name: int  # .dynstr offset
    next: int


@_record
class Verneed(tuple):
    """One ``Elf*_Verneed`` with its Vernaux records (at most ``vn_cnt``, up to the first ``vna_next == 0``)."""

    __slots__ = ()

    offset: int
    addr: int  # its virtual address: vn_aux and vn_next count from here
    version: int
    cnt: int
    file: int  # vn_file, .dynstr offset
    aux: int
    next: int
    auxes: tuple[Vernaux, ...]


@_record
class Verdef(tuple):
    """One ``Elf*_Verdef`` (its first Verdaux, the name, is read by :func:`verdaux_name`)."""

    __slots__ = ()

    offset: int
    addr: int
    version: int
    flags: int
    ndx: int
    cnt: int
    hash: int
    aux: int
    next: int


def decode_header(head: bytes, fail: Callable[[str], NoReturn]) -> ElfHeader:
    """The file header from the first (up to 64) bytes of the file."""
    if len(head) < 16 or head[:4] != ELF_MAGIC:
        fail("not an ELF file")
    ei_class, ei_data = head[4], head[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        fail(f"damaged ELF header (class {ei_class}, data {ei_data})")
    bits = 64 if ei_class == 2 else 32
    endian = "<" if ei_data == 1 else ">"
    fmt = endian + EHDR_FORMAT[bits]
    if len(head) < struct.calcsize(fmt):
        fail("truncated (ELF header past end of file)")
    (e_type, machine, version, _entry, phoff, shoff, flags, _ehsize, phentsize, phnum, shentsize, shnum,
     _shstrndx) = struct.unpack_from(fmt, head, 0)
    return ElfHeader((bits, endian, head[7], e_type, machine, version, flags, phoff, phentsize, phnum, shoff,
                      shentsize, shnum))


def program_headers(src: RecordSource, hdr: ElfHeader) -> list[Segment]:
    """Every program header, in file order."""
    phoff, phentsize, phnum = hdr.phoff, hdr.phentsize, hdr.phnum
    if not phnum:
        return []
    if phoff + phnum * phentsize > src.size:
        src.fail("truncated (program headers past end of file)")
    fmt = hdr.endian + PHDR_FORMAT[hdr.bits]
    if phentsize < PHDR_SIZE[hdr.bits]:
        src.fail(f"damaged ELF header (e_phentsize {phentsize})")
    raw = src.read(phoff, phnum * phentsize, "program headers")
    wide = hdr.bits == 64  # Elf64_Phdr puts p_flags second
    out = []
    for n in range(phnum):
        f = struct.unpack_from(fmt, raw, n * phentsize)
        out.append(Segment((f[0], f[2], f[3], f[5]) if wide else (f[0], f[1], f[2], f[4])))
    return out


def section_headers(src: RecordSource, hdr: ElfHeader) -> list[Section]:
    """The section headers that lie in the file (none when the table is absent or its entries too small).

    The loader never reads them; only the writer does, to keep a section's
    count in step with what it rewrote.
    """
    fmt = hdr.endian + SHDR_FORMAT[hdr.bits]
    size = struct.calcsize(fmt)
    if hdr.shoff == 0 or hdr.shnum == 0 or hdr.shentsize < size:
        return []
    info = 44 if hdr.bits == 64 else 28  # where sh_info lies in a header
    out = []
    for i in range(hdr.shnum):
        off = hdr.shoff + i * hdr.shentsize
        if off + size > src.size:
            break
        _name, sh_type, _flags, sh_addr, *_rest = struct.unpack(fmt, src.read(off, size, "section header"))
        out.append(Section((off, sh_type, sh_addr, off + info)))
    return out


def dynamic_entries(raw: bytes, bits: int, endian: str) -> Iterator[tuple[int, int]]:
    """(d_tag, d_val) of each entry of a dynamic array's bytes; entry i lies at ``i * DYN_SIZE[bits]``."""
    return struct.iter_unpack(endian + DYN_FORMAT[bits], raw)


def verneed_records(src: RecordSource, addr: int, limit: int) -> Iterator[Verneed]:
    """The ``Verneed`` chain from ``addr`` (DT_VERNEED), as ``_dl_check_map_versions`` walks it.

    Follows ``vn_next`` until it is 0, for at most ``limit`` records, lazily:
    a caller that checks each record can stop a loop at the first repeat.
    """
    locate, read, unpack = src.locate, src.read_small, struct.unpack  # once: every object audited comes here
    need_fmt, aux_fmt = src.endian + VERNEED_FORMAT, src.endian + VERNAUX_FORMAT
    for _ in range(limit):
        off = locate(addr, VERNEED_SIZE, "Verneed record")
        version, cnt, file, aux, nxt = unpack(need_fmt, read(off, VERNEED_SIZE, "Verneed record"))
        auxes = []
        a_addr = addr + aux
        for _ in range(min(cnt, MAX_VERSION_ENTRIES)):
            a_off = locate(a_addr, VERNAUX_SIZE, "Vernaux record")
            fields = unpack(aux_fmt, read(a_off, VERNAUX_SIZE, "Vernaux record"))
            auxes.append(Vernaux((a_off, *fields)))
            if fields[4] == 0:  # vna_next
                break
            a_addr += fields[4]
        yield Verneed((off, addr, version, cnt, file, aux, nxt, tuple(auxes)))
        if nxt == 0:
            return
        addr += nxt


def verdef_records(src: RecordSource, addr: int, limit: int) -> Iterator[Verdef]:
    """The ``Verdef`` chain from ``addr`` (DT_VERDEF), following ``vd_next`` for at most ``limit`` records."""
    locate, read, unpack, fmt = src.locate, src.read_small, struct.unpack, src.endian + VERDEF_FORMAT
    for _ in range(limit):
        off = locate(addr, VERDEF_SIZE, "Verdef record")
        fields = unpack(fmt, read(off, VERDEF_SIZE, "Verdef record"))
        yield Verdef((off, addr, *fields))
        if fields[6] == 0:  # vd_next
            return
        addr += fields[6]


def verdaux_name(src: RecordSource, verdef: Verdef) -> int:
    """The ``.dynstr`` offset of a definition's name: ``vda_name`` of its first Verdaux."""
    off = src.locate(verdef.addr + verdef.aux, VERDAUX_SIZE, "Verdaux record")
    return struct.unpack(src.endian + VERDAUX_FORMAT, src.read_small(off, VERDAUX_SIZE, "Verdaux record"))[0]


def open_hash_table(src: RecordSource, tags: Mapping[int, int], machine: int) -> _GnuHash | _SysvHash | None:
    """The table ``_dl_setup_hash`` picks: DT_GNU_HASH when present, else DT_HASH.

    On MIPS glibc takes DT_MIPS_XHASH in place of DT_GNU_HASH: the same
    table followed by one word per hashed symbol giving its real index
    (MIPS orders .dynsym by GOT, not by hash bucket).
    """
    if machine == EM_MIPS:
        if DT_MIPS_XHASH in tags:
            if DT_MIPS_SYMTABNO not in tags:
                src.fail("DT_MIPS_XHASH without DT_MIPS_SYMTABNO")
            off = src.locate(tags[DT_MIPS_XHASH], 0, "DT_MIPS_XHASH")
            return _GnuHash(src, off, xhash_symtabno=tags[DT_MIPS_SYMTABNO])
    elif DT_GNU_HASH in tags:
        return _GnuHash(src, src.locate(tags[DT_GNU_HASH], 0, "DT_GNU_HASH"))
    if DT_HASH in tags:
        return _SysvHash(src, src.locate(tags[DT_HASH], 0, "DT_HASH"))
    return None


def hashed_symbol_count(table: _GnuHash | _SysvHash | None, tags: Mapping[int, int], machine: int) -> int | None:
    """How many dynamic symbols there are: the loader knows no count but the hash table's (MIPS says it)."""
    if table is None:
        return None
    if machine == EM_MIPS and DT_MIPS_SYMTABNO in tags:
        return tags[DT_MIPS_SYMTABNO]
    if isinstance(table, _GnuHash):
        return table.symbias + table.hashed_count
    return table.nchain


def symbol_layout(bits: int, endian: str, offset: int) -> SymbolLayout:
    """Where each field of a DT_SYMTAB entry sits, for a table at file offset ``offset``."""
    if bits == 64:  # Elf64_Sym: name, info, other, shndx, value, size
        return SymbolLayout(offset, 24, 4, 5, 6, 8, 8, struct.Struct(endian + "IBBHQ").unpack_from)
    return SymbolLayout(offset, 16, 12, 13, 14, 4, 4, struct.Struct(endian + "IIIBBH").unpack_from)


def unpack_symbol(lay: SymbolLayout, buf: bytes, pos: int) -> tuple[int, int, int, int, int]:
    """(st_name, st_info, st_other, st_shndx, st_value) of the entry at ``pos`` of ``buf``."""
    if lay.size == 24:
        return lay.unpack(buf, pos)
    name, value, _size, info, other, shndx = lay.unpack(buf, pos)
    return name, info, other, shndx, value


def _words(raw: bytes, typecode: str, endian: str) -> array:
    """Words of ``typecode``'s size in the file's byte order, as an array of native ints."""
    words = array(typecode, raw)
    if endian != _NATIVE:
        words.byteswap()
    return words


def u16_array(raw: bytes, endian: str) -> array:
    """Half-words in the file's byte order (``.gnu.version``) as an array of native ints."""
    return _words(raw, "H", endian)


class _File:
    """Owned-buffer reads of one file, by ``os.pread`` through a bounded descriptor pool.

    The descriptor opened first is kept while the pool has room; once it is
    evicted the file is reopened on demand, and refused (ElfReadError) unless
    it is still the same file, with the same size and modification time.
    """

    def __init__(self, path: Path, fd: int, st: os.stat_result) -> None:
        self.path = path
        self.size = st.st_size
        self._ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        _adopt(self, fd)

    def _fd(self) -> int:
        fd = _OPEN.get(self)
        if fd is not None:
            _OPEN.move_to_end(self)
            return fd
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise ElfReadError(f"{self.path}: cannot reopen: {exc.strerror}") from None
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != self._ident:
            os.close(fd)
            raise ElfReadError(f"{self.path}: file changed while being read")
        _adopt(self, fd)
        return fd

    def read(self, off: int, n: int, what: str = "table") -> bytes:
        """Exactly ``n`` bytes at ``off``, or ElfReadError (past the end, or the file shrank meanwhile)."""
        if off < 0 or n < 0 or off + n > self.size:
            raise ElfReadError(f"{self.path}: {what} at offset {off:#x} outside the file")
        try:
            data = os.pread(self._fd(), n, off)
            while len(data) < n:
                more = os.pread(self._fd(), n - len(data), off + len(data))
                if not more:
                    raise ElfReadError(f"{self.path}: file truncated while being read")
                data += more
        except OSError as exc:
            raise ElfReadError(f"{self.path}: cannot read: {exc.strerror}") from None
        return data

    def close(self) -> None:
        fd = _OPEN.pop(self, None)
        if fd is not None:
            os.close(fd)


_OPEN: OrderedDict[_File, int] = OrderedDict()  # the descriptor pool, least recently used first


def _adopt(file: _File, fd: int) -> None:
    _OPEN[file] = fd
    while len(_OPEN) > MAX_OPEN_FILES:
        _, old = _OPEN.popitem(last=False)
        os.close(old)


class ElfObject:
    """One ELF file, read through :class:`_File`.

    Construction reads the header, the program headers and the dynamic array
    and raises :class:`ElfReadError` if any of them is damaged.  Tables used
    for symbol lookup are read on first use.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise ElfReadError(f"{self.path}: cannot open: {exc.strerror}") from None
        try:
            st = os.fstat(fd)
        except OSError as exc:
            os.close(fd)
            raise ElfReadError(f"{self.path}: cannot open: {exc.strerror}") from None
        if not _is_regular(st.st_mode):
            os.close(fd)
            raise ElfReadError(f"{self.path}: not a regular file")
        self.size = st.st_size
        self.file_id = (st.st_dev, st.st_ino)
        self._file = _File(self.path, fd, st)
        if self.size < 16:
            self.close()
            raise ElfReadError(f"{self.path}: not an ELF file (too short)")
        try:
            self._read_headers(self._file.read(0, min(self.size, 64), "ELF header"))
        except ElfReadError:
            self.close()
            raise
        except (struct.error, ValueError, IndexError, KeyError, TypeError, OverflowError, MemoryError) as exc:
            self.close()
            raise ElfReadError(f"{self.path}: damaged ELF headers ({exc})") from None

    def read(self, off: int, n: int, what: str = "table") -> bytes:
        """``n`` bytes of the file at ``off`` (an ElfReadError if they are not all there)."""
        return self._file.read(off, n, what)

    def fail(self, message: str) -> NoReturn:
        """Raise the ElfReadError of a damaged file (the record decoders' way to refuse)."""
        raise ElfReadError(f"{self.path}: {message}")

    def locate(self, vaddr: int, size: int, what: str) -> int:
        """The file offset of ``vaddr`` (:meth:`vaddr_to_offset`), or the ElfReadError of a damaged file."""
        for seg_vaddr, seg_off, filesz in self.loads:  # vaddr_to_offset, inlined: once per version record
            if seg_vaddr <= vaddr < seg_vaddr + filesz:
                off = seg_off + (vaddr - seg_vaddr)
                if off < self.size:
                    return off
                break
        self.fail(f"{what} points outside the file")

    # -- headers --------------------------------------------------------

    def _read_headers(self, head: bytes) -> None:
        # The file header is unpacked with struct as well: importing pyelftools' ELFFile
        # (construct, dwarf, ...) alone costs more than ``ldd`` takes for a whole run.
        hdr = decode_header(head, self.fail)
        self.bits, self.endian, self.osabi = hdr.bits, hdr.endian, hdr.osabi
        self.e_type = hdr.type
        self.e_machine = hdr.machine
        self.e_flags = hdr.flags  # ABI bits: ARM float ABI, MIPS n32, RISC-V float ABI (machines.py)
        self.machine = MACHINE_NAMES.get(self.e_machine, f"em_{self.e_machine}")
        self.loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
        self.interp: str | None = None
        dyn_seg: tuple[int, int, int] | None = None
        # Program headers are unpacked with struct, not elf.iter_segments(): pyelftools
        # builds a DynamicSegment for PT_DYNAMIC, which walks every section and parses
        # the whole .gnu.hash bucket array with construct (~10 ms per big library).
        for ptype, p_offset, p_vaddr, p_filesz in program_headers(self, hdr):
            if ptype == PT_LOAD:
                self.loads.append((p_vaddr, p_offset, p_filesz))
            elif ptype == PT_DYNAMIC:
                dyn_seg = (p_vaddr, p_offset, p_filesz)
            elif ptype == PT_INTERP:
                raw = self.read(p_offset, max(0, min(p_filesz, 4096, self.size - p_offset)), "PT_INTERP")
                self.interp = raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        self.tags: dict[int, int] = {}
        self.needed_offsets: list[int] = []
        self.filters: list[int] = []
        self.dynamic_count = 0
        self._strtab_off: int | None = None
        self._strtab_end = 0
        if dyn_seg is not None:
            self._read_dynamic(dyn_seg)

    def _read_dynamic(self, seg: tuple[int, int, int]) -> None:
        vaddr, offset, filesz = seg
        start = self.vaddr_to_offset(vaddr)
        if start is None:
            start = offset
        entsize = DYN_SIZE[self.bits]
        if start < 0 or start >= self.size:
            raise ElfReadError(f"{self.path}: truncated (dynamic section runs past end of file)")
        end = min(self.size, start + max(filesz, 0), start + MAX_DYNAMIC_ENTRIES * entsize)
        raw = self.read(start, max(0, end - start) // entsize * entsize, "dynamic section")
        terminated = False
        count = 0
        for tag, val in dynamic_entries(raw, self.bits, self.endian):
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
        if not terminated and start + (count + 1) * entsize > self.size:
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

    def _table_offset(self, tag: int, what: str) -> int | None:
        addr = self.tags.get(tag)
        return None if addr is None else self.locate(addr, 0, what)

    # -- strings ----------------------------------------------------------

    @cached_property
    def _blocks(self) -> dict[int, bytes]:
        return {}

    def _block(self, k: int) -> bytes:
        """Block ``k`` of the file (``_BLOCK`` bytes, fewer at the end), read once and kept."""
        blocks = self._blocks
        data = blocks.get(k)
        if data is None:
            if len(blocks) >= _MAX_BLOCKS:
                blocks.clear()
            start = k * _BLOCK
            data = blocks[k] = self.read(start, max(0, min(_BLOCK, self.size - start)), "table")
        return data

    def read_small(self, off: int, n: int, what: str = "table entry") -> bytes:
        """``n`` bytes at ``off`` through the block cache: for the many small records of a table."""
        k, pos = divmod(off, _BLOCK)
        if off < 0 or n < 0 or off + n > self.size:
            raise ElfReadError(f"{self.path}: {what} at offset {off:#x} outside the file")
        if pos + n <= _BLOCK:
            return self._block(k)[pos:pos + n]
        return self.read(off, n, what)

    def dynstr_whole(self, limit: int) -> bytes | None:
        """The whole dynamic string table in one read when it holds at most ``limit`` bytes and reads
        cleanly, else None: for a caller about to take many names from it (:meth:`dynstr` says why one fails)."""
        start, end = self._strtab_off, self._strtab_end
        if start is None or end - start > limit or end <= start:
            return None
        try:
            return self.read(start, end - start, "dynamic string table")
        except ElfReadError:
            return None

    def dynstr(self, offset: int) -> bytes:
        """A NUL-terminated string of the dynamic string table."""
        if self._strtab_off is None:
            raise ElfReadError(f"{self.path}: no dynamic string table")
        start = self._strtab_off + offset
        end_of_table = self._strtab_end
        if offset < 0 or start >= end_of_table:
            raise ElfReadError(f"{self.path}: string offset {offset} outside the dynamic string table")
        k, pos = divmod(start, _BLOCK)
        block = self._block(k)
        end = block.find(b"\0", pos, end_of_table - k * _BLOCK)
        if end >= 0:
            return block[pos:end]
        parts = [block[pos:]]
        while (k + 1) * _BLOCK < end_of_table:
            k += 1
            block = self._block(k)
            end = block.find(b"\0", 0, end_of_table - k * _BLOCK)
            if end >= 0:
                parts.append(block[:end])
                return b"".join(parts)
            parts.append(block)
        raise ElfReadError(f"{self.path}: unterminated string in the dynamic string table")

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
    def symbol_layout(self) -> SymbolLayout | None:
        """Where DT_SYMTAB sits and how its entries are laid out (None without a symbol table)."""
        off = self._table_offset(DT_SYMTAB, "DT_SYMTAB")
        return None if off is None else symbol_layout(self.bits, self.endian, off)

    @cached_property
    def symbol_count(self) -> int:
        """How many dynamic symbols the hash table covers (the loader knows no other count; MIPS says it)."""
        return hashed_symbol_count(self.hash_table, self.tags, self.e_machine) or 0

    _symbuf: bytes = b""

    def symbol_bytes(self, count: int) -> bytes:
        """The first ``count`` (at least) entries of DT_SYMTAB, read once into one buffer."""
        lay = self.symbol_layout
        if lay is None:
            raise ElfReadError(f"{self.path}: no dynamic symbol table")
        if len(self._symbuf) < count * lay.size:
            want = max(count, self.symbol_count)
            if lay.offset + want * lay.size > self.size:
                want = count  # a hash table claiming more symbols than the file holds: read what is asked
            self._symbuf = self.read(lay.offset, want * lay.size, "dynamic symbol table")
        return self._symbuf

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
        return self.dynstr(self.raw_symbol(index)[0])

    def raw_symbol(self, index: int) -> tuple[int, int, int, int, int]:
        """(st_name, st_info, st_other, st_shndx, st_value) of entry ``index``."""
        lay = self.symbol_layout
        if lay is None:
            raise ElfReadError(f"{self.path}: no dynamic symbol table")
        if index < 0 or lay.offset + (index + 1) * lay.size > self.size:
            raise ElfReadError(f"{self.path}: symbol index {index} outside the file")
        buf = self._symbuf
        if len(buf) < (index + 1) * lay.size:
            buf = self.symbol_bytes(index + 1)
        if self.bits == 64:  # unpack_symbol, inlined: every relocation's symbol is read here
            return lay.unpack(buf, index * 24)
        name, value, _size, info, other, shndx = lay.unpack(buf, index * 16)
        return name, info, other, shndx, value

    def read_symbol(self, index: int) -> Sym:
        """Decode one dynamic symbol without caching it (``symbol`` caches)."""
        name, info, other, shndx, value = self.raw_symbol(index)
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
        off = self._table_offset(DT_VERSYM, "DT_VERSYM")
        if off is None:
            return None
        count = max(0, min(self.symbol_count, (self.size - off) // 2))
        return _U16Table(self, off, count)

    @cached_property
    def versions(self) -> dict[int, Version]:
        """The loader's ``l_versions`` (``_dl_check_map_versions``): index -> version.

        Requirements (``.gnu.version_r``) carry the file they were recorded
        against; definitions (``.gnu.version_d``) do not; the base definition
        (VER_FLG_BASE) is left out, as glibc leaves it out.
        """
        out: dict[int, Version] = {}
        addr = self.tags.get(DT_VERNEED)
        if addr is not None:
            limit = min(self.tags.get(DT_VERNEEDNUM, MAX_VERSION_ENTRIES), MAX_VERSION_ENTRIES)
            # The records unpacked by position, not by field: this runs for every object audited.
            for _off, _addr, _ver, _cnt, file, _aux, _next, auxes in verneed_records(self, addr, limit):
                filename = self.dynstr(file)
                for _aoff, vhash, _flags, other, name, _anext in auxes:
                    out[other & 0x7FFF] = Version(self.dynstr(name), vhash, bool(other & 0x8000), filename)
        addr = self.tags.get(DT_VERDEF)
        if addr is not None:
            limit = min(self.tags.get(DT_VERDEFNUM, MAX_VERSION_ENTRIES), MAX_VERSION_ENTRIES)
            for vd in verdef_records(self, addr, limit):
                if not vd.flags & VER_FLG_BASE:
                    out[vd.ndx & 0x7FFF] = Version(self.dynstr(verdaux_name(self, vd)), vd.hash, False, None)
        return out

    @cached_property
    def defined_versions(self) -> tuple[bytes, ...]:
        return tuple(v.name for v in self.versions.values() if v.filename is None)

    @cached_property
    def hash_table(self) -> _GnuHash | _SysvHash | None:
        """The table ``_dl_setup_hash`` picks (:func:`open_hash_table`)."""
        return open_hash_table(self, self.tags, self.e_machine)

    # -- relocations ------------------------------------------------------

    def relocation_words(self) -> Iterator[tuple[bytes, bytes]]:
        """(symbol indices, types) of the dynamic relocations that can name a symbol, a chunk at a time.

        Covers DT_RELA/DT_REL and the PLT relocations (DT_JMPREL).  The first
        DT_RELACOUNT/DT_RELCOUNT entries of DT_RELA/DT_REL are applied as
        relative relocations by glibc without a symbol lookup, so they are
        skipped here too.  Tables are read in chunks and split in bulk by
        ``relocation_words`` (see linkaudit/bulk.py), each chunk into two
        buffers of native u32 words, so a 20 MB table costs milliseconds.
        """
        t = self.tags
        ranges: list[tuple[int, int, bool, int]] = []
        if DT_RELA in t:
            ranges.append((t[DT_RELA], t.get(DT_RELASZ, 0), True, t.get(DT_RELACOUNT, 0)))
        if DT_REL in t:
            ranges.append((t[DT_REL], t.get(DT_RELSZ, 0), False, t.get(DT_RELCOUNT, 0)))
        if DT_JMPREL in t:
            ranges.append((t[DT_JMPREL], t.get(DT_PLTRELSZ, 0), t.get(DT_PLTREL, DT_RELA) == DT_RELA, 0))
        big = self.endian == ">"
        for addr, size, rela, nrelative in ranges:
            off = self.vaddr_to_offset(addr)
            if off is None or size <= 0:
                continue
            entsize = (24 if rela else 16) if self.bits == 64 else (12 if rela else 8)
            count = min(size, self.size - off) // entsize
            step = max(1, _CHUNK // entsize)
            for k in range(min(nrelative, count), count, step):
                raw = self.read(off + k * entsize, min(step, count - k) * entsize, "relocation table")
                yield accel.relocation_words(raw, entsize, self.bits, big, self.e_machine)

    def relocation_blocks(self) -> Iterator[tuple[list[int], list[int]]]:
        """:meth:`relocation_words` as lists of ints."""
        for syms, types in self.relocation_words():
            yield memoryview(syms).cast("I").tolist(), memoryview(types).cast("I").tolist()

    def relocations(self) -> list[tuple[int, int]]:
        """Unique (symbol index, type) pairs of the symbolic dynamic relocations (index 0 never looks up)."""
        seen: dict[tuple[int, int], None] = {}
        for syms, types in self.relocation_blocks():
            seen.update(dict.fromkeys(zip(syms, types)))
        return [pair for pair in seen if pair[0]]

    def mips_global_got(self) -> range:
        """The dynamic symbols with a global GOT entry (DT_MIPS_GOTSYM up to DT_MIPS_SYMTABNO)."""
        t = self.tags
        if self.e_machine != EM_MIPS or DT_MIPS_GOTSYM not in t or DT_MIPS_SYMTABNO not in t:
            return range(0)
        return range(max(t[DT_MIPS_GOTSYM], 1), t[DT_MIPS_SYMTABNO])

    def mips_got_word(self, symidx: int) -> int | None:
        """The initial GOT entry of a global GOT symbol (``got[local_gotno + symidx - gotsym]``)."""
        t = self.tags
        if DT_PLTGOT not in t or DT_MIPS_LOCAL_GOTNO not in t or DT_MIPS_GOTSYM not in t:
            return None
        size = self.bits // 8
        off = self.vaddr_to_offset(t[DT_PLTGOT] + (t[DT_MIPS_LOCAL_GOTNO] + symidx - t[DT_MIPS_GOTSYM]) * size)
        if off is None or off + size > self.size:
            return None
        return struct.unpack(self.endian + ("Q" if size == 8 else "I"), self.read_small(off, size, "MIPS GOT entry"))[0]

    def close(self) -> None:
        self._file.close()


class SymbolLayout(NamedTuple):
    """Where each field of a DT_SYMTAB entry sits (Elf32_Sym and Elf64_Sym order them differently)."""

    offset: int  # file offset of entry 0
    size: int  # bytes per entry
    info: int  # offset of st_info within an entry
    other: int  # st_other
    shndx: int  # st_shndx (2 bytes)
    value: int  # st_value
    value_size: int
    unpack: Callable[[bytes, int], tuple[int, ...]]


def decode_relocations(raw: bytes, entsize: int, bits: int, endian: str,
                       machine: int = 0) -> tuple[list[int], list[int]]:
    """(symbol indices, types) of a block of Elf32/64_Rel[a] entries, as lists (see ``bulk.relocation_words``)."""
    syms, types = accel.relocation_words(raw, entsize, bits, endian == ">", machine)
    return memoryview(syms).cast("I").tolist(), memoryview(types).cast("I").tolist()


def _u32_array(raw: bytes, endian: str) -> array:
    return _words(raw, "I", endian)


class _U16Table:
    """DT_VERSYM, read once: ``words[i]`` is symbol i's version index.

    Hot loops index ``words`` directly and fall back to ``self[index]`` on
    IndexError, which raises the ElfReadError a damaged table deserves.
    """

    def __init__(self, obj: ElfObject, off: int, count: int) -> None:
        self._obj, self._off = obj, off
        self.words = self._load(count)

    def _load(self, count: int) -> array:
        return u16_array(self._obj.read(self._off, count * 2, ".gnu.version"), self._obj.endian)

    def __getitem__(self, index: int) -> int:
        try:
            return self.words[index]
        except IndexError:
            pass
        if index < 0 or self._off + (index + 1) * 2 > self._obj.size:
            raise ElfReadError(f"{self._obj.path}: .gnu.version entry {index} outside the file")
        self.words = self._load(index + 1)  # symbols past the hash table's: rare, read on demand
        return self.words[index]


class _GnuHash:
    """DT_GNU_HASH, read whole (bloom words, buckets, chains) and probed as ``do_lookup_x`` probes it.

    With ``xhash_symtabno`` it is a DT_MIPS_XHASH table: the chains are
    DT_MIPS_SYMTABNO - symoffset words long and followed by as many words
    giving the symbol index of each chain position (``ELF_MACHINE_XHASH_SETUP``,
    ``ELF_MACHINE_HASH_SYMIDX``); ``xlat`` holds those of the hashed positions
    and every index this table returns has been through it.
    """

    xlat: array | None = None

    def __init__(self, obj: RecordSource, off: int, xhash_symtabno: int | None = None) -> None:
        e = obj.endian
        self._path = obj.path
        nbuckets, self.symbias, nwords, self.shift = struct.unpack(e + "IIII", obj.read(off, 16, "GNU hash table"))
        self.nbuckets = nbuckets
        self.bits = obj.bits
        wsize = obj.bits // 8
        if 16 + nwords * wsize + nbuckets * 4 > obj.size - off:
            obj.fail("truncated GNU hash table")
        self.idxbits = (nwords - 1) & 0xFFFFFFFF
        self.bloom = array("Q" if wsize == 8 else "I", obj.read(off + 16, nwords * wsize, "GNU hash bloom filter"))
        if e != _NATIVE:
            self.bloom.byteswap()
        buckets_off = off + 16 + nwords * wsize
        self.buckets = _u32_array(obj.read(buckets_off, nbuckets * 4, "GNU hash buckets"), e)
        # Chain entry i (i >= symbias) is chain[i - symbias]; the chains end where the one
        # starting last ends: that is the table's real size, and every walk stays inside it.
        chains_off = buckets_off + nbuckets * 4
        last = accel.max_u32(self.buckets)  # a Python max() of 65,537 buckets (libtorch_cpu) takes milliseconds
        end = last
        if last:
            if last < self.symbias:
                obj.fail(f"GNU hash bucket {last} below symoffset {self.symbias}")
            limit = (obj.size - chains_off) // 4 + self.symbias  # no chain runs past the file
            pos = last
            while True:
                if pos >= limit:
                    obj.fail("GNU hash chain runs past the end of the file")
                n = min(4096, limit - pos)
                words = _u32_array(obj.read(chains_off + (pos - self.symbias) * 4, n * 4, "GNU hash chain"), e)
                stop = next((k for k, w in enumerate(words) if w & 1), None)
                if stop is not None:
                    end = pos + stop + 1
                    break
                pos += n
        self.chain = _u32_array(obj.read(chains_off, max(0, end - self.symbias) * 4, "GNU hash chains"), e) \
            if end else array("I")
        self.hashed_count = len(self.chain)
        if xhash_symtabno is not None:
            if self.hashed_count and xhash_symtabno < self.symbias + self.hashed_count:
                obj.fail("MIPS xhash chains longer than DT_MIPS_SYMTABNO")
            xlat_off = chains_off + (xhash_symtabno - self.symbias) * 4
            self.xlat = _u32_array(obj.read(xlat_off, self.hashed_count * 4, "MIPS xhash translation"), e) \
                if self.hashed_count else array("I")
        self.walk_limit = CHAIN_LIMIT + CHAIN_SLACK * (self.hashed_count // max(1, nbuckets))

    def bloom_ok(self, h: int) -> bool:
        """The bloom-filter test of ``do_lookup_x``: False means the name is certainly absent."""
        bits = self.bits
        try:
            word = self.bloom[(h // bits) & self.idxbits]
        except IndexError:
            raise ElfReadError(f"{self._path}: GNU hash bloom filter is empty") from None
        return bool((word >> (h & (bits - 1))) & (word >> ((h >> (self.shift & 0xFF)) & (bits - 1))) & 1)

    def walk(self, limit: int) -> list[tuple[int, int, int]] | None:
        """Every (symbol index, bucket, chain word) the chains reach, or None past ``limit`` entries."""
        out: list[tuple[int, int, int]] = []
        chain, bias, xlat = self.chain, self.symbias, self.xlat
        for bucket, idx in enumerate(self.buckets):
            if idx == 0:
                continue
            for k in range(idx - bias, len(chain)):
                word = chain[k]
                out.append((k + bias if xlat is None else xlat[k], bucket, word))
                if len(out) > limit:
                    return None
                if word & 1:
                    break
            else:
                raise ElfReadError(f"{self._path}: GNU hash chain runs past the table")
        return out

    def candidates(self, h: int) -> list[int]:
        """Symbol indices whose chain hash matches ``h`` (bloom filter first)."""
        if self.nbuckets == 0:
            return []
        bits = self.bits  # the bloom filter (bloom_ok), inlined: most lookups end here
        try:
            word = self.bloom[(h // bits) & self.idxbits]
        except IndexError:
            raise ElfReadError(f"{self._path}: GNU hash bloom filter is empty") from None
        if not (word >> (h & (bits - 1))) & (word >> ((h >> (self.shift & 0xFF)) & (bits - 1))) & 1:
            return []
        bucket = self.buckets[h % self.nbuckets]
        if bucket == 0:
            return []
        bias = self.symbias
        k = bucket - bias
        if k < 0:
            raise ElfReadError(f"{self._path}: GNU hash bucket {bucket} below symoffset {bias}")
        chain = self.chain
        end = min(len(chain), k + self.walk_limit)
        want = h >> 1
        out = []
        while k < end:
            value = chain[k]
            if value >> 1 == want:
                out.append(k + bias)
            if value & 1:
                return out if self.xlat is None or not out else [self.xlat[i - bias] for i in out]
            k += 1
        if end < len(chain):
            raise ElfReadError(f"{self._path}: GNU hash chain longer than {self.walk_limit} entries (damaged)")
        raise ElfReadError(f"{self._path}: GNU hash chain runs past the table")


class _SysvHash:
    """DT_HASH, read whole and walked as the SysV branch of ``do_lookup_x`` walks it."""

    def __init__(self, obj: RecordSource, off: int) -> None:
        self._path = obj.path
        self.nbuckets, self.nchain = struct.unpack(obj.endian + "II", obj.read(off, 8, "SysV hash table"))
        if 8 + (self.nbuckets + self.nchain) * 4 > obj.size - off:
            obj.fail("SysV hash table outside the file")
        words = _u32_array(obj.read(off + 8, (self.nbuckets + self.nchain) * 4, "SysV hash table"), obj.endian)
        self.buckets, self.chain = words[: self.nbuckets], words[self.nbuckets:]

    def candidates(self, h: int) -> list[int]:
        if self.nbuckets == 0:
            return []
        idx = self.buckets[h % self.nbuckets]
        out: list[int] = []
        chain, n = self.chain, self.nchain
        while idx != 0:
            if idx >= n:
                raise ElfReadError(f"{self._path}: SysV hash chain outside the table")
            if len(out) >= n:
                raise ElfReadError(f"{self._path}: SysV hash chain loops")
            out.append(idx)
            idx = chain[idx]
        return out


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)
