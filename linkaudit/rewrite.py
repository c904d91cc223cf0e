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
``readelf``.  Pure ``struct``: any class (32/64-bit) and byte order.

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
from typing import Literal

from linkaudit.elf import (  # the ELF constants are defined once, in elf.py
    DT_GNU_CONFLICT,
    DT_GNU_HASH,
    DT_GNU_LIBLIST,
    DT_HASH,
    DT_NEEDED,
    DT_NULL,
    DT_POSFLAG_1,
    DT_STRSZ,
    DT_STRTAB,
    DT_SYMENT,
    DT_SYMTAB,
    DT_VERDEF,
    DT_VERDEFNUM,
    DT_VERNEED,
    DT_VERNEEDNUM,
    DT_VERSYM,
    VER_FLG_BASE,
    VER_NDX_GLOBAL,
)
from linkaudit.elf import PT_DYNAMIC as _PT_DYNAMIC
from linkaudit.elf import PT_LOAD as _PT_LOAD
from linkaudit.elf import SHN_UNDEF as _SHN_UNDEF
from linkaudit.elf import SHT_GNU_VERNEED as _SHT_GNU_VERNEED
from linkaudit.errors import ElfReadError, LinkauditError, RewriteError

__all__ = [
    "Patch",
    "RewritePlan",
    "VerneedChange",
    "apply_plan",
    "plan_needed_removal",
    "versions_defined",
    "versions_required_from",
]

# --- ELF constants (only those used) -------------------------------------

# defined once, in elf.py (imported above)

_TAG_NAMES = {DT_VERNEED: "DT_VERNEED", DT_VERNEEDNUM: "DT_VERNEEDNUM", DT_VERSYM: "DT_VERSYM"}

_VERNEED_SIZE = 16  # Elf32_Verneed == Elf64_Verneed
_VERNAUX_SIZE = 16
_MAX_RECORDS = 1 << 16  # bound on chain walks, so corrupt loops terminate

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


# --- ELF reading -------------------------------------------------------------


@dataclass(frozen=True)
class _Vernaux:
    offset: int
    hash: int
    flags: int
    other: int
    name: str


@dataclass(frozen=True)
class _Verneed:
    offset: int
    file_off: int  # vn_file (.dynstr offset)
    file: str
    aux: tuple[_Vernaux, ...]


