"""glibc's start-up rules for x86, written out a second time for the tests.

The tests never take the platform or the hwcap subdirectories from linkaudit
itself: they derive them here, from the same host facts (``/proc/cpuinfo``
flags, the glibc release), straight from glibc's sources:

* ``sysdeps/x86/cpu-features.c`` (``init_cpu_features``): on Intel only, the
  platform becomes ``xeon_phi`` with AVX512ER+AVX512PF, else ``haswell`` with
  AVX2, FMA, BMI1, BMI2, LZCNT, MOVBE and POPCNT; the ``avx512_1`` hwcap needs
  AVX512CD, BW, DQ and VL and no AVX512ER.  ``x86_64`` is always a hwcap;
* ``sysdeps/x86/get-isa-level.h``: the x86-64-v2/v3/v4 levels (v3 needs
  BMI1/BMI2 only from glibc 2.37 on);
* ``elf/dl-hwcaps.c``: glibc-hwcaps levels first, then (before 2.37) every
  subset of tls, platform, hwcaps, in that priority.

and, where the real loader can be asked (``ld.so --list-diagnostics``), a test
checks that these rules give what it says.
"""

from __future__ import annotations

import os
import re
import subprocess

LEVEL_FLAGS = {
    "x86-64-v2": ["cx16", "lahf_lm", "popcnt", "pni", "ssse3", "sse4_1", "sse4_2"],
    "x86-64-v3": ["avx", "avx2", "f16c", "fma", "abm", "movbe"],
    "x86-64-v4": ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"],
}
BASELINE_FLAGS = ["cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2"]
HASWELL_FLAGS = ["avx2", "fma", "bmi1", "bmi2", "abm", "movbe", "popcnt"]


def read_flags(text: str) -> tuple[str | None, set[str]]:
    vendor, flags = None, set()
    for line in text.splitlines():
        m = re.match(r"(\w[\w ]*?)\s*:\s*(.*)", line)
        if not m:
            continue
        if m.group(1) == "vendor_id" and vendor is None:
            vendor = m.group(2).strip()
        if m.group(1) == "flags":
            return vendor, set(m.group(2).split())
    return vendor, flags


def platform_of(vendor: str | None, flags: set[str]) -> str:
    if vendor != "GenuineIntel":
        return "x86_64"  # AT_PLATFORM as the kernel gives it
    if "avx512cd" in flags and "avx512er" in flags and "avx512pf" in flags:
        return "xeon_phi"
    if all(f in flags for f in HASWELL_FLAGS):
        return "haswell"
    return "x86_64"


def hwcaps_of(vendor: str | None, flags: set[str]) -> list[str]:
    caps = ["x86_64"]
    if (vendor == "GenuineIntel" and "avx512er" not in flags
            and all(f in flags for f in ("avx512cd", "avx512bw", "avx512dq", "avx512vl"))):
        caps.append("avx512_1")
    return caps


def levels_of(flags: set[str], glibc: tuple[int, int]) -> list[str]:
    need = dict(LEVEL_FLAGS)
    if glibc >= (2, 37):
        need["x86-64-v3"] = need["x86-64-v3"] + ["bmi1", "bmi2"]
    got: list[str] = []
    if not all(f in flags for f in BASELINE_FLAGS):
        return got
    for level in ("x86-64-v2", "x86-64-v3", "x86-64-v4"):
        if not all(f in flags for f in need[level]):
            break
        got.append(level)
    return got[::-1]


def _subsets(items: list[str]) -> list[list[str]]:
    """Every subset, the ones with the first item first (glibc's power-set order)."""
    if not items:
        return [[]]
    rest = _subsets(items[1:])
    return [[items[0], *s] for s in rest] + rest


def subdirs_of(platform: str, hwcaps: list[str], levels: list[str], glibc: tuple[int, int]) -> list[str]:
    out = [f"glibc-hwcaps/{lvl}" for lvl in levels] if glibc >= (2, 33) else []
    if glibc < (2, 37):
        for subset in _subsets(["tls", platform, *reversed(hwcaps)]):
            path = "/".join(subset)
            if path and path not in out:
                out.append(path)
    return out


def host_glibc() -> tuple[int, int] | None:
    text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    m = re.search(r"glibc (\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


# glibc.cpu.hwcaps=-NAME (sysdeps/x86/cpu-tunables.c) -> the cpuinfo flag it hides from ld.so
TUNABLE_FLAG = {"AVX": "avx", "AVX2": "avx2", "BMI1": "bmi1", "BMI2": "bmi2", "FMA": "fma", "LZCNT": "abm",
                "MOVBE": "movbe", "POPCNT": "popcnt", "CMOV": "cmov", "CX8": "cx8", "SSE2": "sse2",
                "SSSE3": "ssse3", "SSE4_1": "sse4_1", "SSE4_2": "sse4_2", "XSAVE": "xsave"}


def host_cpu() -> tuple[str | None, set[str]]:
    """This CPU as this shell's ld.so sees it: /proc/cpuinfo, minus what GLIBC_TUNABLES turns off."""
    try:
        with open("/proc/cpuinfo") as fh:
            vendor, flags = read_flags(fh.read())
    except OSError:
        return None, set()
    for item in os.environ.get("GLIBC_TUNABLES", "").split(":"):
        if item.startswith("glibc.cpu.hwcaps="):
            for name in item.split("=", 1)[1].split(","):
                if name.startswith("-"):
                    flags.discard(TUNABLE_FLAG.get(name[1:], name[1:].lower()))
    return vendor, flags


def host_expectation() -> dict[str, object] | None:
    """Platform, hwcaps, levels and subdirectories of this x86-64 glibc host, or None elsewhere."""
    glibc = host_glibc()
    if os.uname().machine != "x86_64" or glibc is None:
        return None
    vendor, flags = host_cpu()
    if not flags:
        return None
    platform, hwcaps, levels = platform_of(vendor, flags), hwcaps_of(vendor, flags), levels_of(flags, glibc)
    return {"platform": platform, "hwcaps": hwcaps, "levels": levels, "glibc": glibc,
            "subdirs": subdirs_of(platform, hwcaps, levels, glibc)}


def ld_so_diagnostics(interp: str = "/lib64/ld-linux-x86-64.so.2") -> dict[str, str] | None:
    """``ld.so --list-diagnostics`` (glibc 2.33+) as key -> raw value, or None when it cannot say."""
    if not os.path.exists(interp):
        return None
    proc = subprocess.run([interp, "--list-diagnostics"], capture_output=True, text=True, check=False, timeout=30)
    if proc.returncode != 0:
        return None
    out = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value.strip('"')
    return out
