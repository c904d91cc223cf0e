"""The ld.so.cache reader on caches written here, in both byte orders, and on damaged ones."""

from __future__ import annotations

import struct

import pytest

from linkaudit.ldcache import CacheUnusable, LdCache, _libcmp
from linkaudit.machines import FLAG_ELF_LIBC6, FLAG_S390_LIB64, FLAG_X8664_LIB64

X86 = frozenset({FLAG_X8664_LIB64 | FLAG_ELF_LIBC6})
S390X = frozenset({FLAG_S390_LIB64 | FLAG_ELF_LIBC6})


def new_cache(entries: list[tuple[int, str, str, int]], endian: str, declare: bool = True,
              hwcap_names: tuple[str, ...] = ()) -> bytes:
    """A ``glibc-ld.so.cache1.1`` file as ldconfig writes it (entries sorted as _dl_cache_libcmp wants)."""
    header = 48
    table = header + 24 * len(entries)
    strings = bytearray()
    offsets = []
    for _flags, key, value, _hw in entries:
        k = table + len(strings)
        strings += key.encode() + b"\0"
        v = table + len(strings)
        strings += value.encode() + b"\0"
        offsets.append((k, v))
    name_offsets = []
    for name in hwcap_names:
        name_offsets.append(table + len(strings))
        strings += name.encode() + b"\0"
    ext = b""
    ext_off = 0
    if hwcap_names:
        ext_off = (table + len(strings) + 7) & ~7
        strings += b"\0" * (ext_off - table - len(strings))
        array_off = ext_off + 8 + 16
        ext = struct.pack(endian + "II", 0xEAA42174, 1) + struct.pack(endian + "IIII", 0, 0, array_off,
                                                                       4 * len(hwcap_names))
        ext += b"".join(struct.pack(endian + "I", o) for o in name_offsets)
    flags_byte = (3 if endian == ">" else 2) if declare else 0
    out = bytearray(b"glibc-ld.so.cache1.1")
    out += struct.pack(endian + "IIB3xI", len(entries), len(strings), flags_byte, ext_off) + b"\0" * 12
    for (flags, _k, _v, hw), (k, v) in zip(entries, offsets):
        out += struct.pack(endian + "iIIIQ", flags, k, v, 0, hw)
    return bytes(out + strings + ext)


ENTRIES = [
    (0x0303, "libz.so.1", "/lib64/libz.so.1", 0),
    (0x0303, "libm.so.6", "/lib64/libm.so.6", 0),
    (0x0303, "libc.so.6", "/lib64/libc.so.6", 0),
]


@pytest.mark.parametrize("endian", ["<", ">"])
def test_reads_either_byte_order_for_a_machine_of_that_order(tmp_path, endian):
    flags = 0x0403 if endian == ">" else 0x0303
    f = tmp_path / "ld.so.cache"
    f.write_bytes(new_cache([(flags, k, v.replace("64", "64"), hw) for _f, k, v, hw in ENTRIES], endian))
    cache = LdCache.load(str(f), S390X if endian == ">" else X86, endian)
    assert isinstance(cache, LdCache) and len(cache) == 3
    assert cache.lookup("libm.so.6", ()) == "/lib64/libm.so.6"
    assert cache.lookup("libnothere.so", ()) is None


def test_big_endian_cache_was_once_misread_as_little_endian(tmp_path):
    """The s390x cache of issue 8: read little-endian its entry count is garbage."""
    f = tmp_path / "ld.so.cache"
    f.write_bytes(new_cache([(0x0403, k, v, hw) for _f, k, v, hw in ENTRIES], ">", declare=False))
    assert isinstance(LdCache.load(str(f), S390X, ">"), LdCache)
    assert isinstance(LdCache.load(str(f), S390X, "<"), CacheUnusable)  # 3 << 24 entries: truncated


def test_cache_declaring_the_other_byte_order_is_refused(tmp_path):
    f = tmp_path / "ld.so.cache"
    f.write_bytes(new_cache(ENTRIES, ">"))
    got = LdCache.load(str(f), X86, "<", name="/etc/ld.so.cache")
    assert isinstance(got, CacheUnusable)
    assert str(got) == "/etc/ld.so.cache: written big-endian, for another architecture; ld.so.cache not used"


def test_flags_of_another_abi_are_not_taken(tmp_path):
    f = tmp_path / "ld.so.cache"
    f.write_bytes(new_cache([(0x0303, "libm.so.6", "/lib64/libm.so.6", 0),
                             (0x0003, "libm.so.6", "/lib/libm.so.6", 0)], "<"))
    i386 = LdCache.load(str(f), frozenset({0x0001, 0x0003}), "<")
    assert isinstance(i386, LdCache) and i386.lookup("libm.so.6", ()) == "/lib/libm.so.6"


def test_glibc_hwcaps_entries_follow_the_active_levels(tmp_path):
    named = 1 << 62
    f = tmp_path / "ld.so.cache"
    f.write_bytes(new_cache([(0x0303, "libx.so.1", "/lib64/glibc-hwcaps/x86-64-v3/libx.so.1", named | 1),
                             (0x0303, "libx.so.1", "/lib64/glibc-hwcaps/x86-64-v4/libx.so.1", named | 0),
                             (0x0303, "libx.so.1", "/lib64/libx.so.1", 0)], "<",
                            hwcap_names=("x86-64-v4", "x86-64-v3")))
    cache = LdCache.load(str(f), X86, "<")
    assert isinstance(cache, LdCache)
    assert cache.lookup("libx.so.1", ("x86-64-v4", "x86-64-v3", "x86-64-v2")) == "/lib64/glibc-hwcaps/x86-64-v4/libx.so.1"
    assert cache.lookup("libx.so.1", ("x86-64-v3", "x86-64-v2")) == "/lib64/glibc-hwcaps/x86-64-v3/libx.so.1"
    assert cache.lookup("libx.so.1", ()) == "/lib64/libx.so.1"


