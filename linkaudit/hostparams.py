"""The loader parameters glibc computes at start-up: platform, hwcaps, glibc-hwcaps levels.

``ld.so`` searches, inside every library directory, first the
``glibc-hwcaps/<level>`` subdirectories the CPU supports (glibc 2.33 and
later), then, before glibc 2.37, the legacy hwcap subdirectories: every
subset of ``[tls, <platform>, <hwcap names>...]`` (``elf/dl-hwcaps.c``,
``_dl_important_hwcaps``).  ``$PLATFORM`` expands to the same platform name.

On x86 glibc computes these from CPUID (``sysdeps/x86/cpu-features.c``,
``sysdeps/x86/get-isa-level.h``); here the same rules run over the CPU flags
the kernel reports in ``/proc/cpuinfo`` (read once per run), or over a
cpuinfo file of the machine being audited for, or are replaced by explicit
overrides.  Other architectures and foreign objects get their baseline from
the machine table.  Nothing is executed.
"""

from __future__ import annotations

import os
import re
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, NoReturn

from linkaudit.machines import Machine, all_legacy_hwcaps, all_levels, all_platforms

LEGACY_REMOVED = (2, 37)  # glibc 2.37 dropped the legacy hwcap subdirectories
GLIBC_HWCAPS_SINCE = (2, 33)
X86_PLATFORMS_SINCE = (2, 26)  # haswell / xeon_phi / avx512_1
V3_NEEDS_BMI = (2, 37)  # get-isa-level.h added BMI1/BMI2 to x86-64-v3 in 2.37
NO_LEVEL = "none"


class CpuInfo(NamedTuple):
    """What the kernel says about the CPU: vendor and feature flags (``/proc/cpuinfo`` names)."""

    vendor: str | None
    flags: frozenset[str]
    source: str  # where it was read: "/proc/cpuinfo" or the file given with --cpuinfo


def parse_cpuinfo(text: str, source: str) -> CpuInfo | None:
    """The first processor's vendor and flags; None when the text has no ``flags`` line (not x86)."""
    vendor = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "vendor_id" and vendor is None:
            vendor = value.strip()
        elif key == "flags":
            return CpuInfo(vendor, frozenset(value.split()), source)
    return None


def read_cpuinfo(path: str = "/proc/cpuinfo") -> CpuInfo | None:
    """The CPU as ``path`` describes it; None when it cannot be read (a FIFO or directory never blocks)."""
    from linkaudit.errors import ConfigError
    from linkaudit.smallfile import read_bounded

    try:
        data = read_bounded(path, 16 << 20, "cpuinfo")  # /proc/cpuinfo of 256 CPUs is about 400 KB
    except ConfigError:
        return None
    return parse_cpuinfo(data.decode("ascii", "replace"), path)


class Overrides(NamedTuple):
    """Loader parameters named by the user (``--platform`` etc., or ``[tool.linkaudit]``); None = derive."""

    platform: str | None = None
    hwcaps: tuple[str, ...] | None = None  # legacy hwcap names; () = none
    cpu_level: str | None = None  # best glibc-hwcaps level; "none" = none
    glibc: tuple[int, int] | None = None
    cpuinfo: str | None = None  # a cpuinfo file of the machine audited for


def check_platform(name: str) -> str:
    if name not in all_platforms():
        raise ValueError(f"unknown platform {name!r}; valid platforms: {', '.join(all_platforms())}")
    return name


def check_hwcap(name: str) -> str:
    if name not in all_legacy_hwcaps():
        raise ValueError(f"unknown hwcap {name!r}; valid hwcaps: {', '.join(all_legacy_hwcaps())}")
    return name


def check_level(name: str) -> str:
    if name not in all_levels() + (NO_LEVEL,):
        raise ValueError(f"unknown CPU level {name!r}; valid levels: {', '.join(all_levels() + (NO_LEVEL,))}")
    return name


