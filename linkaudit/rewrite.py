"""Remove unused ``DT_NEEDED`` entries from an ELF file, in place and same size.

This is the mechanics behind ``linkaudit fix``.  Deciding *which* libraries
are unused is the auditor's job; this module only rewrites bytes, and refuses
(:class:`~linkaudit.errors.RewriteError`) whenever it cannot prove that the
result is something glibc's loader accepts.

Work is split in two so that the CLI can show (and tests can inspect) exactly
what will change before anything is written:

* :func:`plan_needed_removal` parses and validates, and returns a frozen
  :class:`RewritePlan` holding every byte patch (with the old bytes, so a plan
  cannot be applied to a different file);
* :func:`apply_plan` splices those patches into the bytes.

Everything is read from the *dynamic* view of the file (``PT_DYNAMIC`` and the
``DT_*`` addresses mapped to file offsets through ``PT_LOAD``), because that
is what the loader reads; section headers are only consulted to keep
``.gnu.version_r``'s entry count (``sh_info``) truthful for tools like
``readelf``.  The records are decoded by :mod:`linkaudit.elf`, the same
decoders the loader view reads through; this module is the strict view on
them (every address wholly inside a ``PT_LOAD``, every count consistent) and
writes at the file offsets they carry.  Any class (32/64-bit) and byte order.

Symbol versioning rules (glibc ``elf/dl-version.c``, ``elf/dl-lookup.c``)
-----------------------------------------------------------------------
At start-up ``_dl_check_map_versions`` walks *every* ``Verneed`` entry,
starting at ``DT_VERNEED`` and following ``vn_next`` (it ignores
``DT_VERNEEDNUM``), and calls ``find_needed(vn_file)``, which searches the
loaded objects by name; a name that matches nothing hits
``assert (needed != NULL)``.  Removing a ``DT_NEEDED`` while leaving a
``Verneed`` that names it (what ``patchelf --remove-needed`` does) therefore
breaks loading unless something else happens to load that library.  For each
removed library that has a ``Verneed`` entry we either:

1. **re-point** it (``repoint={removed: other}``): ``vn_file`` is set to the
   ``.dynstr`` offset already used by the remaining ``DT_NEEDED`` entry
   ``other``.  The loader then checks the same versions against ``other``.
   Symbol binding is unchanged, because versioned lookups search the whole
   scope for a definition with a matching version *name*; ``vn_file`` only
   selects the object whose version definitions are checked.  The caller
   must make sure ``other`` defines the versions
   (:func:`versions_required_from`, :func:`versions_defined`), or loading
   fails with "version `X' not found".

2. **drop** it: the ``Verneed`` record and its ``Vernaux`` records are
   removed from ``.gnu.version_r`` (the remaining records are re-packed at
   the same address, tail zero-filled), ``DT_VERNEEDNUM`` is decremented, and
   every ``.gnu.version`` entry that used one of the dropped version indices
   is set to ``VER_NDX_GLOBAL`` (1).  A dangling index must not be left:
   relocation code indexes ``l_versions[ndx]`` without a bounds check, and
   the array is sized by the highest index still present.  If no ``Verneed``
   remains, the ``DT_VERNEED``/``DT_VERNEEDNUM`` tags are deleted (the loader
   would otherwise still read the first record); if there is no
   ``DT_VERDEF`` either, ``DT_VERSYM`` is deleted too, because with no
   version records at all ``l_versions`` is NULL and relocation with a
   ``DT_VERSYM`` present would dereference it.

   Resetting a reference ``sym@V`` to index 1 makes it *unversioned*, which
   changes how it binds: in a library that has version definitions, an
   unversioned reference takes the definition whose version index is <= 2
   (the base or first-defined, i.e. *oldest*, version -- hidden or not), or
   else the only non-hidden versioned definition, or else nothing
   (``check_match``/``do_lookup_x``).  It is *not* the ``@@`` default: an
   unversioned ``memcpy`` binds to ``memcpy@GLIBC_2.2.5``, not
   ``@@GLIBC_2.14``.  So the drop is binding-preserving only when, for each
   such symbol, the library that defines it at run time answers
   with exactly ``V`` (``binding.lookup_in`` with no version answers that).  That cannot be decided
   from this file alone, so by default a drop is refused when any symbol uses
   the dropped versions (a requirement no symbol uses is dropped freely:
   removing it only removes a presence check).  Pass ``unversion=True`` after
   making that check; otherwise use ``repoint``.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, NoReturn

from linkaudit.elf import (  # the one decoder layer: constants, formats and records are defined there
    DT_AUDIT,
    DT_AUXILIARY,
    DT_CONFIG,
    DT_DEPAUDIT,
    DT_FILTER,
    DT_GNU_CONFLICT,
    DT_GNU_LIBLIST,
    DT_NEEDED,
    DT_NULL,
    DT_POSFLAG_1,
    DT_RPATH,
    DT_RUNPATH,
    DT_SONAME,
    DT_STRSZ,
    DT_STRTAB,
    DT_SYMENT,
    DT_SYMTAB,
    DT_VERDEF,
    DT_VERNEED,
    DT_VERNEEDNUM,
    DT_VERSYM,
    DYN_FORMAT,
    DYN_SIZE,
    MAX_VERSION_ENTRIES,
    PN_XNUM,
    PT_DYNAMIC,
    PT_LOAD,
    SHN_UNDEF,
    SHT_GNU_VERNEED,
    VER_FLG_BASE,
    VER_NDX_GLOBAL,
    VERNAUX_FORMAT,
    VERNAUX_SIZE,
    VERNEED_FORMAT,
    VERNEED_SIZE,
    Verneed,
    decode_header,
    dynamic_entries,
    hashed_symbol_count,
    open_hash_table,
    program_headers,
    section_headers,
    symbol_layout,
    u16_array,
    unpack_symbol,
    verdaux_name,
    verdef_records,
    verneed_records,
)
from linkaudit.errors import ElfReadError, LinkauditError, RewriteError

__all__ = [
    "Patch",
    "RewritePlan",
    "VerneedChange",
    "apply_plan",
    "plan_needed_removal",
    "plan_search_path",
    "versions_defined",
    "versions_required_from",
]

_TAG_NAMES = {DT_VERNEED: "DT_VERNEED", DT_VERNEEDNUM: "DT_VERNEEDNUM", DT_VERSYM: "DT_VERSYM"}

# --- public data -----------------------------------------------------------


@dataclass(frozen=True)
class Patch:
    """One contiguous overwrite.  ``old`` is kept so a plan cannot be applied
    to bytes it was not computed from."""

    offset: int
    old: bytes
    new: bytes
    what: str


@dataclass(frozen=True)
class VerneedChange:
    """What happened to one ``Verneed`` entry that named a removed library."""

    library: str
    action: Literal["repoint", "drop"]
    target: str | None  # new vn_file for "repoint"
    versions: tuple[str, ...]  # version names of its Vernaux records


@dataclass(frozen=True)
class RewritePlan:
    """Everything :func:`apply_plan` will change, computed and validated up front."""

    file_size: int
    removed: tuple[str, ...]  # DT_NEEDED names deleted from the dynamic array
    verneed: tuple[VerneedChange, ...]
    unversioned: tuple[tuple[str, str], ...]  # (symbol, version) refs reset to index 1
    dropped_tags: tuple[str, ...]  # other dynamic tags deleted (DT_VERNEED, ...)
    patches: tuple[Patch, ...]

    @property
    def touched(self) -> tuple[tuple[int, int], ...]:
        """Half-open file ranges ``(start, end)`` whose bytes actually change."""
        ranges: list[tuple[int, int]] = []
        for p in self.patches:
            i, n = 0, len(p.new)
            while i < n:
                if p.old[i] == p.new[i]:
                    i += 1
                    continue
                j = i
                while j < n and p.old[j] != p.new[j]:
                    j += 1
                ranges.append((p.offset + i, p.offset + j))
                i = j
        return tuple(sorted(ranges))


# --- the writer's view of the records --------------------------------------------


@dataclass(frozen=True)
class _Requirement:
    """A ``Verneed`` record of elf.py with its strings, checked as strictly as a rewrite needs."""

    record: Verneed
    file: str
    versions: tuple[str, ...]  # vna_name of each Vernaux record, in order


class _Image:
    """The writer's view of an ELF file in memory: elf.py's records, read strictly.

    Every address must lie wholly inside a ``PT_LOAD`` segment's file data
    (:meth:`locate`), every read inside the file, and every failure raises
    ``err`` (RewriteError when planning a rewrite, ElfReadError for the
    read-only helpers), never struct/Index errors.
    """

    path = "ELF image"  # named only by hash-table lookups, which a rewrite never makes

    def __init__(self, data: bytes, err: type[LinkauditError]) -> None:
        self.data = data
        self.err = err
        self.size = len(data)
        hdr = self.hdr = decode_header(bytes(data[:64]), self.fail)
        self.endian, self.bits, self.e_type, self.e_machine = hdr.endian, hdr.bits, hdr.type, hdr.machine
        self.dyn_fmt, self.dyn_size = DYN_FORMAT[hdr.bits], DYN_SIZE[hdr.bits]
        if hdr.phnum == PN_XNUM:
            self.fail("program header count overflows e_phnum (PN_XNUM); not supported")
        self.phdrs = program_headers(self, hdr)
        for seg in self.phdrs:
            if seg.type in (PT_LOAD, PT_DYNAMIC) and seg.offset + seg.filesz > len(data):
                self.fail(f"file is truncated: a segment ends at {seg.offset + seg.filesz:#x}, past its end")

    # the record source (elf.RecordSource)
    def fail(self, message: str) -> NoReturn:
        raise self.err(message)

    def read(self, off: int, n: int, what: str = "table") -> bytes:
        if off < 0 or n < 0 or off + n > self.size:
            self.fail(f"file is truncated: {what} at offset {off:#x} lies past its end")
        return bytes(self.data[off : off + n])

    read_small = read

    def locate(self, vaddr: int, size: int, what: str) -> int:
        """Map a virtual address range to a file offset via PT_LOAD, as the loader would."""
        for seg in self.phdrs:
            if seg.type == PT_LOAD and seg.vaddr <= vaddr and vaddr + size <= seg.vaddr + seg.filesz:
                off = seg.offset + (vaddr - seg.vaddr)
                if off + size > self.size:
                    self.fail(f"file is truncated: {what} at offset {off:#x} lies past its end")
                return off
        self.fail(f"{what} at address {vaddr:#x} is not backed by file data in any PT_LOAD segment")

    def pack(self, fmt: str, *values: int) -> bytes:
        return struct.pack(self.endian + fmt, *values)

    # dynamic table
    def dynamic(self) -> tuple[int, list[tuple[int, int]]]:
        """Return (file offset of the array, entries before the first DT_NULL)."""
        dyns = [p for p in self.phdrs if p.type == PT_DYNAMIC]
        if not dyns:
            kind = "relocatable object" if self.e_type == 1 else "file"
            self.fail(f"{kind} has no PT_DYNAMIC segment (statically linked, or not a linked object)")
        if len(dyns) > 1:
            self.fail("file has more than one PT_DYNAMIC segment")
        _, off, vaddr, filesz = dyns[0]
        if self.locate(vaddr, min(filesz, self.dyn_size), "dynamic table") != off:
            self.fail("PT_DYNAMIC file offset disagrees with its PT_LOAD mapping")
        entries = []
        raw = self.read(off, filesz // self.dyn_size * self.dyn_size, "dynamic table")
        for tag, val in dynamic_entries(raw, self.bits, self.endian):  # entry i at off + i * dyn_size
            if tag == DT_NULL:
                return off, entries
            entries.append((tag, val))
        self.fail("dynamic table is not terminated by DT_NULL within PT_DYNAMIC")

    def tag(self, entries: list[tuple[int, int]], tag: int) -> int | None:
        vals = [v for t, v in entries if t == tag]
        if len(vals) > 1:
            self.fail(f"dynamic tag {tag:#x} occurs {len(vals)} times")
        return vals[0] if vals else None

    def strtab(self, entries: list[tuple[int, int]]) -> tuple[int, int]:
        addr, size = self.tag(entries, DT_STRTAB), self.tag(entries, DT_STRSZ)
        if addr is None or size is None:
            self.fail("dynamic string table unreachable: DT_STRTAB or DT_STRSZ missing")
        return self.locate(addr, size, "dynamic string table (DT_STRTAB)"), size

    def string(self, strtab: tuple[int, int], index: int) -> str:
        off, size = strtab
        if index >= size:
            self.fail(f"string index {index} is outside the dynamic string table (size {size})")
        end = self.data.find(b"\0", off + index, off + size)
        if end < 0:
            self.fail(f"unterminated string at index {index} of the dynamic string table")
        return bytes(self.data[off + index : end]).decode("utf-8", "surrogateescape")

    # version records
    def verneeds(self, entries: list[tuple[int, int]], strtab: tuple[int, int]) -> list[_Requirement]:
        """Every Verneed record, refused unless it is one a rewrite can re-pack: version 1, exactly
        ``vn_cnt`` Vernaux records, a chain that ends, and as many records as DT_VERNEEDNUM says."""
        addr = self.tag(entries, DT_VERNEED)
        if addr is None:
            return []
        out: list[_Requirement] = []
        seen: set[int] = set()
        for vn in verneed_records(self, addr, MAX_VERSION_ENTRIES):
            if vn.offset in seen:
                self.fail("Verneed chain loops")
            seen.add(vn.offset)
            if vn.version != 1:
                self.fail(f"unsupported Verneed version {vn.version}")
            if not vn.auxes:
                self.fail("Verneed record without Vernaux records")
            if len(vn.auxes) < vn.cnt:
                self.fail("Vernaux chain is shorter than vn_cnt")
            if vn.auxes[-1].next != 0:
                self.fail("Vernaux chain is longer than vn_cnt")
            names = tuple(self.string(strtab, a.name) for a in vn.auxes)
            out.append(_Requirement(vn, self.string(strtab, vn.file), names))
        if out and out[-1].record.next != 0:
            self.fail("Verneed chain loops")
        num = self.tag(entries, DT_VERNEEDNUM)
        if num is not None and num != len(out):
            self.fail(f"DT_VERNEEDNUM is {num} but the Verneed chain has {len(out)} entries")
        return out

    def verdefs(self, entries: list[tuple[int, int]], strtab: tuple[int, int]) -> list[tuple[int, int, str]]:
        """Return (vd_ndx, vd_flags, first Verdaux name) for each Verdef."""
        addr = self.tag(entries, DT_VERDEF)
        if addr is None:
            return []
        out = []
        for vd in verdef_records(self, addr, MAX_VERSION_ENTRIES):
            if vd.version != 1:
                self.fail(f"unsupported Verdef version {vd.version}")
            if vd.cnt < 1:
                self.fail("Verdef record without Verdaux records")
            out.append((vd.ndx & 0x7FFF, vd.flags, self.string(strtab, verdaux_name(self, vd))))
        return out

    # symbols
    def symbol_count(self, entries: list[tuple[int, int]]) -> int | None:
        """Number of .dynsym entries, as the loader knows it (the hash table), or None without one."""
        tags: dict[int, int] = {}
        for t, v in entries:
            tags.setdefault(t, v)
        return hashed_symbol_count(open_hash_table(self, tags, self.e_machine), tags, self.e_machine)

    def symbols(
        self, entries: list[tuple[int, int]], strtab: tuple[int, int], count: int
    ) -> Iterator[tuple[int, str, int, int, int, int]]:
        """Yield (index, name, st_info, st_other, st_shndx, st_value) of .dynsym entries."""
        addr = self.tag(entries, DT_SYMTAB)
        if addr is None:
            self.fail("DT_SYMTAB missing")
        lay = symbol_layout(self.bits, self.endian, 0)
        ent = self.tag(entries, DT_SYMENT) or lay.size
        if ent < lay.size:
            self.fail(f"DT_SYMENT {ent} is too small")
        base = self.locate(addr, ent * count, "dynamic symbol table")
        for i in range(count):
            name, info, other, shndx, value = unpack_symbol(lay, self.read(base + i * ent, lay.size, "symbol"), 0)
            yield i, self.string(strtab, name), info, other, shndx, value

    def versyms(self, entries: list[tuple[int, int]], count: int) -> tuple[int, tuple[int, ...]] | None:
        addr = self.tag(entries, DT_VERSYM)
        if addr is None:
            return None
        off = self.locate(addr, 2 * count, ".gnu.version (DT_VERSYM)")
        return off, tuple(u16_array(self.read(off, 2 * count, ".gnu.version"), self.endian))

    def verneed_section_info(self, vaddr: int) -> int | None:
        """File offset of sh_info of the SHT_GNU_verneed section at ``vaddr``, if any.

        Section headers are optional for the loader, so anything odd here means
        "no section to update", not an error.
        """
        return next((s.info_offset for s in section_headers(self, self.hdr)
                     if s.type == SHT_GNU_VERNEED and s.addr == vaddr), None)


# --- read-only helpers for the caller ----------------------------------------


def versions_required_from(data: bytes, libname: str) -> tuple[str, ...]:
    """Version names this file requires from ``libname`` (its ``Verneed`` entries).

    Lets the caller check, before re-pointing, that the replacement library
    defines all of them (compare with :func:`versions_defined`).
    """
    img = _Image(data, ElfReadError)
    _, entries = img.dynamic()
    strtab = img.strtab(entries)
    return tuple(name for vn in img.verneeds(entries, strtab) if vn.file == libname for name in vn.versions)


def versions_defined(data: bytes) -> tuple[str, ...]:
    """Version names this library defines (``DT_VERDEF``), without the
    ``VER_FLG_BASE`` entry: that one names the file itself and is never matched
    against a requirement by the loader."""
    img = _Image(data, ElfReadError)
    _, entries = img.dynamic()
    strtab = img.strtab(entries)
    return tuple(name for _, flags, name in img.verdefs(entries, strtab) if not flags & VER_FLG_BASE)


# --- planning ------------------------------------------------------------------


def plan_needed_removal(data: bytes, remove: Collection[str], repoint: Mapping[str, str] | None = None, *,
                        unversion: bool = False) -> RewritePlan:
    """Validate and compute the removal of the ``DT_NEEDED`` entries in ``remove``.

    ``repoint`` maps a removed library to a remaining ``DT_NEEDED`` library
    that now defines the versions required from it (e.g.
    ``{"libpthread.so.0": "libc.so.6"}`` for glibc >= 2.34); entries for
    libraries without version requirements are ignored.  ``unversion`` allows
    dropping version requirements that symbols use (see the module docstring
    for when that is safe).  Raises :class:`RewriteError` on anything it
    cannot rewrite safely; the input is never modified.
    """
    if isinstance(remove, (str, bytes)):
        raise RewriteError("remove must be a collection of library names, not a single string")
    remove_set = set(remove)
    if not remove_set:
        raise RewriteError("no DT_NEEDED entries to remove were given")
    repoint = dict(repoint or {})

    img = _Image(data, RewriteError)
    dyn_off, entries = img.dynamic()
    strtab = img.strtab(entries)
    _refuse_prelinked(img, entries)
    needed = [(i, img.string(strtab, v), v) for i, (t, v) in enumerate(entries) if t == DT_NEEDED]
    drop_idx = _entries_to_drop(entries, needed, remove_set)
    remaining = {n: v for i, n, v in needed if i not in drop_idx}
    for src, dst in repoint.items():
        if src not in remove_set:
            raise RewriteError(f"repoint names {src}, which is not being removed")
        if dst not in remaining:
            why = "is itself being removed" if dst in remove_set else "is not a DT_NEEDED entry of this file"
            raise RewriteError(f"cannot re-point version requirements of {src} to {dst}: {dst} {why}")

    patches: list[Patch] = []
    changes: list[VerneedChange] = []
    verneeds = img.verneeds(entries, strtab)
    kept = [vn for vn in verneeds if vn.file not in remove_set or vn.file in repoint]
    dropped = [vn for vn in verneeds if vn not in kept]

    for vn in verneeds:
        if vn.file in remove_set and vn.file in repoint:
            target = repoint[vn.file]
            at = vn.record.offset + 4  # vn_file follows vn_version and vn_cnt
            patches.append(Patch(at, data[at : at + 4], img.pack("I", remaining[target]),
                                 f"vn_file of Verneed {vn.file}"))
            changes.append(VerneedChange(vn.file, "repoint", target, vn.versions))

    dropped_tags: list[int] = []
    unversioned: list[tuple[str, str]] = []
    if dropped:
        unversioned = _plan_unversion(img, entries, strtab, kept, dropped, unversion, patches)
        patches.append(_repack_verneed(img, verneeds, kept))
        for vn in dropped:
            changes.append(VerneedChange(vn.file, "drop", None, vn.versions))
        if not kept:
            dropped_tags += [DT_VERNEED, DT_VERNEEDNUM]
            if img.tag(entries, DT_VERDEF) is None:
                dropped_tags.append(DT_VERSYM)
        info_off = img.verneed_section_info(img.tag(entries, DT_VERNEED) or 0)
        if info_off is not None:
            patches.append(Patch(info_off, data[info_off : info_off + 4], img.pack("I", len(kept)),
                                 "sh_info of .gnu.version_r"))

    patches.append(_new_dynamic(img, dyn_off, entries, drop_idx, dropped_tags, len(kept) if dropped else None))
    patches.sort(key=lambda p: p.offset)
    for a, b in zip(patches, patches[1:]):
        if a.offset + len(a.new) > b.offset:
            raise RewriteError(f"{a.what} overlaps {b.what}; refusing to rewrite an unusual layout")
    return RewritePlan(
        file_size=len(data),
        removed=tuple(n for i, n, _ in needed if i in drop_idx),
        verneed=tuple(changes),
        unversioned=tuple(unversioned),
        dropped_tags=tuple(_TAG_NAMES[t] for t in dropped_tags),
        patches=tuple(p for p in patches if p.old != p.new),
    )


def _refuse_prelinked(img: _Image, entries: list[tuple[int, int]]) -> None:
    """A prelinked file's conflict and library lists name DT_NEEDED positions: not rewritten."""
    for tag, what in ((DT_GNU_LIBLIST, "prelink library list"), (DT_GNU_CONFLICT, "prelink conflicts")):
        if img.tag(entries, tag) is not None:
            raise RewriteError(f"file is prelinked ({what}); undo prelinking first", hint="prelink -u FILE")


