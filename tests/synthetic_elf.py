"""Hand-assembled ELF images in every class and byte order (the host compiler makes only its own).

Shared by the tests of the decoder (``test_elf.py``) and of the writer
(``test_rewrite.py``).  Every offset and field is computed here from the
layout with ``struct`` (only the two hash functions are linkaudit's, checked
against the linker's own tables elsewhere), so the tests can compare what
linkaudit decodes with what was written.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from linkaudit.elf import gnu_hash as dl_new_hash
from linkaudit.elf import sysv_hash as elf_hash  # both checked against the linker's tables in test_elf.py

BASE = 0x400000  # vaddr = file offset + BASE: one PT_LOAD maps the whole image
LAYOUTS = [(True, True), (True, False), (False, True), (False, False)]  # (is64, little)
LAYOUT_IDS = ["elf64-le", "elf64-be", "elf32-le", "elf32-be"]


@dataclass
class Image:
    """The bytes and where each part was put (file offsets)."""

    data: bytes
    offsets: dict[str, int] = field(default_factory=dict)
    strings: dict[str, int] = field(default_factory=dict)  # .dynstr offset of each name


def build_image(
    is64: bool,
    little: bool,
    needed: list[str],
    verneed: list[tuple[str, list[tuple[str, int]]]],
    syms: list[tuple[str, int]],
    spare_nulls: int = 2,
    verdef: list[tuple[str, int, int]] = (),
    gnu_hash: bool = False,
) -> Image:
    """A minimal ET_DYN image: one PT_LOAD (vaddr = offset + BASE), PT_DYNAMIC, .dynstr, .dynsym
    (+ DT_HASH, or DT_GNU_HASH), .gnu.version, .gnu.version_r and ``verdef`` (name, index, flags)
    as .gnu.version_d; no section headers."""
    e = "<" if little else ">"
    ehsize, phsize = (64, 56) if is64 else (52, 32)
    strs = bytearray(b"\0")
    index: dict[str, int] = {}

    def s(name: str) -> int:
        if name not in index:
            index[name] = len(strs)
            strs.extend(name.encode() + b"\0")
        return index[name]

    for n in [*needed, *(f for f, _ in verneed), *(v for _, a in verneed for v, _ in a), *(n for n, _ in syms),
              *(n for n, _, _ in verdef)]:
        s(n)
    off = ehsize + 2 * phsize
    where = {"dynstr": off}
    off = (off + len(strs) + 7) & ~7
    nsyms = len(syms) + 1
    symsize = 24 if is64 else 16
    where["dynsym"] = off
    symtab = bytearray(symsize)
    for n, _ in syms:
        if is64:
            symtab += struct.pack(e + "IBBHQQ", s(n), 0x12, 0, 0, 0, 0)
        else:
            symtab += struct.pack(e + "IIIBBH", s(n), 0, 0, 0x12, 0, 0)
    off += len(symtab)
    where["hash"] = off
    if gnu_hash:  # one bucket holding every symbol from index 1, a bloom filter that lets all through
        chain = [(dl_new_hash(n.encode()) & ~1) | (k == len(syms) - 1) for k, (n, _) in enumerate(syms)]
        word = "Q" if is64 else "I"
        hashtab = struct.pack(e + "IIII", 1, 1, 1, 0) + struct.pack(e + word, (1 << (64 if is64 else 32)) - 1)
        hashtab += struct.pack(e + "I", 1 if syms else 0) + struct.pack(e + f"{len(chain)}I", *chain)
    else:
        hashtab = struct.pack(e + "II", 1, nsyms) + struct.pack(e + "I", 0) + struct.pack(e + f"{nsyms}I", *[0] * nsyms)
    off += len(hashtab)
    where["versym"] = off
    versym = struct.pack(e + f"{nsyms}H", 0, *[v for _, v in syms])
    off = (off + len(versym) + 7) & ~7
    where["verneed"] = off
    vn = bytearray()
    for k, (f, auxes) in enumerate(verneed):
        nxt = 0 if k == len(verneed) - 1 else 16 + 16 * len(auxes)
        vn += struct.pack(e + "HHIII", 1, len(auxes), s(f), 16, nxt)
        for j, (v, ndx) in enumerate(auxes):
            vn += struct.pack(e + "IHHII", elf_hash(v.encode()), 0, ndx, s(v), 0 if j == len(auxes) - 1 else 16)
    off += len(vn)
    where["verdef"] = off
    vd = bytearray()
    for k, (name, ndx, flags) in enumerate(verdef):  # one Verdaux each, right after its Verdef
        nxt = 0 if k == len(verdef) - 1 else 28
        vd += struct.pack(e + "HHHHIII", 1, flags, ndx, 1, elf_hash(name.encode()), 20, nxt)
        vd += struct.pack(e + "II", s(name), 0)
    off = (off + len(vd) + 7) & ~7
    where["dynamic"] = dyn_off = off
    tags = [(1, s(n)) for n in needed] + [
        (5, BASE + where["dynstr"]), (10, len(strs)), (6, BASE + where["dynsym"]), (11, symsize),
        (0x6FFFFEF5 if gnu_hash else 4, BASE + where["hash"]), (0x6FFFFFF0, BASE + where["versym"]),
    ]
    if verneed:
        tags += [(0x6FFFFFFE, BASE + where["verneed"]), (0x6FFFFFFF, len(verneed))]
    if verdef:
        tags += [(0x6FFFFFFC, BASE + where["verdef"]), (0x6FFFFFFD, len(verdef))]
    tags += [(0, 0)] * (1 + spare_nulls)
    dyn = b"".join(struct.pack(e + ("qQ" if is64 else "iI"), t, v) for t, v in tags)
    total = dyn_off + len(dyn)
    machine = {(True, True): 62, (True, False): 21, (False, True): 3, (False, False): 20}[(is64, little)]
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1 if little else 2, 1]) + bytes(9)
    if is64:
        eh = ident + struct.pack(e + "HHIQQQIHHHHHH", 3, machine, 1, 0, ehsize, 0, 0, ehsize, phsize, 2, 64, 0, 0)
        ph = struct.pack(e + "IIQQQQQQ", 1, 5, 0, BASE, BASE, total, total, 0x1000)
        ph += struct.pack(e + "IIQQQQQQ", 2, 6, dyn_off, BASE + dyn_off, BASE + dyn_off, len(dyn), len(dyn), 8)
    else:
        eh = ident + struct.pack(e + "HHIIIIIHHHHHH", 3, machine, 1, 0, ehsize, 0, 0, ehsize, phsize, 2, 40, 0, 0)
        ph = struct.pack(e + "IIIIIIII", 1, 0, BASE, BASE, total, total, 5, 0x1000)
        ph += struct.pack(e + "IIIIIIII", 2, dyn_off, BASE + dyn_off, BASE + dyn_off, len(dyn), len(dyn), 6, 4)
    img = bytearray(total)
    for at, part in ((0, eh), (ehsize, ph), (where["dynstr"], strs), (where["dynsym"], symtab),
                     (where["hash"], hashtab), (where["versym"], versym), (where["verneed"], vn),
                     (where["verdef"], vd), (dyn_off, dyn)):
        img[at : at + len(part)] = part
    return Image(bytes(img), where, dict(index))


def build_elf(*args, **kwargs) -> bytes:
    """Only the bytes of :func:`build_image`."""
    return build_image(*args, **kwargs).data