def parse_glibc_version(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.\d+)?\s*", text)
    if not m:
        raise ValueError(f"invalid glibc version {text!r}; expected MAJOR.MINOR, e.g. 2.36")
    return int(m.group(1)), int(m.group(2))


class Auxv(NamedTuple):
    """What the kernel handed this process: ``AT_PLATFORM``, ``AT_HWCAP``, ``AT_HWCAP2``.

    Outside x86, glibc takes its platform and hwcaps from exactly these.
    """

    platform: str | None
    hwcap: int
    hwcap2: int


AT_PLATFORM, AT_HWCAP, AT_HWCAP2 = 15, 16, 26


def read_auxv(path: str = "/proc/self/auxv", mem: str = "/proc/self/mem") -> Auxv | None:
    """This process's auxiliary vector (the platform string is read from its own memory)."""
    word = struct.calcsize("P")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    values: dict[int, int] = {}
    for i in range(0, len(data) - 2 * word + 1, 2 * word):
        key, value = struct.unpack_from("@2" + ("Q" if word == 8 else "I"), data, i)
        if key == 0:
            break
        values.setdefault(key, value)
    platform = None
    if values.get(AT_PLATFORM):
        try:
            fd = os.open(mem, os.O_RDONLY)
            try:
                raw = os.pread(fd, 64, values[AT_PLATFORM])
            finally:
                os.close(fd)
            platform = raw.split(b"\0", 1)[0].decode("ascii", "replace") or None
        except (OSError, OverflowError, ValueError):
            platform = None
    return Auxv(platform, values.get(AT_HWCAP, 0), values.get(AT_HWCAP2, 0))


def _interpreter_abi() -> str | None:
    """The machine-table record of this Python interpreter's own executable: the ABI the auxv describes."""
    from linkaudit.elf import decode_header
    from linkaudit.errors import ElfReadError
    from linkaudit.machines import machine_for

    def refuse(message: str) -> NoReturn:
        raise ElfReadError(message)

    try:
        with open(sys.executable, "rb") as fh:
            hdr = decode_header(fh.read(64), refuse)
    except (OSError, ElfReadError):
        return None
    m = machine_for(hdr.machine, hdr.bits, hdr.endian, hdr.flags)
    return m.name if m else None


class HostFacts(NamedTuple):
    """This machine, read once per run: its CPU, its glibc, and the auxv of this interpreter's ABI."""

    arch: str  # os.uname().machine
    cpu: CpuInfo | None  # x86 only: the kernel's CPU flags (None if unreadable or not x86)
    glibc: tuple[int, int] | None
    abi: str | None = None  # machine-table record of this interpreter (what auxv describes)
    auxv: Auxv | None = None  # read outside x86 only

    @classmethod
    def read(cls) -> HostFacts:
        arch = os.uname().machine
        x86 = arch in _X86_HOSTS
        return cls(arch, read_cpuinfo() if x86 else None, host_glibc(), _interpreter_abi(),
                   None if x86 else read_auxv())


def host_glibc() -> tuple[int, int] | None:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        return None
    if not text.startswith("glibc"):
        return None
    try:
        return parse_glibc_version(text.split()[-1])
    except ValueError:
        return None


_RELEASE = re.compile(rb"GNU C Library [^\n\0]{0,120}?version (\d+)\.(\d+)")


LIBC_LIMIT = 64 << 20  # glibc's libc.so.6 is 2-3 MB; anything far larger is not one


def libc_release(path: str) -> tuple[int, int] | None:
    """The release a libc.so.6 (or ld.so) announces in its version banner, read without running it.

    Under ``--root`` the file belongs to the audited image: it is read like any
    untrusted input (regular files only, without blocking, bounded, into memory
    linkaudit owns, so a FIFO cannot hang the run nor a truncation raise SIGBUS).
    """
    from linkaudit.errors import ConfigError
    from linkaudit.smallfile import read_bounded

    try:
        data = read_bounded(path, LIBC_LIMIT, "C library")
    except ConfigError:
        return None
    found = _RELEASE.search(data)
    return (int(found.group(1)), int(found.group(2))) if found else None


