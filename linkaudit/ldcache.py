"""``/etc/ld.so.cache`` read directly, as ``elf/dl-cache.c`` reads it.

Both formats are understood: the new one (``glibc-ld.so.cache1.1``, with its
glibc-hwcaps extension) alone or behind the old ``ld.so-1.7.0`` table.  The
cache is in the byte order of the system that wrote it (a big-endian s390x
root has a big-endian cache), so it is read in the byte order of the
architecture asking, and a cache that declares the other order is refused,
as ``ld.so`` refuses it.  A cache that cannot be used says why
(:class:`CacheUnusable`): the loader reports that instead of silently going
on without it.
"""

from __future__ import annotations

import os
import struct
from typing import NamedTuple

from linkaudit.errors import ConfigError
from linkaudit.hostparams import CacheHwcaps
from linkaudit.smallfile import read_bounded

CACHE_LIMIT = 256 << 20  # a real ld.so.cache is well under 1 MB; glibc maps whatever is there
NEW = b"glibc-ld.so.cache1.1"
OLD = b"ld.so-1.7.0"
_EXT_MAGIC = 0xEAA42174
_TAG_GLIBC_HWCAPS = 0
_ENDIAN_MASK, _ENDIAN_LITTLE, _ENDIAN_BIG = 3, 2, 3  # cache_file_new_flags_endian_*
_NAMED_HWCAP = 1 << 62  # DL_CACHE_HWCAP_EXTENSION: the low 32 bits index the glibc-hwcaps names


