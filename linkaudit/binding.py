"""Symbol binding: which loaded object satisfies each reference of the audited object.

This is glibc's ``elf/dl-lookup.c`` (``_dl_lookup_symbol_x``, ``do_lookup_x``,
``check_match``) applied to the relocations ``ld.so`` performs for the main
object when ``ldd -u -r`` runs: every symbolic dynamic relocation (PLT ones
included, as under ``LD_BIND_NOW``) is looked up in the object's scope, the
object itself first and then its dependencies breadth-first; the first
acceptable definition wins and marks its object as used.

The rules kept exactly:

* references that bind locally (STB_LOCAL, hidden or internal visibility) are
  never looked up;
* a definition is skipped when its value is 0 (unless absolute or TLS), when it
  is undefined and the relocation is of the PLT class (on MIPS: when it is
  undefined and not marked STO_MIPS_PLT), when its type is not a
  code/data type, or when it is hidden or internal; STB_LOCAL definitions make
  the lookup move on to the next object; weak, global and unique definitions
  all win (``LD_DYNAMIC_WEAK`` is off);
* a versioned reference matches its version, or, unless the reference is
  marked hidden, a definition whose version index has no version hash (an
  unversioned definition, or any definition in an object without version
  tables); the file named in ``.gnu.version_r`` is not consulted;
* an unversioned reference takes version indices 0-2 directly, and a higher
  one only when it is the single non-hidden candidate in that object;
* copy relocations skip the main object; a protected reference that resolves
  elsewhere is redirected to the main object;
* which relocation types look anything up, and in which class, is each
  architecture's own (relocations.py); MIPS objects also look up every
  global GOT entry (``mips_got_references``).

The main object is first in its own scope, so a reference whose own symbol
entry ``check_match`` accepts binds to it before any dependency is asked: in
big C++ libraries that is almost every reference (57,595 of the 59,288
symbols libtorch_cpu.so references).  :func:`self_bound` finds those in bulk, from the symbol
table's bytes, without reading a name or computing a hash; only the others
are looked up.  With the compiled fast path, one ``accel.lookup_batch``
call looks up all of an object's references, from each object's raw tables
(:class:`LookupTables`), and stops at anything it cannot read as
:func:`_lookup` would, which then looks that reference up itself (and says
what broke).  In pure Python, :func:`_lookup` looks each reference up, and
each library's answers and, once it pays, a name index are kept here (not
on the ELF reader) for the run.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from itertools import compress
import weakref
from weakref import WeakKeyDictionary

from linkaudit import accel
from linkaudit.errors import ElfReadError
from linkaudit.elf import (
    EM_MIPS,
    SHN_ABS,
    SHN_COMMON,
    SHN_UNDEF,
    STB_GLOBAL,
    STB_GNU_UNIQUE,
    STB_LOCAL,
    STB_WEAK,
    STT_COMMON,
    STT_FUNC,
    STT_GNU_IFUNC,
    STT_NOTYPE,
    STT_OBJECT,
    STT_SECTION,
    STT_TLS,
    STV_HIDDEN,
    STV_INTERNAL,
    STV_PROTECTED,
    STO_MIPS_PLT,
    ElfObject,
    Sym,
    Version,
    _GnuHash,
    _SysvHash,
    gnu_hash,
    sysv_hash,
)
from typing import NamedTuple

from linkaudit.relocations import CLASS_COPY, CLASS_PLT, classes_for

_ALLOWED_TYPES = (1 << STT_NOTYPE) | (1 << STT_OBJECT) | (1 << STT_FUNC) | (1 << STT_COMMON) | (1 << STT_TLS) | (1 << STT_GNU_IFUNC)


def type_class(machine: int, rtype: int, e_flags: int = 0, big_endian: bool = False) -> int | None:
    """``elf_machine_type_class``; None for types applied without any lookup (see relocations.py)."""
    return classes_for(machine, e_flags, big_endian).type_class(rtype)


class Reference(NamedTuple):
    """One symbol the main object asks the loader for.

    NamedTuples, here and in Resolution: a directory audit makes hundreds of
    thousands and a frozen dataclass's ``__init__`` is several times slower.
    """

    name: bytes
    version: Version | None
    weak: bool
    protected: bool
    klass: int

    def memo_key(self, klass: int) -> bytes:
        """Everything ``lookup_in`` reads besides the object: the key of a library's memo.

        One bytes object rather than a tuple: a bytes object caches its hash, and
        each reference's key is probed in every library of the scope.  Names
        never contain NUL, so the encoding is unambiguous.
        """
        v = self.version
        plt = b"p" if klass & CLASS_PLT else b""
        if v is None:
            return self.name + b"\0" + plt
        return b"%s\0%s\0%d\0%d\0%s" % (self.name, v.name, v.hash, v.hidden, plt)


class Resolution(NamedTuple):
    """Where a reference binds: the provider's index in the scope (0 = the main object), or None.

    The index, not the library: :attr:`linkaudit.report.Binding.provider` is the library itself.
    """

    ref: Reference
    scope_index: int | None
    sym: Sym | None


def _relocation_blocks(main: ElfObject) -> tuple[list[tuple[bytes, bytes]], list[tuple[int, int]],
                                                   dict[int, int | None]]:
    """``main``'s relocation blocks (u32 buffers of symbols and types), MIPS's GOT lookups as
    (symbol, pseudo type) pairs, and the ``elf_machine_type_class`` of every type they hold."""
    blocks = list(main.relocation_words())
    type_class_of = classes_for(main.e_machine, main.e_flags, main.endian == ">").type_class
    classes: dict[int, int | None] = {}
    got: list[tuple[int, int]] = []
    if main.e_machine == EM_MIPS:
        got = mips_got_references(main)
        if got:
            classes.update(_MIPS_GOT_CLASSES)
    for _, types in blocks:
        for t in accel.distinct(types, 4):
            if t not in classes:
                classes[t] = type_class_of(t)
    return blocks, got, classes


# Pseudo relocation types (no real r_type is negative) for the lookups of MIPS's GOT walk:
# as R_MIPS_JUMP_SLOT (PLT class) and as R_MIPS_32 (no class).
_MIPS_GOT_PLT, _MIPS_GOT_DATA = -1, -2
_MIPS_GOT_CLASSES: dict[int, int | None] = {_MIPS_GOT_PLT: CLASS_PLT, _MIPS_GOT_DATA: 0}


def mips_got_references(main: ElfObject) -> list[tuple[int, int]]:
    """The lookups of ``elf_machine_got_rel`` with eager binding, as (symbol index, pseudo type).

    A MIPS object imports through its global GOT entries, one per dynamic
    symbol from DT_MIPS_GOTSYM to DT_MIPS_SYMTABNO, not through relocations:
    ``ld.so`` looks each up (as R_MIPS_JUMP_SLOT, PLT class, for a function's
    lazy-binding stub; as R_MIPS_32 otherwise), except section symbols.
    """
    out: list[tuple[int, int]] = []
    for idx in main.mips_global_got():
        sym = main.read_symbol(idx)
        stt = sym.info & 0xF
        if sym.shndx == SHN_UNDEF:
            stub = stt == STT_FUNC and sym.value and not sym.other & STO_MIPS_PLT
            out.append((idx, _MIPS_GOT_PLT if stub else _MIPS_GOT_DATA))
        elif sym.shndx == SHN_COMMON:
            out.append((idx, _MIPS_GOT_DATA))
        elif stt == STT_FUNC and main.mips_got_word(idx) != sym.value:
            out.append((idx, _MIPS_GOT_PLT))
        elif stt != STT_SECTION:
            out.append((idx, _MIPS_GOT_DATA))
    return out


def _reference(main: ElfObject, symidx: int, klass: int, versyms, versions) -> Reference | None:
    """The Reference of one relocation, or None when it binds locally (RESOLVE_MAP: no lookup)."""
    name_off, info, other, shndx, _value = main.raw_symbol(symidx)
    vis = other & 0x3
    bind = info >> 4
    if bind == STB_LOCAL or vis == STV_HIDDEN or vis == STV_INTERNAL:
        return None
    version = None
    if versyms is not None:
        try:
            raw = versyms.words[symidx]
        except IndexError:
            raw = versyms[symidx]  # reads on, or raises the ElfReadError
        v = versions.get(raw & 0x7FFF)
        if v is not None and v.hash != 0:
            version = v
    return Reference(main.dynstr(name_off), version, bind == STB_WEAK and shndx == SHN_UNDEF, vis == STV_PROTECTED,
                     klass)


def _split_references(main: ElfObject, shortcut: bool,
                      with_own: bool = False) -> tuple[list[Reference], dict[int, set[int]], bytes | None]:
    """(references that need a lookup, class -> symbol indices of the references bound to ``main`` itself,
    ``main``'s string table if it was read whole for them).

    Symbol index 0 never causes a lookup.  The symbols the relocations want
    are marked in a byte per symbol, the shortcut (:func:`self_bound_mask`)
    takes its own out of them, and (symbol, type) pairs are only formed for
    the relocations left to look up: the shortcut needs no class (any class
    but COPY takes a definition in ``main``).
    """
    blocks, got, classes = _relocation_blocks(main)
    lookup = tuple(sorted(t for t, k in classes.items() if k is not None and not k & CLASS_COPY and t >= 0))
    copy = tuple(sorted(t for t, k in classes.items() if k is not None and k & CLASS_COPY))
    table = _shortcut_table(main) if shortcut else None
    mine = rest = b""  # rest: the symbols left to look up; past its end (all of it when empty) every one is
    strtab = None
    if table is not None:
        marks = bytearray(table.symbias + table.hashed_count)
        for syms, types in blocks:
            accel.mark_symbols(syms, types, lookup, marks)
        if 1 in marks:  # the sample's names: cheaper from the table read whole than block by block
            strtab = main.dynstr_whole(_SAMPLE * _STRTAB_BLOCK)
        mine = self_bound_mask(main, marks, strtab)
        if mine:
            rest = _without(marks, mine)
    pairs: dict[tuple[int, int], None] = dict.fromkeys(p for p in got if p[0])  # MIPS: never self-bound
    for syms, types in blocks:
        pairs.update(dict.fromkeys(accel.select_pairs(syms, types, lookup, copy, rest)))
    if strtab is None:
        strtab = _main_strtab(main, len(pairs))
    refs = _references_of(main, sorted(pairs), classes, strtab)
    own: dict[int, set[int]] = {}
    if mine and with_own:
        for syms, types in blocks:
            for symidx, t in accel.select_pairs(syms, types, lookup, (), mine):
                if symidx < len(mine):
                    own.setdefault(classes[t], set()).add(symidx)  # type: ignore[arg-type]
    return refs, own, strtab


def _main_strtab(main: ElfObject, names: int) -> bytes | None:
    """``main``'s string table read whole, when that costs less than reading ``names`` names one by one
    (each through a block of elf.py's cache) and it is not huge; else None."""
    return main.dynstr_whole(min(_MAIN_STRTAB_MAX, max(_WHOLE_STRTAB, names * _STRTAB_BLOCK))) if names else None


_STRTAB_BLOCK = 1 << 14  # what reading one name alone costs: a block of ElfObject's string cache
_MAIN_STRTAB_MAX = 1 << 25  # above this, names are read one by one however many (the memory is not worth it)
_WHOLE_STRTAB = 1 << 20  # a string table up to this size is read whole for many names (else name by name)


def _references_of(main: ElfObject, pairs: list[tuple[int, int]], classes: dict[int, int | None],
                   strtab: bytes | None) -> list[Reference]:
    """The References of the (symbol index, type) ``pairs`` (sorted), one per (name, version, class).

    Made in bulk by ``accel.make_references`` from the symbol entries the
    shortcut already read and the string table read whole; when that cannot
    read something, :func:`_reference` per pair reads it, which raises the
    ElfReadError a damaged table deserves.
    """
    if not pairs:
        return []
    versyms = main.versyms
    versions = main.versions if versyms is not None else {}
    lay = main.symbol_layout
    if lay is not None and lay.offset + (pairs[-1][0] + 1) * lay.size <= main.size:
        try:
            symtab = main.symbol_bytes(pairs[-1][0] + 1)  # what raw_symbol reads too; on an error it says where
        except ElfReadError:
            pass
        else:
            refs = accel.make_references(pairs, classes, symtab, main.bits == 64, main.endian == ">", strtab,
                                         main.dynstr,
                                         versyms.words if versyms is not None else None, versions, Reference)
            if refs is not None:
                return refs
    out: dict[tuple[bytes, bytes | None, int], Reference] = {}
    for symidx, t in pairs:
        klass = classes[t]
        if klass is None:
            continue
        ref = _reference(main, symidx, klass, versyms, versions)
        if ref is None:
            continue
        key = (ref.name, ref.version.name if ref.version else None, klass)
        if key not in out:
            out[key] = ref
    return list(out.values())


def _without(marks: bytes | bytearray, mine: bytes) -> bytes:
    """The byte mask ``marks`` with the entries ``mine`` marks cleared (two masks of one length)."""
    n = len(marks)
    return (int.from_bytes(marks, "little") & ~int.from_bytes(mine, "little")).to_bytes(n, "little")


def references(main: ElfObject) -> list[Reference]:
    """Every lookup ``_dl_relocate_object`` makes for ``main`` with eager binding (no shortcut)."""
    return _split_references(main, shortcut=False)[0]


# -- references a lookup in the main object itself answers ---------------------------------

_SAMPLE = 32  # names hashed per object to confirm the table hashes its own names


def self_bound(main: ElfObject, wanted: Iterable[int]) -> set[int]:
    """The symbol indices of ``wanted`` whose lookup in ``main`` certainly finds that very entry.

    :func:`self_bound_mask` over a set of indices, for tests and callers that hold one.
    """
    table = _shortcut_table(main)
    if table is None:
        return set()
    marks = bytearray(table.symbias + table.hashed_count)
    for i in wanted:
        if 0 < i < len(marks):
            marks[i] = 1
    return set(compress(range(len(marks)), self_bound_mask(main, marks)))


def _shortcut_table(main: ElfObject) -> _GnuHash | None:
    """``main``'s GNU hash table when the shortcut may apply to it at all (see :func:`self_bound_mask`)."""
    if main.e_machine == EM_MIPS:
        return None
    table = main.hash_table
    lay = main.symbol_layout
    if not isinstance(table, _GnuHash) or lay is None or table.nbuckets == 0 or table.hashed_count == 0:
        return None
    if lay.offset + (table.symbias + table.hashed_count) * lay.size > main.size:
        return None  # more symbols than the file holds: nothing to decide from
    return table


def self_bound_mask(main: ElfObject, marks: bytearray, strtab: bytes | None = None) -> bytes:
    """One byte per symbol of ``marks`` (the symbols some reference wants): 1 where the lookup in
    ``main`` certainly finds that very entry; b"" when none does or the table cannot be trusted.

    ``do_lookup_x`` in the main object, for a reference whose own symbol entry
    is ``i``, returns entry ``i`` when: its binding is global, weak or unique;
    its visibility default or protected; its type one ``check_match`` takes;
    it is defined (st_shndx not SHN_UNDEF, so the PLT-class rule cannot reject
    it); its value is non-zero (or it is absolute or TLS); its version index
    is one the reference itself then asks for (0-2, or a version with a hash);
    and the hash walk for its name reaches it before any other entry with
    that name.  All but the last are read in bulk from the table's bytes.
    For the last: the GNU hash table must be laid out as linkers write it
    (one contiguous chain per bucket, in bucket order, each ending where the
    next starts), the entry's chain hash must be unique in the table (so no
    earlier entry can have the same name), and the names of a sample of the
    entries must hash to the chain word and bucket they sit in.  When any of
    this fails the answer is b"" and every reference is looked up.

    MIPS objects are always looked up one by one: their DT_MIPS_XHASH chain
    position k is not symbol k (a translation table maps it), and they import
    through global GOT entries that the rules above were not checked against.
    On every other architecture the relocation classes cannot make the
    shortcut wrong: copy relocations never reach it, and the PLT class only
    rejects undefined entries, which it never takes.  ``strtab``, the string
    table read whole, serves the sample's names when given.
    """
    table = _shortcut_table(main)
    if table is None or 1 not in marks:
        return b""
    bias, count = table.symbias, table.hashed_count
    n = bias + count
    if len(marks) != n:
        raise ValueError("one mark per symbol of the hash table")
    try:
        if not accel.canonical_chains(table.buckets, table.chain, bias):
            return b""
        buf = main.symbol_bytes(n)
        if len(buf) < n * main.symbol_layout.size:  # type: ignore[union-attr]
            return b""
        mask = _entry_mask(main, table, buf, bias, n)
    except ElfReadError:
        return b""
    ok = mask & int.from_bytes(marks[bias:], "little")
    if not ok:
        return b""
    found = ok.to_bytes(count, "little")
    if not _sample_hashes(main, table, found, bias, strtab):
        return b""
    return bytes(bias) + found


def _entry_mask(main: ElfObject, table: _GnuHash, buf: bytes, bias: int, n: int) -> int:
    """A bit-per-byte int over entries bias..n-1: 1 where the entry satisfies every per-entry rule of the shortcut."""
    lay = main.symbol_layout
    assert lay is not None
    rules = accel.symbol_rules_mask(buf, bias * lay.size, n - bias, lay.size, lay.info, lay.other, lay.shndx,
                                    lay.value, lay.value_size, main.endian == ">")
    mask = int.from_bytes(rules, "little")
    if mask:
        mask &= _versions_mask(main, bias, n)
    if mask:
        mask &= int.from_bytes(accel.unique_hash_mask(table.chain), "little")
    return mask


def _versions_mask(main: ElfObject, bias: int, n: int) -> int:
    """1 where the entry's version index is one its own reference asks for (so check_match takes it)."""
    versyms = main.versyms
    if versyms is None:
        return int.from_bytes(b"\x01" * (n - bias), "little")
    words = versyms.words
    if len(words) < n:
        versyms[n - 1]  # reads on, or raises the ElfReadError
        words = versyms.words
    versions = main.versions

    def takes(raw: int) -> bool:
        idx = raw & 0x7FFF
        v = versions.get(idx)
        return v.hash != 0 if v is not None else idx < 3

    bad = {raw for raw in accel.distinct(memoryview(words)[bias:n], 2) if not takes(raw)}
    return int.from_bytes(accel.u16_mask(words, bias, n, bad), "little")


def _sample_hashes(main: ElfObject, table: _GnuHash, found: bytes, bias: int, strtab: bytes | None) -> bool:
    """Whether the names of a sample of the entries ``found`` marks (entry ``bias`` first) hash to
    where they sit (bloom filter, bucket, chain): the first marked entry at or after each of
    _SAMPLE evenly spaced positions."""
    tried: set[int] = set()
    for k in range(_SAMPLE):
        at = found.find(1, k * len(found) // _SAMPLE)
        if at < 0:
            break
        if at in tried:
            continue
        tried.add(at)
        if bias + at not in table.candidates(gnu_hash(_symbol_name(main, bias + at, strtab))):
            return False
    return True


def _symbol_name(main: ElfObject, index: int, strtab: bytes | None) -> bytes:
    """``main.symbol_name(index)``, sliced from ``strtab`` (the string table read whole) when given."""
    if strtab is not None:
        off = main.raw_symbol(index)[0]
        end = strtab.find(b"\0", off)
        if off < len(strtab) and end >= 0:
            return strtab[off:end]
    return main.symbol_name(index)


# -- lookups -----------------------------------------------------------------------------------

class _Library:
    """What binding keeps about one library for the run: its answers, and a name index once it pays.

    A library asked more than INDEX_AFTER_LOOKUPS distinct questions, and at
    least INDEX_LOOKUPS_PER_SYMBOL per symbol its hash chains hold, gets an
    index built from those chains: the index costs one pass over the chains,
    a walk costs a bucket per question, so it pays only when the questions
    far outnumber the symbols (measured on a 768-object corpus: lower
    thresholds built ~190 indexes and made the run 5% slower).
    """

    __slots__ = ("memo", "lookups", "index", "scopes", "bloom", "tables", "__weakref__")

    def __init__(self) -> None:
        self.memo: dict[bytes, Sym | None] = {}  # Reference.memo_key -> answer
        self.scopes: dict[tuple, dict[bytes, tuple[int | None, Sym | None]]] = {}  # see _scope_memo
        self.bloom: tuple | None = None  # (words, bits, index mask, shift) once its GNU table is read
        self.lookups = 0
        self.index: dict[bytes, list[tuple[int, int, int]]] | None = None  # None: not built; {}: never
        self.tables: LookupTables | None = None  # what accel.lookup_batch reads, once made


INDEX_AFTER_LOOKUPS = 4096
INDEX_LOOKUPS_PER_SYMBOL = 2

_LIBRARIES: WeakKeyDictionary[ElfObject, _Library] = WeakKeyDictionary()


def _library(obj: ElfObject) -> _Library:
    lib = _LIBRARIES.get(obj)
    if lib is None:
        lib = _LIBRARIES[obj] = _Library()
    return lib


class SymbolName:
    """A name being looked up and its hashes: GNU's computed once, SysV's only when a DT_HASH table asks.

    One per question, handed down the search list: every object with a GNU
    table reuses the one hash, and an object with only DT_HASH computes the
    SysV hash at most once for all of them.
    """

    __slots__ = ("name", "ghash", "_shash")

    def __init__(self, name: bytes, ghash: int | None = None) -> None:
        self.name = name
        self.ghash = gnu_hash(name) if ghash is None else ghash
        self._shash: int | None = None

    @property
    def shash(self) -> int:
        if self._shash is None:
            self._shash = sysv_hash(self.name)
        return self._shash


def hash_lookup(obj: ElfObject, wanted: SymbolName, lib: _Library | None = None) -> list[int]:
    """The symbols named ``wanted.name`` that the loader's hash-table walk reaches, in walk order.

    ``check_match`` rejects every other candidate of the walk (by name, or
    earlier for reasons that make no difference to the outcome), so only
    these matter.  Through the index, each entry keeps the bucket and chain
    word it was reached by, so the bloom filter, bucket and chain-hash tests
    are applied exactly as the walk applies them.  ``lib`` is what binding
    keeps about ``obj`` (looked up when not given).
    """
    table = obj.hash_table
    if table is None or table.nbuckets == 0:
        return []
    name = wanted.name
    if isinstance(table, _SysvHash):
        return [i for i in table.candidates(wanted.shash) if obj.symbol_name(i) == name]
    ghash = wanted.ghash
    if lib is None:
        lib = _library(obj)
    index = lib.index
    if index is None:
        lib.lookups += 1
        if lib.lookups > INDEX_AFTER_LOOKUPS and lib.lookups >= INDEX_LOOKUPS_PER_SYMBOL * table.hashed_count:
            index = _build_index(obj, lib, table)
    if index:
        entries = index.get(name)
        if not entries or not table.bloom_ok(ghash):
            return []
        bucket = ghash % table.nbuckets
        return [i for i, b, word in entries if b == bucket and ((word ^ ghash) >> 1) == 0]
    found = table.candidates(ghash)
    return [i for i in found if obj.symbol(i).name == name] if found else found


def _build_index(obj: ElfObject, lib: _Library, table: _GnuHash) -> dict[bytes, list[tuple[int, int, int]]]:
    """name -> [(symbol index, bucket, chain word)]; {} (walk instead, for good) when damaged."""
    index: dict[bytes, list[tuple[int, int, int]]] = {}
    try:
        walked = table.walk(4 * table.hashed_count + 1024)  # more than that: chains overlap, damaged
        if walked is None:
            lib.index = {}
            return {}
        for idx, bucket, word in walked:
            index.setdefault(obj.symbol_name(idx), []).append((idx, bucket, word))
    except ElfReadError:
        lib.index = {}
        return {}
    lib.index = index
    return index


def _check_match(name: bytes, version: Version | None, klass: int, obj: ElfObject, idx: int) -> tuple[Sym | None, bool]:
    """``check_match``: (matching symbol, whether it is a versioned candidate for an unversioned lookup)."""
    sym = obj.symbol(idx)
    stt = sym.info & 0xF  # sym.type, without a property call: this runs for every candidate
    if (sym.value == 0 and sym.shndx != SHN_ABS and stt != STT_TLS) or (sym.shndx == SHN_UNDEF and (
            klass & CLASS_PLT or (obj.e_machine == EM_MIPS and not sym.other & STO_MIPS_PLT))):
        return None, False  # the last: elf_machine_sym_no_match, MIPS's undefined symbols never define
    if not (1 << stt) & _ALLOWED_TYPES:
        return None, False
    if sym.name != name:
        return None, False
    verstab = obj.versyms
    if verstab is None:
        return sym, False
    try:
        raw = verstab.words[idx]
    except IndexError:
        raw = verstab[idx]  # reads on, or raises the ElfReadError
    if version is not None:
        have = obj.versions.get(raw & 0x7FFF)
        have_hash = have.hash if have else 0
        have_name = have.name if have else None
        if (have_hash != version.hash or have_name != version.name) and (version.hidden or have_hash or raw & 0x8000):
            return None, False
        return sym, False
    if (raw & 0x7FFF) >= 3:
        return None, not raw & 0x8000
    return sym, False


def lookup_in(obj: ElfObject, wanted: SymbolName, version: Version | None, klass: int) -> Sym | None:
    """``do_lookup_x`` for one object: the definition it offers, or None to move on."""
    return _lookup_in(obj, _library(obj), wanted, version, klass)


def _lookup_in(obj: ElfObject, lib: _Library, wanted: SymbolName, version: Version | None, klass: int) -> Sym | None:
    candidates = hash_lookup(obj, wanted, lib)
    if not candidates:
        return None
    name = wanted.name
    found: Sym | None = None
    versioned: Sym | None = None
    num_versions = 0
    for idx in candidates:
        sym, candidate = _check_match(name, version, klass, obj, idx)
        if sym is not None:
            found = sym
            break
        if candidate:
            num_versions += 1
            if num_versions == 1:
                versioned = obj.symbol(idx)
    if found is None and num_versions == 1:
        found = versioned
    if found is None or (found.other & 0x3) in (STV_HIDDEN, STV_INTERNAL):
        return None
    if (found.info >> 4) in (STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE):
        return found
    return None


class Bound(NamedTuple):
    """What binding one object gave: every resolution, and the search-list positions whose symbol
    tables broke on the way (index -> why), each passed over from then on."""

    resolutions: list[Resolution]
    damaged: dict[int, str]


class _Search:
    """One object's search list as binding walks it (index 0 is the main object).

    It holds the state a walk accumulates: ``damaged`` (index -> why) when a
    damaged table is to be passed over, so one broken library makes statuses
    uncertain instead of stopping the audit; None when it must raise.
    """

    __slots__ = ("main", "main_lib", "libs", "shared", "damaged")

    def __init__(self, scope: list[ElfObject | None], tolerate: bool, share: bool = False) -> None:
        main = scope[0]
        self.main = main
        self.main_lib = _library(main) if main is not None else None
        self.libs = _libraries(scope)
        self.shared = _scope_memo(self.libs) if share else None
        self.damaged: dict[int, str] | None = {} if tolerate else None

    def broke(self, index: int, exc: ElfReadError) -> None:
        """Record that ``index``'s tables are damaged, or raise when that is not tolerated."""
        if self.damaged is None:
            raise exc
        self.damaged[index] = str(exc)


def lookup(scope: list[ElfObject | None], ref: Reference, klass: int | None = None) -> tuple[int | None, Sym | None]:
    """``_dl_lookup_symbol_x`` over a search list (index 0 is the main object); a damaged table raises."""
    return _lookup(_Search(scope, tolerate=False), ref, ref.klass if klass is None else klass, False)


def _libraries(scope: list[ElfObject | None]) -> list[tuple[int, ElfObject, _Library]]:
    """(scope index, object, what binding keeps about it) of every library found, made once per bound object."""
    return [(i, obj, _library(obj)) for i, obj in enumerate(scope) if i and obj is not None]


def _may_define(obj: ElfObject, lib: _Library, ghash: int) -> bool:
    """False when the object's GNU bloom filter rules the name out: ``candidates`` would find nothing.

    The test ``candidates`` starts with, made before any call: every object is
    asked most questions in vain, and its filter rejects most of them.
    """
    bloom = lib.bloom
    if bloom is None:
        table = obj.__dict__.get("hash_table", _UNKNOWN)  # only once read (a damaged table raises on reading)
        if table.__class__ is not _GnuHash or not table.bloom:
            return True
        bloom = lib.bloom = (table.bloom, table.bits, table.idxbits, table.shift & 0xFF, table.bits - 1)
    words, bits, idxbits, shift, low = bloom
    word = words[(ghash // bits) & idxbits]
    return bool((word >> (ghash & low)) & (word >> ((ghash >> shift) & low)) & 1)


def _scope_memo(libs: list[tuple[int, ElfObject, _Library]]) -> dict[bytes, tuple[int | None, Sym | None]] | None:
    """The answers of a whole list of libraries (after the main object), shared by the objects that load it.

    The objects of a tree often load the very same libraries in the same
    order (libc, libm, libpthread, ...); a question they share is then
    answered by one dictionary lookup instead of one per library.  Kept by
    the first library, so it lives exactly as long as the libraries do.
    """
    if not libs:
        return None
    key = tuple((i, lib) for i, _, lib in libs)
    return libs[0][2].scopes.setdefault(key, {})


def _lookup(search: _Search, ref: Reference, klass: int, share: bool) -> tuple[int | None, Sym | None]:
    """``lookup`` proper: the main object first, then the libraries through their memos.

    A library's answer depends only on the memo key, so the objects of a run
    that share libc, libstdc++, ... ask each question of each library once;
    with ``share`` the whole list's answer is memoized too (see _scope_memo).
    """
    name = ref.name
    ghash = gnu_hash(name)
    wanted = None  # made only when some object's table is walked
    main, damaged = search.main, search.damaged
    if (main is not None and not klass & CLASS_COPY and not (damaged and 0 in damaged)
            and _may_define(main, search.main_lib, ghash)):  # type: ignore[arg-type]
        wanted = SymbolName(name, ghash)
        try:  # not memoized: these questions are the main object's own, seldom asked again
            sym = _lookup_in(main, search.main_lib, wanted, ref.version, klass)  # type: ignore[arg-type]
        except ElfReadError as exc:
            search.broke(0, exc)
        else:
            if sym is not None:
                return 0, sym
    key = ref.memo_key(klass)
    shared = search.shared if share and not search.damaged else None
    if shared is not None:
        hit = shared.get(key)
        if hit is not None:
            return hit
    answer = _lookup_libraries(search, wanted or SymbolName(name, ghash), ref.version, klass, key)
    if shared is not None and not search.damaged:
        shared[key] = answer
    return answer


def _lookup_libraries(search: _Search, wanted: SymbolName, version: Version | None, klass: int,
                      key: bytes) -> tuple[int | None, Sym | None]:
    damaged = search.damaged
    for i, obj, lib in search.libs:
        if damaged and i in damaged:
            continue
        memo = lib.memo
        sym = memo.get(key, _UNKNOWN)
        if sym is None:
            continue
        if sym is _UNKNOWN:
            if not _may_define(obj, lib, wanted.ghash):
                memo[key] = None
                continue
            try:
                sym = _lookup_in(obj, lib, wanted, version, klass)
            except ElfReadError as exc:
                search.broke(i, exc)
                continue
            memo[key] = sym
            if sym is None:
                continue
        return i, sym
    return None, None


_UNKNOWN = object()  # not in a memo yet (None there means "not found")


def bind(scope: list[ElfObject | None], *, include_self: bool = True, shortcut: bool = True) -> list[Resolution]:
    """Resolve every reference of ``scope[0]``; a None in ``scope`` is a library not found; a damaged table raises.

    References bound to ``scope[0]`` itself are found in bulk (see
    :func:`self_bound`; ``shortcut=False`` looks every one up instead) and
    left out with ``include_self=False``, which is all the verdicts need.
    """
    return _bind(scope, include_self, shortcut, tolerate=False).resolutions


def bind_tolerant(scope: list[ElfObject | None], *, include_self: bool = True, shortcut: bool = True) -> Bound:
    """:func:`bind`, passing over every object whose symbol tables turn out damaged (named in the result)."""
    return _bind(scope, include_self, shortcut, tolerate=True)


def _bind(scope: list[ElfObject | None], include_self: bool, shortcut: bool, tolerate: bool) -> Bound:
    main = scope[0]
    assert main is not None
    refs, own, strtab = _split_references(main, shortcut, with_own=include_self)
    out = _self_resolutions(main, own) if include_self and own else []
    if accel.BATCH_LOOKUPS:
        damaged = _batch_resolutions(scope, tolerate, refs, include_self, out, strtab)
    else:
        search = _Search(scope, tolerate, share=True)
        for ref in refs:
            _resolve(search, ref, include_self, out)
        damaged = search.damaged
    return Bound(out, damaged or {})


def _resolve(search: _Search, ref: Reference, include_self: bool, out: list[Resolution]) -> None:
    """Append the Resolution of ``ref`` to ``out`` (unless it binds to the main object and that is left out)."""
    index, sym = _lookup(search, ref, ref.klass, True)
    if index is not None and index != 0 and ref.protected:
        if ref.klass == CLASS_PLT:
            index = 0
        else:
            again, _ = _lookup(search, ref, CLASS_PLT, False)
            if again is not None and again != 0:
                index = 0
    if index == 0 and not include_self:
        return
    out.append(Resolution(ref, index, sym))


def _batch_resolutions(scope: list[ElfObject | None], tolerate: bool, refs: list[Reference], include_self: bool,
                       out: list[Resolution], strtab: bytes | None) -> dict[int, str] | None:
    """:func:`_resolve` of every reference, most of them by ``accel.lookup_batch`` over the objects' raw
    tables; returns the damaged objects (as ``_Search.damaged``).

    One call resolves a whole run of references; where it stops (a table it
    cannot read as :func:`_lookup` would, or a protected reference that
    takes a second lookup), that reference is resolved by :func:`_resolve`,
    which says what broke (passing that object over from then on, or
    raising), and the batch goes on after it.
    """
    tables: list[LookupTables | None] = [None] * len(scope)
    for i, obj in enumerate(scope):
        if obj is not None:
            tables[i] = lookup_tables(obj, _library(obj)) if i else lookup_tables(obj, strtab=strtab)
    search: _Search | None = None  # made at the first stop (most objects never stop)
    pos = 0
    while True:
        stop, found = accel.lookup_batch(tables, refs, pos, include_self, Sym, Resolution)
        out += found
        if stop >= len(refs):
            return search.damaged if search is not None else None
        if search is None:
            search = _Search(scope, tolerate, share=True)
        _resolve(search, refs[stop], include_self, out)
        for i in search.damaged or ():
            tables[i] = None
        pos = stop + 1


class LookupTables(NamedTuple):
    """An object's tables as ``accel.lookup_batch`` reads them (by position: see ``bulk.lookup_batch``)."""

    kind: int  # bulk.TABLE_NONE / TABLE_GNU / TABLE_SYSV / TABLE_UNREADABLE
    bloom: array | None
    shift: int
    buckets: array | None
    chain: array | None
    symbias: int
    xlat: array | None
    walk_limit: int
    symtab: bytes | None  # None: unreadable
    wide: bool  # Elf64_Sym entries (and 64-bit bloom words)
    big_endian: bool
    strtab: bytes | None  # None: names are read through dynstr
    dynstr: Callable[[int], bytes]
    versyms: array | None | bool  # None: no DT_VERSYM; False: unreadable
    versions_of: Callable[[], dict[int, Version]]  # asked only when a versioned reference needs it
    mips: bool


_TABLE_NONE, _TABLE_GNU, _TABLE_SYSV, _TABLE_UNREADABLE = 0, 1, 2, 3  # as bulk.TABLE_*


def lookup_tables(obj: ElfObject, lib: _Library | None = None, strtab: bytes | None = None) -> LookupTables:
    """``obj``'s :class:`LookupTables`, each part read as the lookups read it; kept on ``lib`` when given.

    A part that fails to read is marked unreadable: a lookup that needs it
    stops the batch, and :func:`_lookup` meets the same failure and says so.
    ``strtab`` is the string table when the caller already read it whole.
    """
    if lib is not None and lib.tables is not None:
        return lib.tables
    mips = obj.e_machine == EM_MIPS
    wide, big = obj.bits == 64, obj.endian == ">"
    dynstr, versions = _readers(obj)
    try:
        table = obj.hash_table
    except ElfReadError:
        tables = LookupTables(_TABLE_UNREADABLE, None, 0, None, None, 0, None, 0, None, wide, big, None, dynstr,
                              None, versions, mips)
    else:
        if table is None or table.nbuckets == 0:
            tables = LookupTables(_TABLE_NONE, None, 0, None, None, 0, None, 0, None, wide, big, None, dynstr,
                                  None, versions, mips)
        else:
            try:
                symtab: bytes | None = obj.symbol_bytes(obj.symbol_count)
            except ElfReadError:
                symtab = None
            try:
                versyms = obj.versyms
                words: array | None | bool = versyms.words if versyms is not None else None
            except ElfReadError:
                words = False
            if strtab is None:
                strtab = obj.dynstr_whole(_WHOLE_STRTAB)
            if isinstance(table, _GnuHash):
                tables = LookupTables(_TABLE_GNU, table.bloom, table.shift, table.buckets, table.chain, table.symbias,
                                      table.xlat, table.walk_limit, symtab, wide, big, strtab, dynstr, words,
                                      versions, mips)
            else:
                tables = LookupTables(_TABLE_SYSV, None, 0, table.buckets, table.chain, 0, None, 0, symtab, wide, big,
                                      strtab, dynstr, words, versions, mips)
    if lib is not None:
        lib.tables = tables
    return tables


def _readers(obj: ElfObject) -> tuple[Callable[[int], bytes], Callable[[], dict[int, Version]]]:
    """``obj.dynstr`` and ``obj.versions`` as callables that hold ``obj`` weakly: the tables are kept on its
    :class:`_Library`, which lives exactly as long as ``obj`` does (a strong reference would keep both)."""
    ref = weakref.ref(obj)

    def dynstr(offset: int) -> bytes:
        return ref().dynstr(offset)  # type: ignore[union-attr]

    def versions() -> dict[int, Version]:
        return ref().versions  # type: ignore[union-attr]

    return dynstr, versions


def _self_resolutions(main: ElfObject, own: dict[int, set[int]]) -> list[Resolution]:
    """The resolutions to ``main`` itself of the references :func:`self_bound_mask` decided (class -> symbols)."""
    versyms = main.versyms
    versions = main.versions if versyms is not None else {}
    seen: set[tuple[bytes, bytes | None, int]] = set()
    out = []
    for symidx, klass in sorted((i, k) for k, found in own.items() for i in found):
        ref = _reference(main, symidx, klass, versyms, versions)
        assert ref is not None
        key = (ref.name, ref.version.name if ref.version else None, klass)
        if key not in seen:
            seen.add(key)
            out.append(Resolution(ref, 0, main.symbol(symidx)))
    return out


def owner_of(name: bytes, scope: list[ElfObject | None], exclude: int) -> tuple[int, bytes] | None:
    """The library whose versioned ABI ``name`` belongs to, other than ``scope[exclude]``.

    A library "owns" a symbol when it exports it under a version definition of
    its own (for example ``GLIBCXX_3.4.29`` in libstdc++), as opposed to an
    unversioned copy another library happens to re-export.
    """
    wanted = SymbolName(name)
    for i, obj in enumerate(scope):
        if i in (0, exclude) or obj is None:
            continue
        verstab = obj.versyms
        if verstab is None:
            continue
        for idx in hash_lookup(obj, wanted):  # the definitions named `name`, in walk order
            sym = obj.symbol(idx)
            if sym.shndx == SHN_UNDEF or sym.bind == STB_LOCAL:
                continue
            if sym.visibility in (STV_HIDDEN, STV_INTERNAL):
                continue
            ver = obj.versions.get(verstab[idx] & 0x7FFF)
            if ver is not None and ver.filename is None:
                return i, ver.name
    return None


def is_unversioned_definition(obj: ElfObject, sym: Sym) -> bool:
    """Whether ``sym`` (a definition in ``obj``) carries no version of ``obj``'s own."""
    verstab = obj.versyms
    if verstab is None:
        return True
    ver = obj.versions.get(verstab[sym.index] & 0x7FFF)
    return ver is None or ver.filename is not None
