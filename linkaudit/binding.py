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
  is undefined and the relocation is of the PLT class, when its type is not a
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
  elsewhere is redirected to the main object.
"""

from __future__ import annotations

from typing import NamedTuple

from linkaudit.errors import ElfReadError
from linkaudit.elf import (
    SHN_ABS,
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
    STT_TLS,
    STV_HIDDEN,
    STV_INTERNAL,
    STV_PROTECTED,
    ElfObject,
    Sym,
    Version,
    gnu_hash,
)

CLASS_PLT = 1
CLASS_COPY = 2
_ALLOWED_TYPES = (1 << STT_NOTYPE) | (1 << STT_OBJECT) | (1 << STT_FUNC) | (1 << STT_COMMON) | (1 << STT_TLS) | (1 << STT_GNU_IFUNC)

# Per machine: relocation types handled without a lookup, PLT-class types, copy types
# (sysdeps/*/dl-machine.h: elf_machine_rel[a] and elf_machine_type_class).
_RELOC_CLASSES: dict[int, tuple[frozenset[int], frozenset[int], frozenset[int]]] = {
    62: (frozenset({0, 8, 38}), frozenset({7, 16, 17, 18, 36}), frozenset({5})),  # x86_64
    3: (frozenset({0, 8}), frozenset({7, 35, 36, 37, 14, 41}), frozenset({5})),  # i386
    183: (frozenset({0, 256, 1027}), frozenset({1026, 1028, 1029, 1030, 1031}), frozenset({1024})),  # aarch64
    40: (frozenset({0, 23}), frozenset({22, 17, 18, 19, 13}), frozenset({20})),  # arm
    243: (frozenset({0, 3}), frozenset({5, 6, 7, 8, 9, 10, 11}), frozenset({4})),  # riscv
}


def type_class(machine: int, rtype: int) -> int | None:
    """``elf_machine_type_class``; None for types applied without any lookup."""
    table = _RELOC_CLASSES.get(machine)
    if table is None:
        return None if rtype == 0 else 0
    skip, plt, copy = table
    if rtype in skip:
        return None
    return (CLASS_PLT if rtype in plt else 0) | (CLASS_COPY if rtype in copy else 0)


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
        """Everything ``lookup_in`` reads besides the object: the key of ``ElfObject.lookup_memo``.

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
    """Where a reference binds: the index in the scope (0 = the main object), or None."""

    ref: Reference
    provider: int | None
    sym: Sym | None


def references(main: ElfObject) -> list[Reference]:
    """The lookups ``_dl_relocate_object`` makes for ``main`` with eager binding.

    Only defined symbols enter ``main``'s symbol cache (the lookup in ``main``
    meets them again); undefined ones, most of them, are never asked for again.
    """
    out: dict[tuple[bytes, bytes | None, int], Reference] = {}
    versyms = main.versyms
    versions = main.versions if versyms is not None else {}
    words = versyms.words if versyms is not None else None
    classes: dict[int, int | None] = {}
    machine = main.e_machine
    read = main.relocated_symbol
    for symidx, rtype in main.relocations():
        klass = classes.get(rtype, -1)
        if klass == -1:
            klass = classes[rtype] = type_class(machine, rtype)
        if klass is None:
            continue
        sym = read(symidx)
        vis = sym.other & 0x3
        bind = sym.info >> 4
        if bind == STB_LOCAL or vis == STV_HIDDEN or vis == STV_INTERNAL:
            continue  # RESOLVE_MAP: binds locally, no lookup
        version = None
        if words is not None:
            try:
                raw = words[symidx]
            except IndexError:
                raw = versyms[symidx]  # type: ignore[index]  # raises the ElfReadError
            v = versions.get(raw & 0x7FFF)
            if v is not None and v.hash != 0:
                version = v
        key = (sym.name, version.name if version else None, klass)
        if key not in out:
            out[key] = Reference(sym.name, version, bind == STB_WEAK and sym.shndx == SHN_UNDEF,
                                 vis == STV_PROTECTED, klass)
    return list(out.values())


def _check_match(name: bytes, version: Version | None, klass: int, obj: ElfObject, idx: int) -> tuple[Sym | None, bool]:
    """``check_match``: (matching symbol, whether it is a versioned candidate for an unversioned lookup)."""
    sym = obj.symbol(idx)
    stt = sym.info & 0xF  # sym.type, without a property call: this runs for every candidate
    if (sym.value == 0 and sym.shndx != SHN_ABS and stt != STT_TLS) or (klass & CLASS_PLT and sym.shndx == SHN_UNDEF):
        return None, False
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
        raw = verstab[idx]  # raises the ElfReadError
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


