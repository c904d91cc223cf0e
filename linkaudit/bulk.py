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