@dataclass(frozen=True)
class LoaderParams:
    """What one architecture's ld.so searches, and where each value came from."""

    machine: str
    platform: str | None
    hwcaps: tuple[str, ...]  # active legacy hwcap names, lowest bit first
    levels: tuple[str, ...]  # active glibc-hwcaps subdirectories, best first
    glibc: tuple[int, int] | None
    platform_source: str
    hwcaps_source: str
    levels_source: str
    glibc_source: str
    warnings: tuple[str, ...] = ()

    @property
    def legacy_subdirs(self) -> tuple[str, ...]:
        """``_dl_important_hwcaps``' power set, in search order (empty from glibc 2.37 on)."""
        if self.glibc is not None and self.glibc >= LEGACY_REMOVED:
            return ()
        # temp[] is [hwcaps (bit order)..., platform, "tls"]; the subsets are enumerated from the
        # full set down, the last element ("tls") being the most significant.
        parts = list(self.hwcaps) + ([self.platform] if self.platform else []) + ["tls"]
        ordered = parts[::-1]
        count = len(ordered)
        out = []
        for mask in range((1 << count) - 1, 0, -1):
            out.append("/".join(ordered[i] for i in range(count) if mask >> (count - 1 - i) & 1))
        return tuple(dict.fromkeys(out))

    @property
    def subdirs(self) -> tuple[str, ...]:
        """Every subdirectory tried before a directory itself, in glibc's order."""
        hwcaps = ()
        if self.glibc is None or self.glibc >= GLIBC_HWCAPS_SINCE:
            hwcaps = tuple(f"glibc-hwcaps/{level}" for level in self.levels)
        return hwcaps + self.legacy_subdirs


# -- legacy hwcap entries of ld.so.cache (search_cache's HWCAP_CHECK, glibc before 2.40) ------------------

CACHE_LEGACY_REMOVED = (2, 40)
_TLS_BIT = 1 << 63
_X86_HWCAP_BITS = {"sse2": 1 << 0, "x86_64": 1 << 1, "avx512_1": 1 << 2}  # sysdeps/x86/dl-hwcap.h
_X86_PLATFORM_BITS = {"i586": 1 << 48, "i686": 1 << 49, "haswell": 1 << 50, "xeon_phi": 1 << 51}  # 48 + index
_X86_PLATFORM_MASK = 0xF << 48  # _DL_HWCAP_PLATFORM


class CacheHwcaps(NamedTuple):
    """Which legacy hwcap-specific cache entries ``search_cache`` accepts."""

    allowed: int  # (dl_hwcap & hwcap_mask) | _DL_HWCAP_PLATFORM | the tls bit
    platform_mask: int
    platform: int | None  # 1 << _dl_string_platform (platform); None when glibc has no number for it

    def accepts(self, hwcap: int) -> bool:
        if hwcap & ~self.allowed:
            return False
        bits = hwcap & self.platform_mask
        return not bits or bits == self.platform


def cache_hwcaps(machine_e: int, bits: int, params: LoaderParams) -> CacheHwcaps | None:
    """The HWCAP_CHECK of an x86 loader with these parameters; None: legacy entries are skipped.

    glibc 2.40 stopped accepting legacy entries; for other architectures the
    bit numbers are not tabulated here, so their legacy entries are skipped too.
    """
    if params.glibc is not None and params.glibc >= CACHE_LEGACY_REMOVED:
        return None
    if machine_e not in (3, 62):
        return None
    important = _X86_HWCAP_BITS["sse2"] if bits == 32 and machine_e == 3 else (
        _X86_HWCAP_BITS["x86_64"] | _X86_HWCAP_BITS["avx512_1"])
    hwcap = sum(_X86_HWCAP_BITS.get(name, 0) for name in params.hwcaps) & important
    # _dl_string_platform knows i586/i686 for 32-bit x86 and haswell/xeon_phi for 64-bit
    known = ("i586", "i686") if machine_e == 3 else ("haswell", "xeon_phi")
    platform = _X86_PLATFORM_BITS[params.platform] if params.platform in known else None
    return CacheHwcaps(hwcap | _X86_PLATFORM_MASK | _TLS_BIT, _X86_PLATFORM_MASK, platform)