def lookup_in(obj: ElfObject, name: bytes, version: Version | None, klass: int, ghash: int, shash: list[int]) -> Sym | None:
    """``do_lookup_x`` for one object: the definition it offers, or None to move on."""
    candidates = obj.hash_lookup(name, ghash, shash)
    if not candidates:
        return None
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


def lookup(scope: list[ElfObject | None], ref: Reference, klass: int | None = None,
           damaged: dict[int, str] | None = None) -> tuple[int | None, Sym | None]:
    """``_dl_lookup_symbol_x`` over a search list (index 0 is the main object).

    An object whose tables turn out to be damaged is recorded in ``damaged``
    and passed over, so one broken library makes verdicts uncertain instead of
    stopping the audit.
    """
    return _lookup(scope[0], _libraries(scope), ref, ref.klass if klass is None else klass, damaged)


def _libraries(scope: list[ElfObject | None]) -> list[tuple[int, ElfObject, dict]]:
    """(scope index, object, its lookup memo) of every library found, made once per bound object."""
    return [(i, obj, obj.lookup_memo) for i, obj in enumerate(scope) if i and obj is not None]


def _lookup(main: ElfObject | None, libs: list[tuple[int, ElfObject, dict]], ref: Reference, klass: int,
            damaged: dict[int, str] | None) -> tuple[int | None, Sym | None]:
    """``lookup`` proper: the main object first, then the libraries through their memos.

    A library's answer depends only on the memo key, so the objects of a run
    that share libc, libstdc++, ... ask each question of each library once.
    """
    name, version = ref.name, ref.version
    ghash = gnu_hash(name)
    shash: list[int] = []
    if main is not None and not klass & CLASS_COPY and not (damaged and 0 in damaged):
        try:  # not memoized: these questions are the main object's own, seldom asked again
            sym = lookup_in(main, name, version, klass, ghash, shash)
        except ElfReadError as exc:
            if damaged is None:
                raise
            damaged[0] = str(exc)
        else:
            if sym is not None:
                return 0, sym
    key = ref.memo_key(klass)
    for i, obj, memo in libs:
        if damaged and i in damaged:
            continue
        sym = memo.get(key, _UNKNOWN)
        if sym is None:
            continue
        if sym is _UNKNOWN:
            try:
                sym = lookup_in(obj, name, version, klass, ghash, shash)
            except ElfReadError as exc:
                if damaged is None:
                    raise
                damaged[i] = str(exc)
                continue
            memo[key] = sym
            if sym is None:
                continue
        return i, sym
    return None, None


_UNKNOWN = object()  # not in ElfObject.lookup_memo yet (None there means "not found")


def bind(scope: list[ElfObject | None], damaged: dict[int, str] | None = None) -> list[Resolution]:
    """Resolve every reference of ``scope[0]``; a None in ``scope`` is a library not found."""
    main = scope[0]
    assert main is not None
    out = []
    libs = _libraries(scope)
    for ref in references(main):
        provider, sym = _lookup(main, libs, ref, ref.klass, damaged)
        if provider is not None and provider != 0 and ref.protected:
            if ref.klass == CLASS_PLT:
                provider = 0
            else:
                again, _ = _lookup(main, libs, ref, CLASS_PLT, damaged)
                if again is not None and again != 0:
                    provider = 0
        out.append(Resolution(ref, provider, sym))
    return out


def owner_of(name: bytes, scope: list[ElfObject | None], exclude: int) -> tuple[int, bytes] | None:
    """The library whose versioned ABI ``name`` belongs to, other than ``scope[exclude]``.

    A library "owns" a symbol when it exports it under a version definition of
    its own (for example ``GLIBCXX_3.4.29`` in libstdc++), as opposed to an
    unversioned copy another library happens to re-export.
    """
    ghash = gnu_hash(name)
    shash: list[int] = []
    for i, obj in enumerate(scope):
        if i in (0, exclude) or obj is None:
            continue
        verstab = obj.versyms
        if verstab is None:
            continue
        for idx in obj.hash_lookup(name, ghash, shash):  # the definitions named `name`, in walk order
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
