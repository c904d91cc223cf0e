"""The bulk loops over table bytes, in pure Python: the reference of the optional compiled fast path.

Auditing a big C++ library spends its time in a few loops over whole tables:
hashing names, splitting hundreds of thousands of relocations into their
symbols and types, and testing every symbol-table entry against the rules of
``check_match``.  Each of them is a function here, over byte buffers and ints,
returning plain Python objects.  ``linkaudit/_speedups.c`` implements the very
same functions in C; :mod:`linkaudit.accel` picks one of the two once, and the
rest of the code calls through it.  This module stays the reference: it is what
runs without a compiler (or with ``LINKAUDIT_PURE_PYTHON=1``), and the tests
compare the two on every fixture and on random and hostile buffers.

Buffers of "u32" or "u16" words hold native-order words (what ``array('I')``
and ``array('H')`` hold); a byte mask holds one byte per entry, 1 or 0.
Arguments that cannot describe a table (a length that is not a whole number of
entries, a field outside the entry) raise ValueError in both implementations.
"""

from __future__ import annotations

from array import array
from collections import Counter, deque
from functools import lru_cache
from itertools import compress, islice, repeat
from operator import and_, itemgetter, lt, mul, rshift

import struct
import sys

_NATIVE_BIG = sys.byteorder == "big"
EM_MIPS, EM_SPARCV9 = 8, 43
SHN_ABS = 0xFFF1
STT_TLS = 6
# STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE; and the types check_match takes (NOTYPE, OBJECT, FUNC, COMMON, TLS, IFUNC)
_BINDS = (1, 2, 10)
_ALLOWED_TYPES = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 5) | (1 << 6) | (1 << 10)

# 33**k mod 2**32, highest power first: gnu_hash's polynomial evaluated as one C-level dot product.
_HASH_MAX = 1024
_POW33 = [1]
for _ in range(_HASH_MAX):  # successive products: a tenth of the start-up cost of 1025 pow() calls
    _POW33.append(_POW33[-1] * 33 & 0xFFFFFFFF)
_POW33.reverse()


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


def _u32(buf) -> memoryview:
    view = memoryview(buf).cast("B")
    if len(view) % 4:
        raise ValueError("a buffer of u32 words has a length that is not a multiple of 4")
    return view.cast("I")


def relocation_words(raw, entsize: int, bits: int, big_endian: bool, machine: int) -> tuple[bytes, bytes]:
    """(symbol indices, types) of a block of Elf32/64_Rel[a] entries, as native u32 words.

    ``r_info`` is the second word of every entry kind.  On 64-bit it is split
    into its two 32-bit halves by strided views (no Python int is made for
    r_offset or r_addend); on 32-bit the symbol is the top 24 bits and the type
    the low 8.  This is the one place that knows the r_info layout, including
    the two 64-bit machines whose glibc port splits it otherwise:

    * MIPS64 stores r_sym (a 32-bit word) and then the bytes r_ssym, r_type3,
      r_type2, r_type, each in file order; glibc's ``ELF64_MIPS_R_TYPE``
      makes them one number, r_type | r_type2 << 8 | r_type3 << 16 |
      r_ssym << 24.  Big-endian that is the plain layout; little-endian the
      symbol is the low word and the type bytes come reversed in the high one.
    * SPARC V9 keeps a 24-bit addend in the type's upper bits; glibc takes
      ``ELF64_R_TYPE_ID``, the low 8.
    """
    _check_relocations(raw, entsize, bits)
    per = entsize // 4
    words = array("I")
    words.frombytes(raw)
    if big_endian != _NATIVE_BIG:
        words.byteswap()
    if bits == 32:
        info = words[1::per]
        return (array("I", map(rshift, info, repeat(8, len(info)))).tobytes(),
                array("I", map(and_, info, repeat(0xFF, len(info)))).tobytes())
    if machine == EM_MIPS and not big_endian:
        types = words[3::per]
        types.byteswap()  # the four type bytes, read in file order as one big-endian number
        return words[2::per].tobytes(), types.tobytes()
    hi, lo = (2, 3) if big_endian else (3, 2)  # r_info = sym << 32 | type: the high half comes first big-endian
    if machine == EM_SPARCV9:
        low = words[lo::per]
        return words[hi::per].tobytes(), array("I", map(and_, low, repeat(0xFF, len(low)))).tobytes()
    return words[hi::per].tobytes(), words[lo::per].tobytes()