# -- x86, as sysdeps/x86/cpu-features.c decides ----------------------------------------------------------

_BASELINE = {"cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2"}
_V2 = {"cx16", "lahf_lm", "popcnt", "pni", "ssse3", "sse4_1", "sse4_2"}
_V3 = {"avx", "avx2", "f16c", "fma", "abm", "movbe"}  # abm: LZCNT
_V4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
_HASWELL = {"avx2", "fma", "bmi1", "bmi2", "abm", "movbe", "popcnt"}


def x86_64_platform_hwcaps(cpu: CpuInfo, glibc: tuple[int, int] | None) -> tuple[str, tuple[str, ...]]:
    """(platform, legacy hwcap names) of a 64-bit x86 process: ``init_cpu_features``' x86_64 branch."""
    flags = cpu.flags
    hwcaps = ["x86_64"]
    platform = None
    if cpu.vendor == "GenuineIntel" and (glibc is None or glibc >= X86_PLATFORMS_SINCE):
        if "avx512cd" in flags:
            if "avx512er" in flags:
                if "avx512pf" in flags:
                    platform = "xeon_phi"
            elif {"avx512bw", "avx512dq", "avx512vl"} <= flags:
                hwcaps.append("avx512_1")
        if platform is None and _HASWELL <= flags:
            platform = "haswell"
    return platform or "x86_64", tuple(hwcaps)  # otherwise AT_PLATFORM stays the kernel's


def x86_64_levels(cpu: CpuInfo, glibc: tuple[int, int] | None) -> tuple[str, ...]:
    """``get_isa_level`` as ``_dl_hwcaps_subdirs_active`` uses it: the supported levels, best first."""
    flags = cpu.flags
    v3 = _V3 | ({"bmi1", "bmi2"} if glibc is None or glibc >= V3_NEEDS_BMI else set())
    levels: list[str] = []
    if _BASELINE <= flags and _V2 <= flags:
        levels.append("x86-64-v2")
        if v3 <= flags:
            levels.insert(0, "x86-64-v3")
            if _V4 <= flags:
                levels.insert(0, "x86-64-v4")
    return tuple(levels)


def i386_platform_hwcaps(cpu: CpuInfo) -> tuple[str, tuple[str, ...]]:
    """(platform, hwcaps) of a 32-bit x86 process: i686 with CMOV, i586 with CX8; sse2."""
    platform = "i686" if "cmov" in cpu.flags else "i586" if "cx8" in cpu.flags else "i386"
    return platform, (("sse2",) if "sse2" in cpu.flags else ())


_X86_HOSTS = {"x86_64", "i386", "i486", "i586", "i686"}

_PPC_ARCH_3_00, _PPC_IEEE128, _PPC_ARCH_3_1, _PPC_MMA = 0x00800000, 0x00400000, 0x00040000, 0x00020000
_S390_LEVEL_BITS = (("z13", (11,)), ("z14", (12, 13, 14)), ("z15", (15, 16)), ("z16", (19,)))


def auxv_params(machine: Machine, auxv: Auxv) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """(platform, hwcaps, levels) of a non-x86 process, as glibc reads them from the auxv.

    ``_dl_hwcaps_subdirs_active`` of powerpc64le (ISA 3.0 + IEEE128 for power9,
    ISA 3.1 + MMA for power10) and s390x (vector facilities); z17 needs a
    facility bit the auxv does not carry, so it is never assumed.
    """
    hwcaps = tuple(name for name, bit in zip(machine.legacy_hwcaps, machine.legacy_hwcap_bits)
                   if auxv.hwcap >> bit & 1)
    levels: list[str] = []
    if machine.name == "ppc64el" and auxv.hwcap2 & _PPC_ARCH_3_00 and auxv.hwcap2 & _PPC_IEEE128:
        levels.append("power9")
        if auxv.hwcap2 & _PPC_ARCH_3_1 and auxv.hwcap2 & _PPC_MMA:
            levels.append("power10")
    elif machine.name == "s390x":
        for name, bits in _S390_LEVEL_BITS:
            if not all(auxv.hwcap >> b & 1 for b in bits):
                break
            levels.append(name)
    return auxv.platform, hwcaps, tuple(reversed(levels))