class _Image:
    """Minimal, bounds-checked view of an ELF file's dynamic-linking data.

    Every failure raises ``err`` (RewriteError when planning a rewrite,
    ElfReadError for the read-only helpers), never struct/Index errors.
    """

    def __init__(self, data: bytes, err: type[LinkauditError]) -> None:
        self.data = data
        self.err = err
        if len(data) < 16 or data[:4] != b"\x7fELF":
            raise err("not an ELF file (bad magic)")
        if data[4] not in (1, 2):
            raise err(f"unknown ELF class {data[4]}")
        if data[5] not in (1, 2):
            raise err(f"unknown ELF data encoding {data[5]}")
        self.is64 = data[4] == 2
        self.e = "<" if data[5] == 1 else ">"
        hdr = self.unpack("HHIQQQIHHHHHH" if self.is64 else "HHIIIIIHHHHHH", 16, "ELF header")
        (self.e_type, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, _) = hdr
        self.addr = "Q" if self.is64 else "I"
        self.dyn_fmt = "qQ" if self.is64 else "iI"
        self.dyn_size = 16 if self.is64 else 8
        self.phdrs = self._read_phdrs(phoff, phentsize, phnum)
        for p_type, p_offset, _, p_filesz in self.phdrs:
            if p_type in (_PT_LOAD, _PT_DYNAMIC) and p_offset + p_filesz > len(data):
                raise err(f"file is truncated: a segment ends at {p_offset + p_filesz:#x}, past its end")
        self.shoff, self.shentsize, self.shnum = shoff, shentsize, shnum

    # low-level helpers
    def unpack(self, fmt: str, offset: int, what: str) -> tuple[int, ...]:
        fmt = self.e + fmt if not fmt.startswith(("<", ">")) else fmt
        size = struct.calcsize(fmt)
        if offset < 0 or offset + size > len(self.data):
            raise self.err(f"file is truncated: {what} at offset {offset:#x} lies past its end")
        return struct.unpack_from(fmt, self.data, offset)

    def pack(self, fmt: str, *values: int) -> bytes:
        return struct.pack(self.e + fmt, *values)

    def _read_phdrs(self, phoff: int, phentsize: int, phnum: int) -> list[tuple[int, int, int, int]]:
        """Return (p_type, p_offset, p_vaddr, p_filesz) for each program header."""
        if phnum == 0:
            return []
        if phnum == 0xFFFF:
            raise self.err("program header count overflows e_phnum (PN_XNUM); not supported")
        want = 56 if self.is64 else 32
        if phentsize < want:
            raise self.err(f"program header entry size {phentsize} is too small")
        out = []
        for i in range(phnum):
            off = phoff + i * phentsize
            if self.is64:
                p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = self.unpack("IIQQQQQQ", off, "program header")
            else:
                p_type, p_offset, p_vaddr, _, p_filesz, _, _, _ = self.unpack("IIIIIIII", off, "program header")
            out.append((p_type, p_offset, p_vaddr, p_filesz))
        return out

    def offset_of(self, vaddr: int, size: int, what: str) -> int:
        """Map a virtual address range to a file offset via PT_LOAD, as the loader would."""
        for p_type, p_offset, p_vaddr, p_filesz in self.phdrs:
            if p_type == _PT_LOAD and p_vaddr <= vaddr and vaddr + size <= p_vaddr + p_filesz:
                off = p_offset + (vaddr - p_vaddr)
                if off + size > len(self.data):
                    raise self.err(f"file is truncated: {what} at offset {off:#x} lies past its end")
                return off
        raise self.err(f"{what} at address {vaddr:#x} is not backed by file data in any PT_LOAD segment")

    # dynamic table
    def dynamic(self) -> tuple[int, list[tuple[int, int]]]:
        """Return (file offset of the array, entries before the first DT_NULL)."""
        dyns = [p for p in self.phdrs if p[0] == _PT_DYNAMIC]
        if not dyns:
            kind = "relocatable object" if self.e_type == 1 else "file"
            raise self.err(f"{kind} has no PT_DYNAMIC segment (statically linked, or not a linked object)")
        if len(dyns) > 1:
            raise self.err("file has more than one PT_DYNAMIC segment")
        _, off, vaddr, filesz = dyns[0]
        if off + filesz > len(self.data):
            raise self.err("file is truncated: dynamic table runs past the end of the file")
        if self.offset_of(vaddr, min(filesz, self.dyn_size), "dynamic table") != off:
            raise self.err("PT_DYNAMIC file offset disagrees with its PT_LOAD mapping")
        entries = []
        for i in range(filesz // self.dyn_size):
            tag, val = self.unpack(self.dyn_fmt, off + i * self.dyn_size, "dynamic entry")
            if tag == DT_NULL:
                return off, entries
            entries.append((tag, val))
        raise self.err("dynamic table is not terminated by DT_NULL within PT_DYNAMIC")

    def tag(self, entries: list[tuple[int, int]], tag: int) -> int | None:
        vals = [v for t, v in entries if t == tag]
        if len(vals) > 1:
            raise self.err(f"dynamic tag {tag:#x} occurs {len(vals)} times")
        return vals[0] if vals else None

    def strtab(self, entries: list[tuple[int, int]]) -> tuple[int, int]:
        addr, size = self.tag(entries, DT_STRTAB), self.tag(entries, DT_STRSZ)
        if addr is None or size is None:
            raise self.err("dynamic string table unreachable: DT_STRTAB or DT_STRSZ missing")
        return self.offset_of(addr, size, "dynamic string table (DT_STRTAB)"), size

    def string(self, strtab: tuple[int, int], index: int) -> str:
        off, size = strtab
        if index >= size:
            raise self.err(f"string index {index} is outside the dynamic string table (size {size})")
        end = self.data.find(b"\0", off + index, off + size)
        if end < 0:
            raise self.err(f"unterminated string at index {index} of the dynamic string table")
        return self.data[off + index : end].decode("utf-8", "surrogateescape")

    # version records
    def verneeds(self, entries: list[tuple[int, int]], strtab: tuple[int, int]) -> list[_Verneed]:
        addr = self.tag(entries, DT_VERNEED)
        if addr is None:
            return []
        out: list[_Verneed] = []
        seen: set[int] = set()
        while True:
            off = self.offset_of(addr, _VERNEED_SIZE, "Verneed record")
            if off in seen or len(out) >= _MAX_RECORDS:
                raise self.err("Verneed chain loops")
            seen.add(off)
            version, cnt, file_off, aux, nxt = self.unpack("HHIII", off, "Verneed record")
            if version != 1:
                raise self.err(f"unsupported Verneed version {version}")
            auxes = []
            a_addr = addr + aux
            for k in range(cnt):
                a_off = self.offset_of(a_addr, _VERNAUX_SIZE, "Vernaux record")
                h, fl, other, name, a_next = self.unpack("IHHII", a_off, "Vernaux record")
                auxes.append(_Vernaux(a_off, h, fl, other, self.string(strtab, name)))
                if a_next == 0:
                    if k != cnt - 1:
                        raise self.err("Vernaux chain is shorter than vn_cnt")
                    break
                if k == cnt - 1:
                    raise self.err("Vernaux chain is longer than vn_cnt")
                a_addr += a_next
            if not auxes:
                raise self.err("Verneed record without Vernaux records")
            out.append(_Verneed(off, file_off, self.string(strtab, file_off), tuple(auxes)))
            if nxt == 0:
                break
            addr += nxt
        num = self.tag(entries, DT_VERNEEDNUM)
        if num is not None and num != len(out):
            raise self.err(f"DT_VERNEEDNUM is {num} but the Verneed chain has {len(out)} entries")
        return out

    def verdefs(self, entries: list[tuple[int, int]], strtab: tuple[int, int]) -> list[tuple[int, int, str]]:
        """Return (vd_ndx, vd_flags, first Verdaux name) for each Verdef."""
        addr = self.tag(entries, DT_VERDEF)
        if addr is None:
            return []
        out = []
        while True:
            off = self.offset_of(addr, 20, "Verdef record")
            version, flags, ndx, cnt, _, aux, nxt = self.unpack("HHHHIII", off, "Verdef record")
            if version != 1:
                raise self.err(f"unsupported Verdef version {version}")
            if cnt < 1:
                raise self.err("Verdef record without Verdaux records")
            (name,) = self.unpack("I", self.offset_of(addr + aux, 8, "Verdaux record"), "Verdaux record")
            out.append((ndx & 0x7FFF, flags, self.string(strtab, name)))
            if nxt == 0 or len(out) >= _MAX_RECORDS:
                break
            addr += nxt
        return out

    # symbols
    def symbol_count(self, entries: list[tuple[int, int]]) -> int | None:
        """Number of .dynsym entries: DT_HASH nchain, else DT_GNU_HASH walk, else None."""
        h = self.tag(entries, DT_HASH)
        if h is not None:
            return self.unpack("II", self.offset_of(h, 8, "DT_HASH table"), "DT_HASH table")[1]
        g = self.tag(entries, DT_GNU_HASH)
        if g is None:
            return None
        goff = self.offset_of(g, 16, "DT_GNU_HASH table")
        nbuckets, symoffset, bloom_size, _ = self.unpack("IIII", goff, "DT_GNU_HASH header")
        word = 8 if self.is64 else 4
        b_addr = g + 16 + bloom_size * word
        boff = self.offset_of(b_addr, 4 * nbuckets, "DT_GNU_HASH buckets")
        buckets = self.unpack(f"{nbuckets}I", boff, "DT_GNU_HASH buckets") if nbuckets else ()
        last = max(buckets, default=0)
        if last < symoffset:
            return symoffset
        c_addr = b_addr + 4 * nbuckets
        idx = last
        for _ in range(1 << 24):
            (val,) = self.unpack("I", self.offset_of(c_addr + 4 * (idx - symoffset), 4, "DT_GNU_HASH chain"), "chain")
            if val & 1:
                return idx + 1
            idx += 1
        raise self.err("DT_GNU_HASH chain is unterminated")

    def symbols(
        self, entries: list[tuple[int, int]], strtab: tuple[int, int], count: int
    ) -> Iterator[tuple[int, str, int, int, int, int]]:
        """Yield (index, name, st_info, st_other, st_shndx, st_value) of .dynsym entries."""
        addr = self.tag(entries, DT_SYMTAB)
        if addr is None:
            raise self.err("DT_SYMTAB missing")
        ent = self.tag(entries, DT_SYMENT) or (24 if self.is64 else 16)
        if ent < (24 if self.is64 else 16):
            raise self.err(f"DT_SYMENT {ent} is too small")
        base = self.offset_of(addr, ent * count, "dynamic symbol table")
        for i in range(count):
            if self.is64:
                name, info, other, shndx, value, _ = self.unpack("IBBHQQ", base + i * ent, "symbol")
            else:
                name, value, _, info, other, shndx = self.unpack("IIIBBH", base + i * ent, "symbol")
            yield i, self.string(strtab, name), info, other, shndx, value

    def versyms(self, entries: list[tuple[int, int]], count: int) -> tuple[int, tuple[int, ...]] | None:
        addr = self.tag(entries, DT_VERSYM)
        if addr is None:
            return None
        off = self.offset_of(addr, 2 * count, ".gnu.version (DT_VERSYM)")
        return off, self.unpack(f"{count}H", off, ".gnu.version") if count else ()

    def verneed_section_info(self, vaddr: int) -> int | None:
        """File offset of sh_info of the SHT_GNU_verneed section at ``vaddr``, if any.

        Section headers are optional for the loader, so anything odd here means
        "no section to update", not an error.
        """
        want = 64 if self.is64 else 40
        if self.shoff == 0 or self.shnum == 0 or self.shentsize < want:
            return None
        for i in range(self.shnum):
            off = self.shoff + i * self.shentsize
            if off + want > len(self.data):
                return None
            if self.is64:
                _, sh_type, _, sh_addr, *_ = struct.unpack_from(self.e + "IIQQQQIIQQ", self.data, off)
                info = off + 44
            else:
                _, sh_type, _, sh_addr, *_ = struct.unpack_from(self.e + "IIIIIIIIII", self.data, off)
                info = off + 28
            if sh_type == _SHT_GNU_VERNEED and sh_addr == vaddr:
                return info
        return None


# --- read-only helpers for the caller ----------------------------------------


def versions_required_from(data: bytes, libname: str) -> tuple[str, ...]:
    """Version names this file requires from ``libname`` (its ``Verneed`` entries).

    Lets the caller check, before re-pointing, that the replacement library
    defines all of them (compare with :func:`versions_defined`).
    """
    img = _Image(data, ElfReadError)
    _, entries = img.dynamic()
    strtab = img.strtab(entries)
    return tuple(a.name for vn in img.verneeds(entries, strtab) if vn.file == libname for a in vn.aux)


def versions_defined(data: bytes) -> tuple[str, ...]:
    """Version names this library defines (``DT_VERDEF``), without the
    ``VER_FLG_BASE`` entry: that one names the file itself and is never matched
    against a requirement by the loader."""
    img = _Image(data, ElfReadError)
    _, entries = img.dynamic()
    strtab = img.strtab(entries)
    return tuple(name for _, flags, name in img.verdefs(entries, strtab) if not flags & VER_FLG_BASE)


# --- planning ------------------------------------------------------------------


def plan_needed_removal(
    data: bytes,
    remove: Collection[str],
    repoint: Mapping[str, str] | None = None,
    *,
    unversion: bool = False,
) -> RewritePlan:
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
            patches.append(Patch(vn.offset + 4, data[vn.offset + 4 : vn.offset + 8],
                                 img.pack("I", remaining[target]), f"vn_file of Verneed {vn.file}"))
            changes.append(VerneedChange(vn.file, "repoint", target, tuple(a.name for a in vn.aux)))

    dropped_tags: list[int] = []
    unversioned: list[tuple[str, str]] = []
    if dropped:
        unversioned = _plan_unversion(img, entries, strtab, kept, dropped, unversion, patches)
        patches.append(_repack_verneed(img, verneeds, kept))
        for vn in dropped:
            changes.append(VerneedChange(vn.file, "drop", None, tuple(a.name for a in vn.aux)))
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
    kept: list[_Verneed],
    dropped: list[_Verneed],
    unversion: bool,
    patches: list[Patch],
) -> list[tuple[str, str]]:
    """Reset .gnu.version entries that use dropped version indices to VER_NDX_GLOBAL."""
    index_name = {a.other & 0x7FFF: (vn.file, a.name) for vn in dropped for a in vn.aux}
    still_used = {a.other & 0x7FFF for vn in kept for a in vn.aux}
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
        if shndx != _SHN_UNDEF:
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