def _check_relocations(raw, entsize: int, bits: int) -> None:
    if bits not in (32, 64):
        raise ValueError(f"ELF class of {bits} bits")
    if entsize % 4 or entsize < (16 if bits == 64 else 8):
        raise ValueError(f"relocation entries of {entsize} bytes")
    if len(memoryview(raw).cast("B")) % entsize:
        raise ValueError("a relocation block that is not a whole number of entries")


def _pair(syms, types) -> tuple[list[int], list[int]]:
    """Two buffers of u32 words as lists (a list iterates faster than a memoryview)."""
    s, t = _u32(syms), _u32(types)
    if len(s) != len(t):
        raise ValueError("symbol and type buffers of different lengths")
    return s.tolist(), t.tolist()


def mark_symbols(syms, types, wanted: tuple[int, ...], marks: bytearray) -> None:
    """Set ``marks[s] = 1`` for the relocations whose type is in ``wanted``: symbol 0, and symbols
    past the end of ``marks``, left out."""
    s, t = _pair(syms, types)
    want = frozenset(wanted)
    kinds = set(t)
    n = len(marks)
    if not kinds & want or not n:
        return
    picked = s if kinds <= want else list(compress(s, map(want.__contains__, t)))
    if max(picked) >= n:
        picked = [x for x in picked if x < n]  # only in damaged tables
    first = marks[0]
    deque(map(marks.__setitem__, picked, repeat(1)), 0)
    marks[0] = first


def select_pairs(syms, types, lookup: tuple[int, ...], copy: tuple[int, ...], rest) -> list[tuple[int, int]]:
    """The distinct (symbol, type) pairs, sorted, of the relocations still to look up.

    A pair is kept when its symbol is not 0 and its type is in ``copy``, or
    its type is in ``lookup`` and ``rest`` marks its symbol (a symbol past the
    end of ``rest`` counts as marked).
    """
    s, t = _pair(syms, types)
    rest = bytes(memoryview(rest).cast("B"))  # bytes index faster than a memoryview
    lk, cp, n = frozenset(lookup), frozenset(copy), len(rest)
    kinds = set(t)
    if not kinds & (lk | cp):
        return []
    if not n:  # every symbol counts as marked
        pairs = set(compress(zip(s, t), map(lk.__contains__, t)))
    else:  # the marked ones are few: test their types one by one
        marked = map(rest.__getitem__, s) if max(s) < n else map(lambda x: x >= n or rest[x], s)
        pairs = {(s[i], t[i]) for i in compress(range(len(s)), bytes(marked)) if t[i] in lk}
    if kinds & cp:
        pairs.update(compress(zip(s, t), map(cp.__contains__, t)))
    return sorted(filter(itemgetter(0), pairs))


def distinct(buf, width: int) -> set[int]:
    """The distinct values of a buffer of native u32 (``width`` 4) or u16 (``width`` 2) words."""
    if width == 4:
        return set(_u32(buf).tolist())
    if width == 2:
        view = memoryview(buf).cast("B")
        if len(view) % 2:
            raise ValueError("a buffer of u16 words has an odd length")
        return set(view.cast("H").tolist())
    raise ValueError(f"words of {width} bytes")


def _byte_table(pred) -> bytes:
    return bytes(1 if pred(b) else 0 for b in range(256))