def _entries_to_drop(entries: list[tuple[int, int]], needed: list[tuple[int, str, int]],
                     remove: set[str]) -> set[int]:
    """The dynamic-array indices of the DT_NEEDED entries named in ``remove``; each must appear exactly once."""
    needed_names = [n for _, n, _ in needed]
    drop_idx: set[int] = set()
    for name in sorted(remove):
        hits = [i for i, n, _ in needed if n == name]
        if not hits:
            raise RewriteError(
                f"{name} is not a DT_NEEDED entry of this file",
                hint="DT_NEEDED entries: " + (", ".join(needed_names) or "(none)"),
            )
        if len(hits) > 1:
            raise RewriteError(f"{name} appears {len(hits)} times in DT_NEEDED; removal would be ambiguous")
        if hits[0] > 0 and entries[hits[0] - 1][0] == DT_POSFLAG_1:
            raise RewriteError(f"DT_NEEDED {name} is qualified by a preceding DT_POSFLAG_1; not supported")
        drop_idx.add(hits[0])
    return drop_idx


def _new_dynamic(img: _Image, dyn_off: int, entries: list[tuple[int, int]], drop_idx: set[int],
                 dropped_tags: list[int], verneednum: int | None) -> Patch:
    """The dynamic array without the dropped entries, in order, padded with DT_NULL to the same size."""
    new_entries = []
    for i, (tag, val) in enumerate(entries):
        if i in drop_idx or tag in dropped_tags:
            continue
        if tag == DT_VERNEEDNUM and verneednum is not None:
            val = verneednum
        new_entries.append((tag, val))
    total = len(entries) + 1  # through the first DT_NULL
    new_entries += [(DT_NULL, 0)] * (total - len(new_entries))
    new_dyn = b"".join(img.pack(img.dyn_fmt, t, v) for t, v in new_entries)
    return Patch(dyn_off, img.data[dyn_off : dyn_off + len(new_dyn)], new_dyn, "dynamic array")


