"""The bulk loops: bulk.py against their definitions, and the compiled twin against bulk.py.

``linkaudit.bulk`` is the reference; each function is checked here against a
plain loop written from its definition (never against its own output).  The
compiled ``linkaudit._speedups`` must then give exactly what bulk.py gives,
results or ValueError alike, on random and hostile buffers: lengths that are
not whole entries, offsets and counts outside the buffer, symbols past the
end of a mask, both byte orders and both ELF classes.  Those tests skip,
saying why, when the extension was not built.
"""

from __future__ import annotations

import struct
from array import array

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkaudit import bulk

from _compiled import WHY_NOT, speedups as _speedups  # tests/unit/_compiled.py: built in place, or compiled here


def real_libraries(*patterns: str) -> list[str]:
    """This system's libraries matching ``patterns`` (``{arch}``: Python's multiarch triplet), sorted; skip if none."""
    import glob
    import sysconfig

    arch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    paths = sorted(p for pattern in patterns for p in glob.glob(pattern.format(arch=arch)))
    if not paths:
        pytest.skip(f"none of {', '.join(patterns)} on this system")
    return paths

needs_c = pytest.mark.skipif(_speedups is None, reason=WHY_NOT)
MANY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def u32(values) -> bytes:
    return array("I", values).tobytes()


def both(name: str, *args):
    """(result or exception type) of bulk.<name> and of _speedups.<name> on the same arguments."""
    out = []
    for impl in (bulk, _speedups):
        try:
            out.append(getattr(impl, name)(*args))
        except ValueError:
            out.append(ValueError)
    return out


# -- bulk.py against the definitions ---------------------------------------------------------------

def _djb(name: bytes) -> int:
    h = 5381
    for c in name:
        h = (h * 33 + c) % 2**32
    return h


@given(st.binary(max_size=1500))
def test_gnu_hash_is_the_djb_recurrence(name):
    assert bulk.gnu_hash(name) == _djb(name)


def test_sysv_hash_of_known_names():
    # _dl_elf_hash written out for two characters: h = (c0 << 4) + c1, nothing above 28 bits yet
    assert bulk.sysv_hash(b"ab") == (ord("a") << 4) + ord("b")
    assert bulk.sysv_hash(b"") == 0


def _rela64(sym: int, typ: int, big: bool) -> bytes:
    return struct.pack((">" if big else "<") + "QQq", 0x1000, sym << 32 | typ, 0)


@pytest.mark.parametrize("big", [False, True])
def test_relocation_words_reads_r_info_in_each_layout(big):
    e = ">" if big else "<"
    raw = _rela64(7, 6, big) + _rela64(9, 1, big)
    assert bulk.relocation_words(raw, 24, 64, big, 62) == (u32([7, 9]), u32([6, 1]))
    rel32 = struct.pack(e + "II", 0x1000, 5 << 8 | 21) + struct.pack(e + "II", 0x2000, 3 << 8 | 1)
    assert bulk.relocation_words(rel32, 8, 32, big, 3) == (u32([5, 3]), u32([21, 1]))
    # SPARC V9: the type is the low 8 bits of the 32-bit half (an addend sits above them)
    assert bulk.relocation_words(_rela64(7, 0x123415, big), 24, 64, big, 43) == (u32([7]), u32([0x15]))


def test_relocation_words_mips64_little_endian_type_bytes():
    # r_sym (LE word), then r_ssym, r_type3, r_type2, r_type: type = r_type | r_type2 << 8 | r_type3 << 16 | ssym << 24
    raw = struct.pack("<QI", 0x1000, 7) + bytes([0, 0, 18, 3]) + bytes(8)
    assert bulk.relocation_words(raw, 24, 64, False, 8) == (u32([7]), u32([3 | 18 << 8]))