class CacheUnusable(NamedTuple):
    """Why a cache was not used (the path as the audited system names it)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}; ld.so.cache not used"


def _libcmp(a: bytes, b: bytes) -> int:
    """``_dl_cache_libcmp``: compare names, runs of digits numerically."""
    i = j = 0
    while i < len(a):
        ca = a[i]
        if 48 <= ca <= 57:
            if j < len(b) and 48 <= b[j] <= 57:
                v1 = v2 = 0
                while i < len(a) and 48 <= a[i] <= 57:
                    v1 = v1 * 10 + a[i] - 48
                    i += 1
                while j < len(b) and 48 <= b[j] <= 57:
                    v2 = v2 * 10 + b[j] - 48
                    j += 1
                if v1 != v2:
                    return v1 - v2
                continue
            return 1
        cb = b[j] if j < len(b) else 0
        if 48 <= cb <= 57:
            return -1
        if ca != cb:
            return ca - cb
        i += 1
        j += 1
    return 0 - (b[j] if j < len(b) else 0)


class LdCache:
    """One parsed cache: sorted entries (flags, key, value, hwcap) and the glibc-hwcaps names."""

    def __init__(self, data: bytes, base: int, entries: list[tuple[int, int, int, int]], flags: frozenset[int],
                 hwcap_names: dict[int, str]) -> None:
        self._data = data
        self._base = base
        self._entries = entries
        self._flags = flags
        self._hwcap_names = hwcap_names

    def __len__(self) -> int:
        return len(self._entries)

    def directories(self) -> frozenset[str]:
        """Every directory that holds a library of an acceptable entry (computed once)."""
        dirs = getattr(self, "_dirs", None)
        if dirs is None:
            found = set()
            for flags, _key, value, _hw in self._entries:
                if flags in self._flags:
                    text = self._str(value)
                    if text:
                        found.add(os.path.dirname(text.decode("utf-8", "surrogateescape")))
            dirs = self._dirs = frozenset(found)
        return dirs

    @classmethod
    def load(cls, path: str, flags: frozenset[int], endian: str = "<", name: str | None = None) -> LdCache | CacheUnusable | None:
        """Read the cache at ``path`` (on this machine) for objects of byte order ``endian``.

        None when there is no cache file (ld.so then silently searches without
        one); :class:`CacheUnusable` when there is one it cannot use.
        ``name`` is the path as the audited system names it, for messages.
        """
        shown = name or path
        if not os.path.lexists(path):
            return None
        try:  # the audited image's file: a FIFO or device in its place must not hang or flood the run
            data = read_bounded(path, CACHE_LIMIT, "ld.so.cache")
        except ConfigError as exc:
            if not os.path.exists(path):
                return None
            return CacheUnusable(shown, exc.message.removeprefix(f"{os.fsdecode(path)}: "))
        try:
            return cls._parse(data, flags, endian, shown)
        except struct.error:
            return CacheUnusable(shown, "truncated")

    @classmethod
    def _parse(cls, data: bytes, flags: frozenset[int], endian: str, shown: str) -> LdCache | CacheUnusable:
        if data.startswith(OLD):
            (nlibs,) = struct.unpack_from(endian + "I", data, 12)
            new_at = 16 + nlibs * 12
            if data[new_at : new_at + len(NEW)] != NEW:
                new_at = (new_at + 7) & ~7
            if data[new_at : new_at + len(NEW)] != NEW:
                if 16 + nlibs * 12 > len(data):
                    return CacheUnusable(shown, "truncated old-format table")
                old = [struct.unpack_from(endian + "iII", data, 16 + i * 12) for i in range(nlibs)]
                return cls(data, 16 + nlibs * 12, [(f, k, v, 0) for f, k, v in old], flags, {})
            data = data[new_at:]
        if not data.startswith(NEW):
            return CacheUnusable(shown, "not an ld.so.cache (unknown magic)")
        if len(data) < 48:
            return CacheUnusable(shown, "truncated header")
        declared = data[28] & _ENDIAN_MASK  # the flags byte after nlibs, len_strings
        if declared in (_ENDIAN_LITTLE, _ENDIAN_BIG) and (declared == _ENDIAN_BIG) != (endian == ">"):
            order = "big" if declared == _ENDIAN_BIG else "little"
            return CacheUnusable(shown, f"written {order}-endian, for another architecture")
        nlibs, _strlen, _flags, ext_off = struct.unpack_from(endian + "IIB3xI", data, 20)
        if 48 + nlibs * 24 > len(data):
            return CacheUnusable(shown, f"truncated ({nlibs} entries declared)")
        rows = [struct.unpack_from(endian + "iIIIQ", data, 48 + i * 24) for i in range(nlibs)]
        entries = [(f, k, v, hw) for f, k, v, _os, hw in rows]
        return cls(data, 0, entries, flags, _hwcap_extension(data, ext_off, endian))

    def _str(self, off: int) -> bytes | None:
        pos = self._base + off
        if off < 0 or pos >= len(self._data):
            return None
        end = self._data.find(b"\0", pos)
        return self._data[pos : end if end >= 0 else len(self._data)]

    def lookup(self, name: str, levels: tuple[str, ...], legacy: CacheHwcaps | None = None) -> str | None:
        """``search_cache``: binary search, then the best acceptable entry of that name.

        ``levels`` are the active glibc-hwcaps subdirectory names, best first;
        ``legacy`` says which legacy hwcap-specific entries are acceptable
        (None: none are, as from glibc 2.40).
        """
        want = name.encode("utf-8", "surrogateescape")
        left, right = 0, len(self._entries) - 1
        while left <= right:
            middle = (left + right) // 2
            key = self._str(self._entries[middle][1])
            if key is None:
                return None
            cmp = _libcmp(want, key)
            if cmp == 0:
                return self._best(want, middle, left, right, levels, legacy)
            if cmp < 0:
                left = middle + 1
            else:
                right = middle - 1
        return None

    def _best(self, want: bytes, middle: int, left: int, right: int, levels: tuple[str, ...],
              legacy: CacheHwcaps | None) -> str | None:
        left = middle
        while middle > 0:
            k = self._str(self._entries[middle - 1][1])
            if k is None or _libcmp(want, k) != 0:
                break
            middle -= 1
        best: bytes | None = None
        best_prio = 1 << 32
        while middle <= right:
            flags, key_off, value, hwcap = self._entries[middle]
            if middle > left:
                k = self._str(key_off)
                if k is None or _libcmp(want, k) != 0:
                    break
            middle += 1
            if flags not in self._flags or self._str(value) is None:
                continue
            if hwcap & _NAMED_HWCAP:
                sub = self._hwcap_names.get(hwcap & 0xFFFFFFFF)
                if sub not in levels:
                    continue
                prio = levels.index(sub) + 1
                if best is None or prio < best_prio:
                    best, best_prio = self._str(value), prio
                continue
            if best is not None:
                break
            if hwcap and (legacy is None or not legacy.accepts(hwcap)):
                continue  # a legacy hwcap-specific entry this CPU (or this glibc) does not take
            best = self._str(value)
            break
        return best.decode("utf-8", "surrogateescape") if best else None


def _hwcap_extension(data: bytes, ext_off: int, endian: str) -> dict[int, str]:
    """Index -> glibc-hwcaps subdirectory name, from the cache's extension section."""
    names: dict[int, str] = {}
    try:
        if not ext_off or ext_off + 8 > len(data):
            return names
        magic, count = struct.unpack_from(endian + "II", data, ext_off)
        if magic != _EXT_MAGIC:
            return names
        for i in range(min(count, 64)):
            tag, _flags, offset, size = struct.unpack_from(endian + "IIII", data, ext_off + 8 + i * 16)
            if tag == _TAG_GLIBC_HWCAPS:  # an array of string offsets
                for j in range(size // 4):
                    (soff,) = struct.unpack_from(endian + "I", data, offset + j * 4)
                    end = data.find(b"\0", soff)
                    names[j] = data[soff:end].decode("ascii", "replace")
    except struct.error:
        pass
    return names