# GLIBC_TUNABLES=glibc.cpu.hwcaps=-NAME,...: the names (sysdeps/x86/cpu-tunables.c) that bear on the
# platform, hwcaps and levels, with their /proc/cpuinfo flag
_TUNABLE_FLAGS = {
    "AVX": "avx", "AVX2": "avx2", "BMI1": "bmi1", "BMI2": "bmi2", "CMOV": "cmov", "CX8": "cx8", "FMA": "fma",
    "LZCNT": "abm", "MOVBE": "movbe", "POPCNT": "popcnt", "SSE2": "sse2", "SSSE3": "ssse3", "SSE4_1": "sse4_1",
    "SSE4_2": "sse4_2", "XSAVE": "xsave", "AVX512F": "avx512f", "AVX512CD": "avx512cd", "AVX512BW": "avx512bw",
    "AVX512DQ": "avx512dq", "AVX512ER": "avx512er", "AVX512PF": "avx512pf", "AVX512VL": "avx512vl",
}


def with_tunables(cpu: CpuInfo, tunables: str | None) -> CpuInfo:
    """The CPU as an x86 ld.so sees it after ``GLIBC_TUNABLES=glibc.cpu.hwcaps=-X,...`` turned features off."""
    if not tunables:
        return cpu
    off: set[str] = set()
    for item in tunables.split(":"):
        name, _, value = item.partition("=")
        if name == "glibc.cpu.hwcaps":
            off |= {_TUNABLE_FLAGS[f[1:]] for f in value.split(",") if f.startswith("-") and f[1:] in _TUNABLE_FLAGS}
    if not off & cpu.flags:
        return cpu
    return CpuInfo(cpu.vendor, cpu.flags - off, cpu.source)


def resolve(machine: Machine, host: HostFacts, overrides: Overrides,
            root_glibc: Callable[[], tuple[int, int] | None] | None, tunables: str | None = None) -> LoaderParams:
    """The parameters ld.so uses for objects of ``machine``: overrides first, then facts, then the baseline.

    ``root_glibc`` reads the audited root's libc when auditing under ``--root`` (None: this system);
    ``tunables`` is this shell's ``GLIBC_TUNABLES``, which the loader run from it would honour.
    """
    warnings: list[str] = []
    glibc, glibc_source = _release(host, overrides, root_glibc, warnings)
    platform, hwcaps, levels, source = _from_cpu(machine, host, overrides, glibc, warnings, tunables)
    sources = {"platform": source, "hwcaps": source, "levels": source}
    platform, hwcaps, levels = _overridden(machine, overrides, glibc, (platform, hwcaps, levels), sources, warnings)
    levels = tuple(lvl for lvl in levels if lvl in machine.levels_for(glibc))
    return LoaderParams(machine.name, platform, hwcaps, levels, glibc, sources["platform"], sources["hwcaps"],
                        sources["levels"], glibc_source, tuple(warnings))


def _release(host: HostFacts, overrides: Overrides, root_glibc: Callable[[], tuple[int, int] | None] | None,
             warnings: list[str]) -> tuple[tuple[int, int] | None, str]:
    """The glibc release the audited system runs, and where that came from."""
    if overrides.glibc is not None:
        return overrides.glibc, "override"
    if root_glibc is not None:
        glibc = root_glibc()
        if glibc is None:
            warnings.append("the root's libc.so.6 was not found or names no release: glibc 2.37+ rules assumed")
            return None, "unknown"
        return glibc, "root libc"
    if host.glibc is None:
        warnings.append("this system's glibc release is unknown: glibc 2.37+ rules assumed")
        return None, "unknown"
    return host.glibc, "host libc"