def test_relocation_words_refuses_what_is_no_table():
    for raw, entsize, bits in ((bytes(25), 24, 64), (bytes(24), 12, 64), (bytes(16), 16, 16), (bytes(8), 6, 32)):
        with pytest.raises(ValueError):
            bulk.relocation_words(raw, entsize, bits, False, 62)


def test_mark_symbols_and_select_pairs_follow_their_definitions():
    syms, types = u32([0, 3, 5, 9, 3, 12]), u32([6, 6, 7, 6, 5, 6])
    marks = bytearray(10)
    bulk.mark_symbols(syms, types, (6,), marks)
    assert [i for i, m in enumerate(marks) if m] == [3, 9]  # 0 never; 12 past the end; 5 is of type 7
    rest = bytes([0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    # type 6 where rest marks it (3) or past its end (12); every copy-type one (5 is 3's type here)
    assert bulk.select_pairs(syms, types, (6, 7), (5,), rest) == [(3, 5), (3, 6), (12, 6)]
    assert bulk.select_pairs(syms, types, (6,), (), b"") == [(3, 6), (9, 6), (12, 6)]


def test_symbol_rules_mask_reads_each_rule():
    def sym64(info: int, other: int, shndx: int, value: int) -> bytes:
        return struct.pack("<IBBHQQ", 0, info, other, shndx, value, 0)

    entries = [
        sym64(0x12, 0, 5, 0x1000),  # global function, defined: taken
        sym64(0x02, 0, 5, 0x1000),  # local
        sym64(0x12, 2, 5, 0x1000),  # hidden
        sym64(0x12, 0, 0, 0x1000),  # undefined
        sym64(0x12, 0, 5, 0),  # value 0
        sym64(0x16, 0, 5, 0),  # TLS, value 0: taken
        sym64(0x11, 0, 0xFFF1, 0),  # absolute, value 0: taken
        sym64(0x13, 3, 5, 8),  # STT_SECTION
        sym64(0xA2, 3, 5, 8),  # unique, protected: taken
    ]
    buf = b"".join(entries)
    assert bulk.symbol_rules_mask(buf, 0, 9, 24, 4, 5, 6, 8, 8, False) == bytes([1, 0, 0, 0, 0, 1, 1, 0, 1])
    with pytest.raises(ValueError):
        bulk.symbol_rules_mask(buf, 24, 9, 24, 4, 5, 6, 8, 8, False)  # one entry past the buffer


def test_unique_hash_mask_ignores_bit_0():
    assert bulk.unique_hash_mask(u32([10, 11, 12, 15, 14])) == bytes([0, 0, 1, 0, 0])


def test_canonical_chains_accepts_only_the_linker_layout():
    # symbias 4; buckets start chains at 4 and 6; chain words: 4,5 | 6,7 (odd = end of chain)
    assert bulk.canonical_chains(u32([4, 0, 6]), u32([2, 3, 4, 7]), 4)
    assert not bulk.canonical_chains(u32([6, 0, 4]), u32([2, 3, 4, 7]), 4)  # starts not ascending
    assert not bulk.canonical_chains(u32([4, 0, 6]), u32([2, 2, 4, 7]), 4)  # first chain runs into the second
    assert not bulk.canonical_chains(u32([4, 0, 6]), u32([3, 3, 4, 7]), 4)  # a chain ends early
    assert not bulk.canonical_chains(u32([0, 0]), u32([]), 4)


def test_u16_mask_and_distinct():
    words = array("H", [1, 2, 3, 2, 0x8002]).tobytes()
    assert bulk.u16_mask(words, 1, 5, {2}) == bytes([0, 1, 0, 1])
    assert bulk.distinct(words, 2) == {1, 2, 3, 0x8002}
    with pytest.raises(ValueError):
        bulk.u16_mask(words, 2, 6, set())


# -- the compiled twin against bulk.py -------------------------------------------------------------

@needs_c
@MANY
@given(st.binary(max_size=2000))
def test_hashes_twin(name):
    assert _speedups.gnu_hash(name) == bulk.gnu_hash(name)
    assert _speedups.sysv_hash(name) == bulk.sysv_hash(name)


@needs_c
@MANY
@given(st.binary(max_size=400), st.sampled_from([0, 4, 6, 8, 12, 16, 20, 24, 32, -8]),
       st.sampled_from([32, 64, 16]), st.booleans(), st.sampled_from([0, 3, 8, 43, 62, 183]))
def test_relocation_words_twin(raw, entsize, bits, big, machine):
    a, b = both("relocation_words", raw, entsize, bits, big, machine)
    assert a == b


@needs_c
@MANY
@given(st.binary(max_size=400), st.sampled_from([8, 12, 16, 24]), st.booleans(), st.sampled_from([3, 8, 43, 62]))
def test_relocation_words_twin_on_whole_tables(data, entsize, big, machine):
    raw = data[:len(data) // entsize * entsize]
    bits = 64 if entsize >= 16 else 32
    a, b = both("relocation_words", raw, entsize, bits, big, machine)
    assert a == b and a is not ValueError


_symbols = st.lists(st.integers(0, 40) | st.sampled_from([0xFFFFFFFF, 1 << 31, 1 << 24]), max_size=60)
_types = st.integers(0, 8) | st.sampled_from([257, 1 << 20, 0xFFFFFFFF])
_type_sets = st.lists(_types | st.sampled_from([-1, -2, 1 << 40]), max_size=5).map(tuple)


@needs_c
@MANY
@given(st.data(), _symbols, _type_sets, st.integers(0, 50))
def test_mark_symbols_twin(data, syms, wanted, size):
    types = data.draw(st.lists(_types, min_size=len(syms), max_size=len(syms)))
    first = data.draw(st.integers(0, 1))
    marks_py, marks_c = bytearray([first]) + bytearray(size), bytearray([first]) + bytearray(size)
    bulk.mark_symbols(u32(syms), u32(types), wanted, marks_py)
    _speedups.mark_symbols(u32(syms), u32(types), wanted, marks_c)
    assert marks_py == marks_c


@needs_c
@MANY
@given(st.data(), _symbols, _type_sets, _type_sets, st.binary(max_size=50))
def test_select_pairs_twin(data, syms, lookup, copy, rest):
    types = data.draw(st.lists(_types, min_size=len(syms), max_size=len(syms)))
    a, b = both("select_pairs", u32(syms), u32(types), lookup, copy, rest)
    assert a == b


@needs_c
def test_pair_buffers_of_different_lengths_are_refused():
    for impl in (bulk, _speedups):
        with pytest.raises(ValueError):
            impl.select_pairs(u32([1, 2]), u32([6]), (6,), (), b"")
        with pytest.raises(ValueError):
            impl.mark_symbols(u32([1, 2]), u32([6]), (6,), bytearray(4))
        with pytest.raises(ValueError):
            impl.mark_symbols(b"\x01\x02\x03", b"\x01\x02\x03", (6,), bytearray(4))


@needs_c
@MANY
@given(st.binary(max_size=300), st.sampled_from([2, 4, 3]))
def test_distinct_twin(buf, width):
    a, b = both("distinct", buf, width)
    assert a == b


@needs_c
@MANY
@given(st.binary(max_size=600), st.integers(-30, 700), st.integers(-2, 40), st.sampled_from([16, 24, 8, 0, -16]),
       st.integers(-1, 24), st.integers(-1, 24), st.integers(-1, 24), st.integers(-1, 24),
       st.sampled_from([4, 8, 0, 3]), st.booleans())
def test_symbol_rules_mask_twin(buf, lo, count, size, info, other, shndx, value, value_size, big):
    a, b = both("symbol_rules_mask", buf, lo, count, size, info, other, shndx, value, value_size, big)
    assert a == b


@needs_c
@MANY
@given(st.lists(st.integers(0, 0xFFFFFFFF) | st.integers(0, 20), max_size=200))
def test_unique_hash_mask_twin(words):
    assert _speedups.unique_hash_mask(u32(words)) == bulk.unique_hash_mask(u32(words))


@needs_c
@MANY
@given(st.binary(max_size=200), st.integers(-5, 120), st.integers(-5, 120),
       st.sets(st.integers(0, 70000) | st.integers(-3, 3), max_size=8))
def test_u16_mask_twin(words, start, stop, bad):
    a, b = both("u16_mask", words, start, stop, bad)
    assert a == b


def test_max_u32_is_the_largest_word():
    assert bulk.max_u32(u32([])) == 0
    assert bulk.max_u32(u32([3, 0xFFFFFFFF, 7])) == 0xFFFFFFFF
    with pytest.raises(ValueError):
        bulk.max_u32(b"\0\0\0")


@needs_c
@MANY
@given(st.binary(max_size=200))
def test_max_u32_twin(words):
    a, b = both("max_u32", words)
    assert a == b


@st.composite
def _gnu_layouts(draw):
    """Bucket starts and chains close to a linker's layout, then perhaps damaged."""
    bias = draw(st.integers(0, 6))
    lengths = draw(st.lists(st.integers(1, 4), max_size=6))
    chain, starts, pos = [], [], bias
    for n in lengths:
        starts.append(pos)
        chain += [draw(st.integers(0, 0xFFFF)) & ~1 for _ in range(n - 1)] + [draw(st.integers(0, 0xFFFF)) | 1]
        pos += n
    buckets = []
    for s in starts:
        buckets += [0] * draw(st.integers(0, 2)) + [s]
    if draw(st.booleans()) and chain:  # damage: flip the end bit of one word, or move a start
        k = draw(st.integers(0, len(chain) - 1))
        chain[k] ^= 1
    if draw(st.booleans()) and buckets:
        k = draw(st.integers(0, len(buckets) - 1))
        buckets[k] = draw(st.integers(0, pos + 2))
    return u32(buckets), u32(chain), bias if draw(st.integers(0, 9)) else draw(st.integers(0, 1 << 32))


@needs_c
@MANY
@given(_gnu_layouts())
def test_canonical_chains_twin(layout):
    buckets, chain, bias = layout
    assert _speedups.canonical_chains(buckets, chain, bias) == bulk.canonical_chains(buckets, chain, bias)


@needs_c
def test_twins_on_real_tables():
    """Every function on the tables of a few real libraries of this machine, both byte orders of data."""
    from linkaudit.elf import ElfObject, _GnuHash

    paths = real_libraries("/usr/lib/{arch}/libstdc++.so.6*", "/lib/{arch}/libc.so.6")
    for path in paths:
        obj = ElfObject(path)
        table = obj.hash_table
        if isinstance(table, _GnuHash):
            assert both("unique_hash_mask", table.chain) == [bulk.unique_hash_mask(table.chain)] * 2
            args = (table.buckets, table.chain, table.symbias)
            assert _speedups.canonical_chains(*args) == bulk.canonical_chains(*args)
        lay = obj.symbol_layout
        buf = obj.symbol_bytes(obj.symbol_count)
        for big in (False, True):
            args = (buf, 0, obj.symbol_count, lay.size, lay.info, lay.other, lay.shndx, lay.value, lay.value_size, big)
            assert _speedups.symbol_rules_mask(*args) == bulk.symbol_rules_mask(*args)
        for syms, types in obj.relocation_words():
            lookup = tuple(sorted(bulk.distinct(types, 4)))
            marks_py, marks_c = bytearray(obj.symbol_count), bytearray(obj.symbol_count)
            bulk.mark_symbols(syms, types, lookup[:2], marks_py)
            _speedups.mark_symbols(syms, types, lookup[:2], marks_c)
            assert marks_py == marks_c
            rest = bytes(marks_py[: len(marks_py) // 2])
            assert both("select_pairs", syms, types, lookup[:2], lookup[2:3], rest)[0] == \
                _speedups.select_pairs(syms, types, lookup[:2], lookup[2:3], rest)


# -- lookups over a search list, and the references of an object -----------------------------------

_NAMES = [b"foo", b"bar", b"foo2", b"_Z3bazv", b"x", b""]
_VERSIONS = {2: (b"V1", 0x0595E1, False, None), 3: (b"V2", 0x0595E2, False, None),
             4: (b"V3", 0, False, None), 5: (b"V1", 0x0595E1, False, b"libx.so")}


def _pack_sym(wide: bool, big: bool, name: int, info: int, other: int, shndx: int, value: int) -> bytes:
    e = ">" if big else "<"
    if wide:
        return struct.pack(e + "IBBHQQ", name, info, other, shndx, value, 0)
    return struct.pack(e + "IIIBBH", name, value & 0xFFFFFFFF, 0, info, other, shndx)


def _dynstr_of(strtab: bytes):
    def dynstr(offset: int) -> bytes:
        end = strtab.find(b"\0", offset)
        if offset >= len(strtab) or end < 0:
            raise ValueError("outside the string table")
        return strtab[offset:end]
    return dynstr


def _raising_versions():
    raise ValueError("damaged version records")


@st.composite
def _lookup_tables(draw):
    """An object's LookupTables built as a linker lays them out (GNU or SysV hash), then perhaps damaged."""
    from linkaudit.binding import LookupTables

    healthy = draw(st.integers(0, 9)) < 6  # else some part of it is damaged or unreadable, perhaps
    kind = draw(st.sampled_from([1, 1, 1, 2, 2] if healthy else [1, 2, 0, 3]))
    wide, big, mips = draw(st.booleans()), draw(st.booleans()), draw(st.integers(0, 5)) == 0
    names = draw(st.lists(st.sampled_from(_NAMES), min_size=1, max_size=10))
    strtab = b"\0" + b"".join(n + b"\0" for n in _NAMES)
    offsets = {n: strtab.index(b"\0" + n + b"\0") + 1 for n in _NAMES}
    bias = draw(st.integers(0, 3)) if kind == 1 else 1
    nb = draw(st.integers(1, 4))
    h = (lambda n: bulk.gnu_hash(n)) if kind == 1 else (lambda n: bulk.sysv_hash(n))
    if kind == 1:  # a GNU table holds its hashed symbols sorted by bucket
        names.sort(key=lambda n: h(n) % nb)
    symbols = [(0, 0, 0, 0, 0)] * bias + [
        (offsets[n], draw(st.sampled_from([0x12] * 6 + [0x11, 0x22, 0xA2, 0x16, 0x02, 0x13, 0x1A, 0x15, 0x10])),
         draw(st.sampled_from([0] * 6 + [1, 2, 3, 8])), draw(st.sampled_from([5] * 6 + [0, 0xFFF1])),
         draw(st.sampled_from([0x1000] * 6 + [0, 1 << 40])))
        for n in names]
    count = len(symbols)
    symtab = b"".join(_pack_sym(wide, big, *s) for s in symbols)
    if kind == 1:
        buckets, chain = [0] * nb, []
        for k, n in enumerate(names):
            b = h(n) % nb
            if buckets[b] == 0:
                buckets[b] = bias + k
            last = k + 1 == len(names) or h(names[k + 1]) % nb != b
            chain.append(h(n) & ~1 | int(last))
        words = draw(st.integers(1, 2))
        full = (1 << (64 if wide else 32)) - 1  # lets every name through; a random word, some
        bloom = array("Q" if wide else "I", [full if draw(st.integers(0, 3)) else draw(st.integers(0, full))
                                             for _ in range(words)])
        xlat = array("I", range(bias, count)) if mips and draw(st.booleans()) else None
        if xlat is not None and draw(st.booleans()):
            xlat.reverse()
        shift, limit = draw(st.integers(0, 40)), draw(st.sampled_from([1000] if healthy else [1000, 2, 1]))
    else:
        buckets, chain = [0] * nb, [0] * count
        for k in range(count - 1, 0, -1):  # SysV: each bucket's chain through chain[], 0 ends it
            b = h(names[k - 1]) % nb
            chain[k], buckets[b] = buckets[b], k
        bloom, xlat, shift, limit = None, None, 0, 0
    buckets, chain = array("I", buckets), array("I", chain)
    for _ in range(0 if healthy else draw(st.integers(0, 2))):  # a word of the buckets or chains, anything
        target = draw(st.sampled_from([buckets, chain]))
        if len(target):
            target[draw(st.integers(0, len(target) - 1))] = draw(st.integers(0, 12) | st.integers(0, 2**32 - 1))
    if not healthy and draw(st.booleans()):
        symtab = symtab[:draw(st.integers(0, len(symtab)))]
    versyms = draw(st.sampled_from(["none", "table"] if healthy else ["none", "table", "short", "unreadable"]))
    vs = array("H", [draw(st.sampled_from([0, 1, 1, 1, 2, 2, 3, 4, 5, 6, 0x8002, 0x8003])) for _ in range(count)])
    versyms = {"none": None, "table": vs, "short": vs[:count // 2], "unreadable": False}[versyms]
    versions = draw(st.sampled_from([lambda: _VERSIONS, lambda: {}] + ([] if healthy else [_raising_versions])))
    strtab_given = strtab if draw(st.booleans()) else None
    if not healthy and draw(st.booleans()):
        strtab = strtab[:draw(st.integers(0, len(strtab)))]
        strtab_given = strtab if strtab_given is not None else None
    return LookupTables(kind, bloom, shift, buckets, chain, bias, xlat, limit, symtab if kind != 3 else None,
                        wide, big, strtab_given, _dynstr_of(strtab), versyms, versions, mips)


_references = st.builds(
    lambda name, version, weak, protected, klass: __import__("linkaudit.binding").binding.Reference(
        name, version, weak, protected, klass),
    st.sampled_from(_NAMES),
    st.none() | st.sampled_from([(b"V1", 0x0595E1, False, None), (b"V2", 0x0595E2, True, None),
                                 (b"V9", 0x0595E9, False, None), (b"V1", 0x0595E1, True, None)]),
    st.booleans(), st.integers(0, 4) .map(lambda k: k == 0), st.sampled_from([0, 0, 1, 2, 3]))


def _batch(impl, scope, refs, start, with_own):
    from linkaudit.binding import Resolution
    from linkaudit.elf import Sym

    try:
        return impl.lookup_batch(scope, refs, start, with_own, Sym, Resolution)
    except (ValueError, TypeError) as exc:
        return type(exc)


@needs_c
@MANY
@given(st.lists(st.none() | _lookup_tables(), min_size=1, max_size=4), st.lists(_references, max_size=10),
       st.integers(0, 3), st.booleans())
def test_lookup_batch_twin(scope, refs, start, with_own):
    assert _batch(_speedups, scope, refs, start, with_own) == _batch(bulk, scope, refs, start, with_own)


def _lookup_by_binding(scope_objs, refs):
    """Where binding's memoized per-reference path (``_lookup`` and ``check_match``) binds each reference."""
    from linkaudit import binding

    search = binding._Search(scope_objs, tolerate=False)
    return [binding._lookup(search, ref, ref.klass, False) for ref in refs]


def test_lookup_batch_is_the_lookup_of_binding_on_real_libraries():
    """bulk.lookup_batch over real tables answers what binding's own lookup answers, reference by reference."""
    from linkaudit import binding
    from linkaudit.elf import Sym
    from linkaudit.loader import Loader, LoaderEnv

    paths = real_libraries("/usr/lib/{arch}/libstdc++.so.6.*", "/usr/lib/{arch}/libxml2.so.2.*")
    for path in paths:
        scope = [o.elf for o in Loader(LoaderEnv(python_package_rule=False)).load(path).searchlist]
        refs = [r for r in binding.references(scope[0]) if not r.protected]
        assert len(refs) > 100
        tables = [binding.lookup_tables(o) if o is not None else None for o in scope]
        stop, found = bulk.lookup_batch(tables, refs, 0, True, Sym, binding.Resolution)
        assert stop == len(refs)
        want = _lookup_by_binding(scope, refs)
        assert [(r.scope_index, r.sym) for r in found] == want
        assert any(i not in (None, 0) for i, _ in want) and any(i == 0 for i, _ in want)
        if _speedups is not None:
            assert _speedups.lookup_batch(tables, refs, 0, True, Sym, binding.Resolution) == (stop, found)


@st.composite
def _reference_inputs(draw):
    wide, big = draw(st.booleans()), draw(st.booleans())
    strtab = b"\0" + b"".join(n + b"\0" for n in _NAMES)
    entries = [_pack_sym(wide, big, draw(st.integers(0, len(strtab) + 2)), draw(st.integers(0, 255)),
                         draw(st.integers(0, 255)), draw(st.sampled_from([0, 5, 0xFFF1])), draw(st.integers(0, 3)))
               for _ in range(draw(st.integers(0, 8)))]
    symtab = b"".join(entries)
    pairs = sorted(set(draw(st.lists(st.tuples(st.integers(0, 9), st.sampled_from([1, 6, 7, 5])), max_size=12))))
    classes = {1: 0, 6: 0, 7: 1, 5: None}
    versyms = draw(st.none() | st.lists(st.sampled_from([0, 1, 2, 3, 4, 0x8003]), max_size=10).map(
        lambda v: array("H", v)))
    given_strtab = draw(st.sampled_from([strtab, None, strtab[:5]]))
    return pairs, classes, symtab, wide, big, given_strtab, _dynstr_of(strtab), versyms, dict(_VERSIONS)


def _refs(impl, args):
    from linkaudit.binding import Reference

    try:
        return impl.make_references(*args, Reference)
    except (ValueError, TypeError, KeyError) as exc:
        return type(exc)


@needs_c
@MANY
@given(_reference_inputs())
def test_make_references_twin(args):
    assert _refs(_speedups, args) == _refs(bulk, args)


def test_make_references_is_reference_by_reference_on_real_objects():
    """bulk.make_references gives what binding's per-relocation ``_reference`` gives (first of each key kept)."""
    from linkaudit import binding
    from linkaudit.elf import ElfObject

    paths = real_libraries("/usr/lib/{arch}/libstdc++.so.6.*", "/lib/{arch}/libc.so.6")
    for path in paths:
        main = ElfObject(path)
        blocks, _, classes = binding._relocation_blocks(main)
        pairs = sorted({p for syms, types in blocks for p in zip(memoryview(syms).cast("I"), memoryview(types).cast("I"))
                        if p[0]})
        versyms = main.versyms
        versions = main.versions if versyms is not None else {}
        want: dict = {}
        for symidx, t in pairs:
            if classes[t] is not None:
                ref = binding._reference(main, symidx, classes[t], versyms, versions)
                if ref is not None:
                    want.setdefault((ref.name, ref.version.name if ref.version else None, ref.klass), ref)
        args = (pairs, classes, main.symbol_bytes(pairs[-1][0] + 1), main.bits == 64, main.endian == ">",
                main.dynstr_whole(1 << 24), main.dynstr, versyms.words if versyms else None, versions)
        assert _refs(bulk, args) == list(want.values())
        assert len(want) > 50
        if _speedups is not None:
            assert _refs(_speedups, args) == list(want.values())
            assert _refs(_speedups, args[:5] + (None,) + args[6:]) == list(want.values())  # names through dynstr