def _plan_unversion(
    img: _Image,
    entries: list[tuple[int, int]],
    strtab: tuple[int, int],
    kept: list[_Requirement],
    dropped: list[_Requirement],
    unversion: bool,
    patches: list[Patch],
) -> list[tuple[str, str]]:
    """Reset .gnu.version entries that use dropped version indices to VER_NDX_GLOBAL."""
    index_name = {a.other & 0x7FFF: (vn.file, name) for vn in dropped for a, name in zip(vn.record.auxes, vn.versions)}
    still_used = {a.other & 0x7FFF for vn in kept for a in vn.record.auxes}
    still_used |= {ndx for ndx, _, _ in img.verdefs(entries, strtab)}
    if clash := sorted(set(index_name) & still_used):
        raise RewriteError(f"version index {clash[0]} of a dropped requirement is also used elsewhere")
    if any(i < 2 for i in index_name):
        raise RewriteError("a version requirement uses reserved version index 0 or 1")
    if img.tag(entries, DT_VERSYM) is None:
        return []
    count = img.symbol_count(entries)
    if count is None:
        raise RewriteError("cannot size the dynamic symbol table (no DT_HASH or DT_GNU_HASH) to update .gnu.version")
    versym = img.versyms(entries, count)
    assert versym is not None  # DT_VERSYM checked above
    vs_off, vs = versym
    users = [(i, v & 0x7FFF) for i, v in enumerate(vs) if v & 0x7FFF in index_name]
    if not users:
        return []
    syms = {i: (name, shndx) for i, name, _, _, shndx, _ in img.symbols(entries, strtab, count)}
    result = []
    for i, ndx in users:
        name, shndx = syms[i]
        lib, ver = index_name[ndx]
        if shndx != SHN_UNDEF:
            raise RewriteError(f"defined symbol {name} carries the version index of requirement {ver} from {lib}")
        result.append((name, ver))
    if not unversion:
        libs = sorted({index_name[n][0] for _, n in users})
        shown = ", ".join(f"{s}@{v}" for s, v in result[:5]) + (" ..." if len(result) > 5 else "")
        raise RewriteError(
            f"symbols are bound to versions required from {', '.join(libs)} ({shown}); "
            "dropping the requirement would make them unversioned, which can bind a different version",
            hint="re-point the requirement to the library that defines these versions now "
            "(e.g. libpthread.so.0 -> libc.so.6), or allow unversioning after checking which version an unversioned reference binds",
        )
    for i, _ in users:
        off = vs_off + 2 * i
        patches.append(Patch(off, img.data[off : off + 2], img.pack("H", VER_NDX_GLOBAL), f".gnu.version[{i}]"))
    return result