_BIND_TYPE_OK = _byte_table(lambda b: (b >> 4) in _BINDS and (1 << (b & 0xF)) & _ALLOWED_TYPES)
_VIS_OK = _byte_table(lambda b: (b & 0x3) in (0, 3))  # STV_DEFAULT, STV_PROTECTED
_IS_TLS = _byte_table(lambda b: (b & 0xF) == STT_TLS)
_NONZERO = _byte_table(lambda b: b != 0)
_IS_ABS_LOW = _byte_table(lambda b: b == SHN_ABS & 0xFF)  # the two bytes of st_shndx == SHN_ABS
_IS_ABS_HIGH = _byte_table(lambda b: b == SHN_ABS >> 8)
_ODD = _byte_table(lambda b: b & 1)
_EVEN = bytes(b & 0xFE for b in range(256))
_NONZERO_IS_0 = bytes([1]) + bytes(255)
_LOW_BYTE = 3 if _NATIVE_BIG else 0  # where a native u32's bit 0 sits


def symbol_rules_mask(buf, lo: int, count: int, size: int, info: int, other: int, shndx: int, value: int,
                      value_size: int, big_endian: bool) -> bytes:
    """One byte per symbol entry (``count`` entries of ``size`` bytes from offset ``lo``): 1 where
    ``check_match`` takes the entry as a definition whatever the name and version.

    That is: binding global, weak or unique; type NOTYPE, OBJECT, FUNC,
    COMMON, TLS or IFUNC; visibility default or protected; st_shndx not
    SHN_UNDEF; and st_value non-zero, or the entry absolute or TLS.  ``info``,
    ``other``, ``shndx`` and ``value`` are the fields' offsets in an entry.
    """
    buf = buf if isinstance(buf, bytes) else bytes(memoryview(buf).cast("B"))  # bytes slice fastest
    if (lo < 0 or count < 0 or size <= 0 or value_size <= 0 or min(info, other, shndx, value) < 0
            or max(info + 1, other + 1, shndx + 2, value + value_size) > size or len(buf) < lo + count * size):
        raise ValueError("symbol entries or fields outside the buffer")
    hi = lo + count * size

    def ints(raw) -> int:
        return int.from_bytes(raw, "little")

    def nonzero(v: int) -> int:
        return ints(v.to_bytes(count, "little").translate(_NONZERO))

    info_b = buf[lo + info:hi:size]
    sh_a, sh_b = buf[lo + shndx:hi:size], buf[lo + shndx + 1:hi:size]
    sh_lsb, sh_msb = (sh_b, sh_a) if big_endian else (sh_a, sh_b)
    val = 0
    for k in range(value_size):
        val |= ints(buf[lo + value + k:hi:size])
    shn_abs = ints(sh_lsb.translate(_IS_ABS_LOW)) & ints(sh_msb.translate(_IS_ABS_HIGH))
    mask = (ints(info_b.translate(_BIND_TYPE_OK)) & ints(buf[lo + other:hi:size].translate(_VIS_OK))
            & nonzero(ints(sh_a) | ints(sh_b))
            & (nonzero(val) | shn_abs | ints(info_b.translate(_IS_TLS))))
    return mask.to_bytes(count, "little")


def unique_hash_mask(chain) -> bytes:
    """One byte per word of a GNU hash chain: 1 where no other word holds the same hash (bit 0 aside)."""
    raw = bytearray(_u32(chain).tobytes())
    count = len(raw) // 4
    raw[_LOW_BYTE::4] = raw[_LOW_BYTE::4].translate(_EVEN)
    hashes = memoryview(raw).cast("I")
    counts = Counter(hashes)  # counted in C
    if len(counts) == count:
        return b"\x01" * count
    shared = set(compress(counts, map((1).__lt__, counts.values())))
    return bytes(map(shared.__contains__, hashes)).translate(_NONZERO_IS_0)


def max_u32(words) -> int:
    """The largest of native u32 words (0 for none): where a GNU hash table's last chain starts."""
    return max(_u32(words), default=0)


def u16_mask(words, start: int, stop: int, bad) -> bytes:
    """One byte per u16 word ``start``..``stop``-1: 0 where the word is in ``bad``, else 1."""
    view = memoryview(words).cast("B")
    if len(view) % 2:
        raise ValueError("a buffer of u16 words has an odd length")
    view = view.cast("H")
    if not 0 <= start <= stop <= len(view):
        raise ValueError("u16 words outside the buffer")
    bad = frozenset(bad)
    if not bad:
        return b"\x01" * (stop - start)
    return bytes(map(bad.__contains__, view[start:stop])).translate(_NONZERO_IS_0)