def _from_cpu(machine: Machine, host: HostFacts, overrides: Overrides, glibc: tuple[int, int] | None,
              warnings: list[str], tunables: str | None) -> tuple[str | None, tuple[str, ...], tuple[str, ...], str]:
    """(platform, hwcaps, levels, source) from a CPU description, or the machine's baseline."""
    x86 = machine.e_machine in (3, 62)
    cpu, source = None, "baseline"  # foreign objects, or x86 objects on another host: the table's baseline
    if overrides.cpuinfo is not None and x86:  # a cpuinfo file describes an x86 CPU (its flags line)
        cpu, source = read_cpuinfo(overrides.cpuinfo), f"cpuinfo {overrides.cpuinfo}"
        if cpu is None:
            warnings.append(f"{overrides.cpuinfo}: no x86 CPU flags found: {machine.name} baseline assumed")
            source = "baseline"
    elif x86 and host.arch in _X86_HOSTS:
        cpu, source = host.cpu, "host cpuinfo"
        if cpu is not None and with_tunables(cpu, tunables) is not cpu:
            cpu, source = with_tunables(cpu, tunables), "host cpuinfo, GLIBC_TUNABLES"
        if cpu is None:
            warnings.append(f"/proc/cpuinfo unreadable or without CPU flags: {machine.name} baseline assumed")
            source = "baseline"
    if cpu is not None and machine.e_machine == 62:
        platform, hwcaps = x86_64_platform_hwcaps(cpu, glibc)
        return platform, hwcaps, x86_64_levels(cpu, glibc), source
    if cpu is not None and machine.e_machine == 3:
        return (*i386_platform_hwcaps(cpu), (), source)
    if machine.e_machine == 62:
        return machine.platform, ("x86_64",), (), source  # HWCAP_X86_64 is always set for a 64-bit process
    if overrides.cpuinfo is None and host.auxv is not None and host.abi == machine.name:
        return (*auxv_params(machine, host.auxv), "host auxv")
    return machine.platform, (), (), source


def _overridden(machine: Machine, overrides: Overrides, glibc: tuple[int, int] | None,
                derived: tuple[str | None, tuple[str, ...], tuple[str, ...]], sources: dict[str, str],
                warnings: list[str]) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """Apply the overrides that name this machine's things; say which were not applied."""
    platform, hwcaps, levels = derived
    if overrides.platform is not None:
        if overrides.platform in machine.platforms or overrides.platform == machine.platform:
            platform, sources["platform"] = overrides.platform, "override"
        else:
            warnings.append(f"--platform {overrides.platform} is not among {machine.name}'s platforms: not applied to it")
    if overrides.hwcaps is not None:
        foreign = [h for h in overrides.hwcaps if h not in machine.legacy_hwcaps]
        if foreign:
            warnings.append(f"hwcaps {', '.join(foreign)} are not {machine.name} hwcaps: not applied to it")
        hwcaps, sources["hwcaps"] = tuple(h for h in machine.legacy_hwcaps if h in overrides.hwcaps), "override"
        if machine.e_machine == 62 and "x86_64" not in hwcaps:
            hwcaps = ("x86_64",) + hwcaps  # HWCAP_X86_64 cannot be switched off
    if overrides.cpu_level is not None:
        names = machine.levels_for(glibc)
        if overrides.cpu_level == NO_LEVEL:
            levels, sources["levels"] = (), "override"
        elif overrides.cpu_level in names:
            levels, sources["levels"] = names[names.index(overrides.cpu_level):], "override"
        else:
            warnings.append(f"CPU level {overrides.cpu_level} is not among {machine.name}'s glibc-hwcaps levels: "
                            "not applied to it")
    return platform, hwcaps, levels