def _repack_verneed(img: _Image, verneeds: list[_Verneed], kept: list[_Verneed]) -> Patch:
    """Re-serialize the kept Verneed/Vernaux records compactly at the same place.

    Requires the records to tile one contiguous block starting at DT_VERNEED
    (the layout GNU ld, gold, lld and mold all emit), so that nothing else is
    overwritten and DT_VERNEED and the section address stay valid.
    """
    start = verneeds[0].offset
    spans = sorted([(vn.offset, _VERNEED_SIZE) for vn in verneeds]
                   + [(a.offset, _VERNAUX_SIZE) for vn in verneeds for a in vn.aux])
    pos = start
    for off, size in spans:
        if off != pos:
            raise RewriteError(".gnu.version_r records are not one contiguous block starting at DT_VERNEED; "
                               "cannot drop an entry")
        pos += size
    out = bytearray()
    for k, vn in enumerate(kept):
        old = img.unpack("HHIII", vn.offset, "Verneed record")
        nxt = 0 if k == len(kept) - 1 else _VERNEED_SIZE + _VERNAUX_SIZE * len(vn.aux)
        out += img.pack("HHIII", old[0], len(vn.aux), vn.file_off, _VERNEED_SIZE, nxt)
        for j, a in enumerate(vn.aux):
            name_off = img.unpack("I", a.offset + 8, "Vernaux record")[0]
            a_next = 0 if j == len(vn.aux) - 1 else _VERNAUX_SIZE
            out += img.pack("IHHII", a.hash, a.flags, a.other, name_off, a_next)
    out += bytes(pos - start - len(out))
    return Patch(start, img.data[start:pos], bytes(out), ".gnu.version_r")


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

DT_SONAME = 14
DT_RPATH = 15
DT_RUNPATH = 29
_STRING_TAGS = {DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH, 0x7FFFFFFD, 0x7FFFFFFF, 0x6FFFFEFA, 0x6FFFFEFB,
                0x6FFFFEFC}  # + DT_AUXILIARY, DT_FILTER, DT_CONFIG, DT_DEPAUDIT, DT_AUDIT


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
        names.extend(a.name for a in vn.aux)
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