def canonical_chains(buckets, chain, symbias: int) -> bool:
    """Whether GNU hash chains are laid out as a linker writes them.

    Non-empty bucket starts ascend from ``symbias`` (the first one is it), and
    each chain ends (a word with bit 0 set) exactly where the next one starts;
    the last one ends at the end of ``chain``.
    """
    b, c = _u32(buckets), _u32(chain)
    starts = list(filter(None, b))
    if not starts or starts[0] != symbias or not all(map(lt, starts, islice(starts, 1, None))):
        return False
    odd = bytes(c.cast("B")[_LOW_BYTE::4]).translate(_ODD)
    ends = list(compress(range(symbias + 1, symbias + len(c) + 1), odd))
    return ends == starts[1:] + [symbias + len(c)]


# -- symbol lookups over a search list ----------------------------------------------------------

TABLE_NONE, TABLE_GNU, TABLE_SYSV, TABLE_UNREADABLE = 0, 1, 2, 3
CLASS_PLT, CLASS_COPY = 1, 2  # elf_machine_type_class bits (linkaudit.relocations)
SHN_UNDEF, STO_MIPS_PLT = 0, 0x8
_DEFINING_BINDS = frozenset(_BINDS)


class _Undecided(Exception):
    """A table this lookup cannot read as the caller's own code would: the caller looks the reference up itself."""


def lookup_batch(scope, refs, start: int, with_own: bool, sym_cls, res_cls) -> tuple[int, list]:
    """``do_lookup_x`` over a search list for each of ``refs[start:]``, in order, from the tables' raw words.

    ``scope[i]`` describes object i of the search list (None: passed over)
    by position, as ``linkaudit.binding.LookupTables`` lays it out: table
    kind (TABLE_*), bloom words (native, of 64 bits when the symbol entries
    are wide), bloom shift, buckets, chains (native u32), symoffset, MIPS
    xhash translation (or None), the longest chain walked, DT_SYMTAB's bytes
    (None: unreadable), whether entries are Elf64_Sym, whether the file is
    big-endian, DT_STRTAB's bytes (None: read names through the next field),
    ``dynstr(offset) -> bytes``, the version index of each symbol (u16 array;
    None: no table; False: unreadable), ``versions_of() -> {index: (name,
    hash, ...)}`` (asked only for a versioned reference, since reading the
    version records is work; it may raise), and whether the object is MIPS.  A
    reference is read by position too: name, version (None or (name, hash,
    hidden, ...)), weak, protected, class; object 0 is passed over for a
    class with CLASS_COPY.

    Returns (stop, resolutions): one ``res_cls`` tuple (reference, scope
    index, ``sym_cls`` tuple (index, name, info, other, shndx, value)) or
    (reference, None, None) per reference, in order, those bound to object 0
    left out unless ``with_own``; ``stop`` is where the batch ended:
    ``len(refs)``, or the first reference whose lookup reached something
    this function does not read (a table that is unreadable, a chain that
    runs past its limit, an entry or a name outside what it was given, a
    ``dynstr`` that raised), or a protected reference bound outside object 0
    (which takes a second lookup).  It answers only where every read the
    caller's own lookup would make succeeds, and then with exactly its
    answer; the caller resolves ``refs[stop]`` its own way (which says what
    broke) and calls again from ``stop + 1``.
    """
    if not 0 <= start <= len(refs):
        raise ValueError("a batch starting outside the references")
    for t in scope:
        if t is not None and t[0] in (TABLE_GNU, TABLE_SYSV) and (
                t[3] is None or t[4] is None or not len(t[3]) or (t[0] == TABLE_GNU and t[1] is None)):
            raise ValueError("a hash table without buckets, chains or bloom words")
    out: list = []
    new = tuple.__new__
    for k in range(start, len(refs)):
        ref = refs[k]
        name, version, klass = ref[0], ref[1], ref[4]
        ghash = gnu_hash(name)
        shash = [None]
        answer = None
        try:
            for i, tables in enumerate(scope):
                if tables is None or (i == 0 and klass & CLASS_COPY):
                    continue
                found = _lookup_one(tables, name, ghash, shash, version, klass)
                if found is not None:
                    answer = i, found
                    break
        except _Undecided:
            return k, out
        if answer is None:
            out.append(new(res_cls, (ref, None, None)))
            continue
        i, found = answer
        if i and ref[3]:
            return k, out
        if i or with_own:
            _, info, other, shndx, value = _entry(scope[i], found)
            out.append(new(res_cls, (ref, i, new(sym_cls, (found, name, info, other, shndx, value)))))
    return len(refs), out