@pytest.mark.parametrize("data", [b"", b"glibc-ld.so.cache1.1", b"garbage" * 10,
                                  b"glibc-ld.so.cache1.1" + struct.pack("<IIB3xI", 1000, 0, 2, 0) + b"\0" * 12])
def test_damaged_caches_say_why(tmp_path, data):
    f = tmp_path / "ld.so.cache"
    f.write_bytes(data)
    got = LdCache.load(str(f), X86, "<")
    assert isinstance(got, CacheUnusable) and got.reason


def test_absent_cache_is_none(tmp_path):
    assert LdCache.load(str(tmp_path / "nope"), X86, "<") is None
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert LdCache.load(str(tmp_path / "dangling"), X86, "<") is None


def test_a_fifo_or_directory_in_place_of_the_cache_is_unusable_not_a_hang(tmp_path):
    """An audited image's /etc/ld.so.cache is untrusted: reading it never blocks."""
    import os
    import threading

    fifo = tmp_path / "ld.so.cache"
    os.mkfifo(fifo)
    answer: list[object] = []
    worker = threading.Thread(target=lambda: answer.append(LdCache.load(str(fifo), X86, "<")), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "reading a FIFO cache blocked"
    assert isinstance(answer[0], CacheUnusable) and "regular" in answer[0].reason
    (tmp_path / "d").mkdir()
    got = LdCache.load(str(tmp_path / "d"), X86, "<")
    assert isinstance(got, CacheUnusable) and "directory" in got.reason


@pytest.mark.parametrize(("a", "b", "sign"), [(b"libz.so.1", b"libz.so.1", 0), (b"libz.so.10", b"libz.so.9", 1),
                                              (b"liba.so", b"libb.so", -1), (b"lib2", b"libx", 1)])  # digits after letters
def test_libcmp_compares_digit_runs_numerically(a, b, sign):
    got = _libcmp(a, b)
    assert (got > 0) - (got < 0) == sign


# -- legacy hwcap entries, in a cache written by this system's ldconfig ------------------------------------

INTEL_AVX512 = "GenuineIntel", "fpu cx8 cmov mmx fxsr sse sse2 avx2 fma bmi1 bmi2 abm movbe popcnt " \
                               "avx512f avx512cd avx512bw avx512dq avx512vl"
INTEL_HASWELL = "GenuineIntel", "fpu cx8 cmov mmx fxsr sse sse2 avx2 fma bmi1 bmi2 abm movbe popcnt"
AMD = "AuthenticAMD", "fpu cx8 cmov mmx fxsr sse sse2 avx2 fma bmi1 bmi2 abm movbe popcnt"
XEON_PHI = "GenuineIntel", "fpu cx8 cmov sse sse2 avx2 fma bmi1 bmi2 abm movbe popcnt avx512f avx512cd avx512er avx512pf"


@pytest.fixture(scope="module")
def legacy_cache(tmp_path_factory, build_so):
    """ldconfig's cache of libq.so.1 in a directory and its haswell/, avx512_1/, x86_64/ subdirectories."""
    import os
    import shutil
    import subprocess

    ldconfig = shutil.which("ldconfig") or ("/sbin/ldconfig" if os.path.exists("/sbin/ldconfig") else None)
    if ldconfig is None:
        pytest.skip("no ldconfig")
    d = tmp_path_factory.mktemp("legacy")
    lib = build_so("libq.so.1", "used.c", out_dir=d / "src", soname="libq.so.1")
    for sub in ("", "haswell", "avx512_1", "x86_64"):
        (d / "lib" / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(lib, d / "lib" / sub / "libq.so.1")
    conf = d / "ld.so.conf"
    conf.write_text(f"{d / 'lib'}\n")
    cache = d / "ld.so.cache"
    proc = subprocess.run([ldconfig, "-X", "-C", str(cache), "-f", str(conf)], capture_output=True, text=True,
                          check=False)
    listing = subprocess.run([ldconfig, "-p", "-C", str(cache)], capture_output=True, text=True, check=False).stdout
    if proc.returncode != 0 or "hwcap" not in listing:
        pytest.skip("this ldconfig writes no legacy hwcap entries (glibc 2.37 and later)")
    return d, cache


@pytest.mark.parametrize(("cpu", "glibc", "sub"), [
    (INTEL_AVX512, (2, 36), "haswell"),  # highest accepted hwcap first: the platform bit (1 << 50)
    (INTEL_HASWELL, (2, 36), "haswell"),
    (AMD, (2, 36), "x86_64"),  # platform x86_64 has no number: platform entries never match
    (XEON_PHI, (2, 36), "x86_64"),  # xeon_phi is not haswell, and avx512_1 is not set
    (INTEL_AVX512, (2, 40), ""),  # 2.40 skips every legacy entry
])
def test_legacy_hwcap_entries_follow_the_cpu(legacy_cache, cpu, glibc, sub):
    from linkaudit.hostparams import CpuInfo, HostFacts, Overrides, cache_hwcaps, resolve
    from linkaudit.machines import by_name

    d, path = legacy_cache
    cache = LdCache.load(str(path), X86, "<")
    assert isinstance(cache, LdCache)
    params = resolve(by_name("x86_64"), HostFacts("x86_64", CpuInfo(cpu[0], frozenset(cpu[1].split()), "t"), glibc),
                     Overrides(), None)
    want = str(d / "lib" / sub / "libq.so.1") if sub else str(d / "lib" / "libq.so.1")
    assert cache.lookup("libq.so.1", params.levels, cache_hwcaps(62, 64, params)) == want