def _repack_verneed(img: _Image, verneeds: list[_Requirement], kept: list[_Requirement]) -> Patch:
    """Re-serialize the kept Verneed/Vernaux records compactly at the same place.

    Requires the records to tile one contiguous block starting at DT_VERNEED
    (the layout GNU ld, gold, lld and mold all emit), so that nothing else is
    overwritten and DT_VERNEED and the section address stay valid.
    """
    start = verneeds[0].record.offset
    spans = sorted([(vn.record.offset, VERNEED_SIZE) for vn in verneeds]
                   + [(a.offset, VERNAUX_SIZE) for vn in verneeds for a in vn.record.auxes])
    pos = start
    for off, size in spans:
        if off != pos:
            raise RewriteError(".gnu.version_r records are not one contiguous block starting at DT_VERNEED; "
                               "cannot drop an entry")
        pos += size
    out = bytearray()
    for k, vn in enumerate(kept):
        rec, auxes = vn.record, vn.record.auxes
        nxt = 0 if k == len(kept) - 1 else VERNEED_SIZE + VERNAUX_SIZE * len(auxes)
        out += img.pack(VERNEED_FORMAT, rec.version, len(auxes), rec.file, VERNEED_SIZE, nxt)
        for j, a in enumerate(auxes):
            a_next = 0 if j == len(auxes) - 1 else VERNAUX_SIZE
            out += img.pack(VERNAUX_FORMAT, a.hash, a.flags, a.other, a.name, a_next)
    out += bytes(pos - start - len(out))
    return Patch(start, bytes(img.data[start:pos]), bytes(out), ".gnu.version_r")