def _lookup_one(t, name: bytes, ghash: int, shash: list, version, klass: int) -> int | None:
    """``do_lookup_x`` in one object: the symbol index it offers, or None to move on."""
    kind = t[0]
    if kind == TABLE_NONE:
        return None
    if kind == TABLE_GNU:
        candidates = _gnu_candidates(t, ghash)
    elif kind == TABLE_SYSV:
        if shash[0] is None:
            shash[0] = sysv_hash(name)
        candidates = _sysv_candidates(t, shash[0])
    else:
        raise _Undecided
    named = [i for i in candidates if _name(t, _entry(t, i)[0]) == name]  # every name read before any match
    found = versioned = None
    num_versions = 0
    mips = t[15]
    for idx in named:
        _, info, other, shndx, value = _entry(t, idx)
        stt = info & 0xF
        if (value == 0 and shndx != SHN_ABS and stt != STT_TLS) or (shndx == SHN_UNDEF and (
                klass & CLASS_PLT or (mips and not other & STO_MIPS_PLT))):
            continue
        if not (1 << stt) & _ALLOWED_TYPES:
            continue
        versyms = t[13]
        if versyms is None:
            found = idx
            break
        if versyms is False or idx >= len(versyms):
            raise _Undecided
        raw = versyms[idx]
        if version is not None:
            try:
                versions = t[14]()
            except Exception:
                raise _Undecided from None
            if not isinstance(versions, dict):
                raise TypeError("versions_of() must return a dict")
            have = versions.get(raw & 0x7FFF)
            have_hash = have[1] if have else 0
            have_name = have[0] if have else None
            if (have_hash != version[1] or have_name != version[0]) and (version[2] or have_hash or raw & 0x8000):
                continue
            found = idx
            break
        if (raw & 0x7FFF) >= 3:
            if not raw & 0x8000:
                num_versions += 1
                if num_versions == 1:
                    versioned = idx
            continue
        found = idx
        break
    if found is None and num_versions == 1:
        found = versioned
    if found is None:
        return None
    _, info, other, _, _ = _entry(t, found)
    if other & 0x3 in (1, 2) or (info >> 4) not in _DEFINING_BINDS:  # internal, hidden; local and the rest
        return None
    return found


def _gnu_candidates(t, h: int) -> list[int]:
    """The symbol indices of the chain of ``h`` whose chain hash is ``h``'s (``_GnuHash.candidates``)."""
    bloom, shift, buckets, chain, bias, xlat, walk_limit = t[1], t[2], t[3], t[4], t[5], t[6], t[7]
    if not len(bloom):
        raise _Undecided
    bits = 64 if t[9] else 32
    word = bloom[(h // bits) & (len(bloom) - 1)]
    if not (word >> (h & (bits - 1))) & (word >> ((h >> (shift & 0xFF)) & (bits - 1))) & 1:
        return []
    bucket = buckets[h % len(buckets)]
    if bucket == 0:
        return []
    k = bucket - bias
    if k < 0:
        raise _Undecided
    end = min(len(chain), k + walk_limit)
    want = h >> 1
    out = []
    while k < end:
        value = chain[k]
        if value >> 1 == want:
            out.append(k + bias)
        if value & 1:
            if xlat is None:
                return out
            if out and out[-1] - bias >= len(xlat):
                raise _Undecided
            return [xlat[i - bias] for i in out]
        k += 1
    raise _Undecided  # a chain past its limit, or past the table


def _sysv_candidates(t, h: int) -> list[int]:
    """The symbol indices of the chain of ``h`` (``_SysvHash.candidates``)."""
    buckets, chain = t[3], t[4]
    n = len(chain)
    idx = buckets[h % len(buckets)]
    out: list[int] = []
    while idx != 0:
        if idx >= n or len(out) >= n:
            raise _Undecided
        out.append(idx)
        idx = chain[idx]
    return out


_SYM64 = {False: struct.Struct("<IBBHQ"), True: struct.Struct(">IBBHQ")}
_SYM32 = {False: struct.Struct("<IIIBBH"), True: struct.Struct(">IIIBBH")}


def _entry(t, idx: int) -> tuple[int, int, int, int, int]:
    """(st_name, st_info, st_other, st_shndx, st_value) of entry ``idx``."""
    symtab, wide, big = t[8], t[9], t[10]
    size = 24 if wide else 16
    if symtab is None or idx < 0 or (idx + 1) * size > len(symtab):
        raise _Undecided
    if wide:
        return _SYM64[big].unpack_from(symtab, idx * 24)
    name, value, _size, info, other, shndx = _SYM32[big].unpack_from(symtab, idx * 16)
    return name, info, other, shndx, value


def _name(t, offset: int) -> bytes:
    strtab = t[11]
    if strtab is None:
        try:
            return t[12](offset)
        except Exception:  # whatever it was, the caller's own lookup meets it again and says so
            raise _Undecided from None
    end = strtab.find(b"\0", offset)
    if offset >= len(strtab) or end < 0:
        raise _Undecided
    return strtab[offset:end]


# -- the references of an object -----------------------------------------------------------------

STB_LOCAL, STB_WEAK, STV_PROTECTED = 0, 2, 3


def make_references(pairs, classes, symtab, wide: bool, big: bool, strtab, dynstr, versyms, versions, cls):
    """The references of the (symbol index, relocation type) ``pairs``, one per (name, version name, class)
    in the order first met, each ``cls``'s tuple (name, version, weak, protected, class); or None.

    ``classes`` maps a type to its class (None: no lookup); a symbol that is
    local, hidden or internal binds locally and makes none.  The version is
    ``versions[versyms[i] & 0x7FFF]`` when that one has a hash (``versyms``
    None: no table).  Names come from ``strtab`` (DT_STRTAB's bytes), or
    through ``dynstr(offset)`` when it is None.  None is returned when an
    entry or version index lies past what was given, or a name cannot be
    read: the caller then reads them its own way, which says what is wrong.
    """
    unpack = (_SYM64 if wide else _SYM32)[big].unpack_from
    size = 24 if wide else 16
    out: dict = {}
    new = tuple.__new__
    for symidx, t in pairs:
        klass = classes[t]
        if klass is None:
            continue
        if (symidx + 1) * size > len(symtab):
            return None
        if wide:
            name_off, info, other, shndx, _value = unpack(symtab, symidx * 24)
        else:
            name_off, _value, _size, info, other, shndx = unpack(symtab, symidx * 16)
        vis = other & 0x3
        bind = info >> 4
        if bind == STB_LOCAL or vis == 1 or vis == 2:  # STV_INTERNAL, STV_HIDDEN
            continue
        version = None
        if versyms is not None:
            if symidx >= len(versyms):
                return None
            v = versions.get(versyms[symidx] & 0x7FFF)
            if v is not None and v[1] != 0:
                version = v
        if strtab is None:
            try:
                name = dynstr(name_off)
            except Exception:
                return None
        else:
            end = strtab.find(b"\0", name_off)
            if name_off >= len(strtab) or end < 0:
                return None
            name = strtab[name_off:end]
        key = (name, version[0] if version is not None else None, klass)
        if key not in out:
            out[key] = new(cls, (name, version, bind == STB_WEAK and shndx == SHN_UNDEF, vis == STV_PROTECTED, klass))
    return list(out.values())