# --- writing -------------------------------------------------------------------


def apply_plan(data: bytes, plan: RewritePlan) -> bytes:
    """Return ``data`` with the plan's patches applied; size never changes.

    Checks that ``data`` still holds the bytes the plan was computed from, so a
    stale plan (file changed in between) is refused instead of corrupting it.
    """
    if len(data) != plan.file_size:
        raise RewriteError("file size changed since the rewrite was planned")
    out = bytearray(data)
    for p in plan.patches:
        if data[p.offset : p.offset + len(p.old)] != p.old or len(p.old) != len(p.new):
            raise RewriteError(f"file changed since the rewrite was planned ({p.what})")
        out[p.offset : p.offset + len(p.new)] = p.new
    return bytes(out)


# --- the search path ------------------------------------------------------------

_STRING_TAGS = {DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH, DT_AUXILIARY, DT_FILTER, DT_CONFIG, DT_DEPAUDIT, DT_AUDIT}


def plan_search_path(data: bytes, value: str) -> RewritePlan:
    """Make ``value`` the object's search path, as ``DT_RUNPATH``; same size, in place.

    ``DT_RPATH`` becomes ``DT_RUNPATH`` (only the tag changes; a ``DT_RPATH``
    next to a ``DT_RUNPATH`` is deleted, the loader ignores it anyway).  The
    string is overwritten where it stands, so ``value`` may not be longer than
    the old one, and no other name of the dynamic string table may share its
    bytes (linkers store a name that is the tail of another only once): any
    name that could is a refusal.  An empty ``value`` deletes the tag, since an
    empty string would mean the current directory.
    """
    img = _Image(data, RewriteError)
    dyn_off, entries = img.dynamic()
    strtab = img.strtab(entries)
    rpath = [i for i, (t, _) in enumerate(entries) if t == DT_RPATH]
    runpath = [i for i, (t, _) in enumerate(entries) if t == DT_RUNPATH]
    if len(rpath) > 1 or len(runpath) > 1:
        raise RewriteError("more than one DT_RPATH or DT_RUNPATH; refusing to guess which the loader reads")
    if not rpath and not runpath:
        raise RewriteError("the file has neither DT_RPATH nor DT_RUNPATH")
    target = runpath[0] if runpath else rpath[0]
    index = entries[target][1]
    old = img.string(strtab, index)
    drop = {rpath[0]} if rpath and runpath else set()
    patches: list[Patch] = []
    new_entries = list(entries)
    if value:
        new, old_b = value.encode("utf-8", "surrogateescape"), old.encode("utf-8", "surrogateescape")
        if len(new) > len(old_b):
            raise RewriteError(f"the new search path {value!r} is longer than the old one {old!r}")
        if new != old_b:
            _refuse_shared(img, entries, strtab, target, old)
            off = strtab[0] + index
            patches.append(Patch(off, data[off : off + len(old_b)], new + b"\0" * (len(old_b) - len(new)),
                                 "search path string"))
        new_entries[target] = (DT_RUNPATH, index)
    else:
        drop.add(target)
    kept = [e for i, e in enumerate(new_entries) if i not in drop]
    kept += [(DT_NULL, 0)] * (len(entries) + 1 - len(kept))
    new_dyn = b"".join(img.pack(img.dyn_fmt, t, v) for t, v in kept)
    patches.append(Patch(dyn_off, data[dyn_off : dyn_off + len(new_dyn)], new_dyn, "dynamic array"))
    patches.sort(key=lambda p: p.offset)
    for a, b in zip(patches, patches[1:]):
        if a.offset + len(a.new) > b.offset:
            raise RewriteError(f"{a.what} overlaps {b.what}; refusing to rewrite an unusual layout")
    dropped = tuple("DT_RPATH" if entries[i][0] == DT_RPATH else "DT_RUNPATH" for i in sorted(drop))
    return RewritePlan(file_size=len(data), removed=(), verneed=(), unversioned=(), dropped_tags=dropped,
                       patches=tuple(p for p in patches if p.old != p.new))


def _refuse_shared(img: _Image, entries: list[tuple[int, int]], strtab: tuple[int, int], target: int,
                   old: str) -> None:
    """Refuse when another name could live in the search path's bytes (one is the other's tail)."""
    names = [img.string(strtab, v) for i, (t, v) in enumerate(entries) if t in _STRING_TAGS and i != target]
    for vn in img.verneeds(entries, strtab):
        names.append(vn.file)
        names.extend(vn.versions)
    names.extend(name for _ndx, _flags, name in img.verdefs(entries, strtab))
    count = img.symbol_count(entries)
    if count is None and img.tag(entries, DT_SYMTAB) is not None:
        raise RewriteError("cannot tell how many dynamic symbols there are; refusing to overwrite a shared string")
    if count:
        names.extend(name for _i, name, *_rest in img.symbols(entries, strtab, count))
    for name in names:
        if name and name != old and (old.endswith(name) or name.endswith(old)):
            raise RewriteError(f"the search path string may share its bytes with {name!r}; "
                               "use patchelf --set-rpath, which writes a new string")
