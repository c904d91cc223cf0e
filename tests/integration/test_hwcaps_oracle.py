"""Hwcap subdirectories and ``$PLATFORM``: linkaudit against ``ldd -u -r`` on this host, and on simulated CPUs.

Layouts: a consumer needing ``libused.so`` and ``libunused.so`` finds them
through RUNPATH, RPATH or LD_LIBRARY_PATH naming ``<layout>/lib``; the two
libraries sit in ONE subdirectory of it, with decoy copies in ``lib/``
itself.  ``ldd -u`` names the ``libunused.so`` the loader took, so it tells
which directory won.  Every subdirectory glibc searches on this host is laid
out (found there), and every other one any x86-64 CPU class would make it
search (the decoy wins).  ``$PLATFORM`` is laid out in RUNPATH, RPATH,
LD_LIBRARY_PATH and a DT_NEEDED string.

The subdirectory names come from ``tests/glibc_rules.py`` applied to this
host's facts, never from linkaudit.  Where ldd cannot be asked (another CPU
class), the same layouts are audited with ``--cpuinfo`` of that class and
compared with those rules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ldd_env, parse_ldd_unused

from glibc_rules import hwcaps_of, host_expectation, ld_so_diagnostics, levels_of, platform_of, subdirs_of
from linkaudit.audit import AuditOptions, audit
from linkaudit.hostparams import HostFacts, Overrides, resolve
from linkaudit.loader import default_env
from linkaudit.machines import by_name

LDD = shutil.which("ldd")
HOST = host_expectation()

# CPU classes (vendor, flags) whose searches differ; glibc 2.36 rules give their subdirectories.
_BASE = "fpu cx8 cmov mmx fxsr sse sse2 cx16 lahf_lm popcnt pni ssse3 sse4_1 sse4_2"
_V3 = "avx avx2 f16c fma abm movbe bmi1 bmi2"
_V4 = "avx512f avx512bw avx512cd avx512dq avx512vl"
CLASSES = {
    "baseline": ("AuthenticAMD", "fpu cx8 cmov mmx fxsr sse sse2"),
    "amd_v3": ("AuthenticAMD", f"{_BASE} {_V3}"),
    "pre_haswell": ("GenuineIntel", f"{_BASE} avx"),
    "haswell": ("GenuineIntel", f"{_BASE} {_V3}"),
    "avx512": ("GenuineIntel", f"{_BASE} {_V3} {_V4}"),
    "xeon_phi": ("GenuineIntel", f"{_BASE} {_V3} avx512f avx512cd avx512er avx512pf"),
}


def class_subdirs(name: str, glibc: tuple[int, int]) -> list[str]:
    vendor, text = CLASSES[name]
    flags = set(text.split())
    platform = platform_of(vendor, flags)
    return subdirs_of(platform, hwcaps_of(vendor, flags), levels_of(flags, glibc), glibc)


# Every subdirectory some x86-64 CPU makes glibc 2.36 search (the union over the classes).
CANDIDATES = list(dict.fromkeys(s for c in CLASSES for s in class_subdirs(c, (2, 36))))
MECHANISMS = ("runpath", "rpath", "ld_library_path")

needs_ldd = pytest.mark.skipif(LDD is None or HOST is None,
                               reason="the ldd oracle needs glibc's ldd on an x86-64 host with readable CPU flags")


@pytest.fixture(scope="module")
def parts(builder) -> dict[str, Path]:
    """The binaries every layout copies: libused, libunused, one consumer per search mechanism."""
    d = builder.root / "hwcaps_parts"
    used = builder.so("libused.so", "used.c", out_dir=d)
    unused = builder.so("libunused.so", "unused.c", out_dir=d)
    out = {"libused.so": used, "libunused.so": unused}
    out["runpath"] = builder.so("libconsumer.so", "consumer_basic.c", out_dir=d / "runpath", libs=[used, unused],
                                runpath=["$ORIGIN/lib"])
    out["rpath"] = builder.so("libconsumer.so", "consumer_basic.c", out_dir=d / "rpath", libs=[used, unused],
                              rpath=["$ORIGIN/lib"])
    out["ld_library_path"] = builder.so("libconsumer.so", "consumer_basic.c", out_dir=d / "ldlp", libs=[used, unused])
    out["platform_runpath"] = builder.so("libconsumer.so", "consumer_basic.c", out_dir=d / "prp", libs=[used, unused],
                                         runpath=["$ORIGIN/$PLATFORM"])
    out["platform_rpath"] = builder.so("libconsumer.so", "consumer_basic.c", out_dir=d / "prpath",
                                       libs=[used, unused], rpath=["${ORIGIN}/${PLATFORM}"])
    # DT_NEEDED strings are the libraries' DT_SONAMEs: give the unused one a $PLATFORM path as its soname
    dst = builder.so("libdstunused.so", "unused.c", out_dir=d / "pneeded", soname="$ORIGIN/$PLATFORM/libdstunused.so")
    out["libdstunused.so"] = dst
    out["platform_needed"] = builder.so("libconsumer.so", "consumer_basic.c", out_dir=d / "pneeded",
                                        libs=[used, dst], runpath=["$ORIGIN"])
    return out


def lay_out(root: Path, parts: dict[str, Path], mechanism: str, sub: str) -> tuple[Path, str | None]:
    """``root/libconsumer.so`` with both libraries in ``root/lib/<sub>`` and decoys in ``root/lib``."""
    root.mkdir(parents=True, exist_ok=True)
    consumer = root / "libconsumer.so"
    shutil.copy(parts[mechanism], consumer)
    for name in ("libused.so", "libunused.so"):
        for where in (root / "lib" / sub, root / "lib"):
            where.mkdir(parents=True, exist_ok=True)
            shutil.copy(parts[name], where / name)
    return consumer, (str(root / "lib") if mechanism == "ld_library_path" else None)


def linkaudit_unused(path: Path, ld_library_path: str | None, overrides: Overrides = Overrides()) -> set[str]:
    env = default_env(python_packages=False, overrides=overrides)._replace(ld_library_path=ld_library_path)
    report = audit([str(path)], AuditOptions(env=env, jobs=1))
    assert not report.errors, report.errors
    (obj,) = report.objects
    return {os.path.normpath(p) for p in obj.ldd_unused}


def ldd_unused(path: Path, ld_library_path: str | None) -> set[str]:
    proc = subprocess.run([LDD, "-u", "-r", str(path)], capture_output=True, text=True, env=ldd_env(ld_library_path),
                          timeout=60, check=False)
    return {os.path.normpath(x) for x in parse_ldd_unused(proc.stdout) or ()}


# -- this host, with ldd -----------------------------------------------------------------------------


def _host_layouts() -> list[tuple[str, str]]:
    if HOST is None:
        return []
    return [(m, s) for s in CANDIDATES + [s for s in HOST["subdirs"] if s not in CANDIDATES] for m in MECHANISMS]


@needs_ldd
@pytest.mark.oracle
@pytest.mark.parametrize(("mechanism", "sub"), _host_layouts())
def test_subdirectory_layout_agrees_with_ldd(parts, tmp_path, mechanism, sub):
    consumer, ldlp = lay_out(tmp_path / "layout", parts, mechanism, sub)
    want = ldd_unused(consumer, ldlp)
    searched = sub in HOST["subdirs"]
    expected_dir = tmp_path / "layout" / "lib" / (sub if searched else "")
    assert want == {os.path.normpath(expected_dir / "libunused.so")}, "glibc_rules.py disagrees with ld.so"
    assert linkaudit_unused(consumer, ldlp) == want


@needs_ldd
@pytest.mark.oracle
@pytest.mark.parametrize("mechanism", ["platform_runpath", "platform_rpath", "platform_ld_library_path",
                                       "platform_needed"])
def test_platform_token_agrees_with_ldd(parts, tmp_path, mechanism):
    """``$PLATFORM`` is glibc's platform (haswell on an AVX2 Intel), with decoys under every other name."""
    root = tmp_path / "layout"
    names = {"x86_64", "haswell", "xeon_phi", str(HOST["platform"])}
    for name in names:  # the same libraries under every platform name: only ldd's choice is not a decoy
        for lib in ("libused.so", "libunused.so", "libdstunused.so"):
            (root / name).mkdir(parents=True, exist_ok=True)
            shutil.copy(parts[lib], root / name / lib)
    ldlp = None
    if mechanism == "platform_ld_library_path":
        consumer = root / "libconsumer.so"
        shutil.copy(parts["ld_library_path"], consumer)
        ldlp = f"{root}/$PLATFORM"
    else:
        consumer = root / "libconsumer.so"
        shutil.copy(parts[mechanism], consumer)
        if mechanism == "platform_needed":
            shutil.copy(parts["libused.so"], root / "libused.so")
    unused = "libdstunused.so" if mechanism == "platform_needed" else "libunused.so"
    want = ldd_unused(consumer, ldlp)
    assert want == {os.path.normpath(root / str(HOST["platform"]) / unused)}, "glibc_rules.py disagrees with ld.so"
    assert linkaudit_unused(consumer, ldlp) == want


@needs_ldd
def test_host_parameters_match_ld_so_diagnostics():
    """The tests' rules and linkaudit's both give what this ld.so reports about itself."""
    diag = ld_so_diagnostics()
    if diag is None or "dl_platform" not in diag:
        pytest.skip("this ld.so has no --list-diagnostics")
    params = resolve(by_name("x86_64"), HostFacts.read(), Overrides(), None, os.environ.get("GLIBC_TUNABLES"))
    assert HOST["platform"] == params.platform == diag["dl_platform"]
    ld_levels = active_subdirs(diag)
    assert HOST["levels"] == list(params.levels) == ld_levels
    hwcap = int(diag["dl_hwcap"], 16) & int(diag.get("dl_hwcap_important", diag["dl_hwcap"]), 16)
    bit_names = {1 << 1: "x86_64", 1 << 2: "avx512_1"}  # sysdeps/x86/dl-hwcap.h
    ld_hwcaps = [name for bit, name in sorted(bit_names.items()) if hwcap & bit]
    assert HOST["hwcaps"] == list(params.hwcaps) == ld_hwcaps


# GLIBC_TUNABLES variants that turn this CPU into a lesser one for ld.so, and the cpuinfo flags they hide
TUNABLES = {
    "no_avx512": ("-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512VL",
                  {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}),
    "no_avx2": ("-AVX2,-BMI1,-BMI2,-FMA,-LZCNT,-MOVBE,-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512VL",
                {"avx2", "bmi1", "bmi2", "fma", "abm", "movbe", "avx512f", "avx512cd", "avx512bw", "avx512dq",
                 "avx512vl"}),
    "no_avx512vl_only": ("-AVX512VL", {"avx512vl"}),  # avx512_1 and x86-64-v4 both need VL
}


@needs_ldd
@pytest.mark.oracle
@pytest.mark.parametrize("variant", sorted(TUNABLES))
def test_glibc_tunables_hwcaps_agree_with_ldd(parts, tmp_path, monkeypatch, variant):
    """ldd run from a shell with GLIBC_TUNABLES=glibc.cpu.hwcaps=-...: linkaudit honours it as ld.so does."""
    from glibc_rules import host_cpu

    value, hidden = TUNABLES[variant]
    monkeypatch.setenv("GLIBC_TUNABLES", f"glibc.cpu.hwcaps={value}")
    vendor, flags = host_cpu()
    flags = flags - hidden
    glibc = HOST["glibc"]
    platform = platform_of(vendor, flags)
    expected = subdirs_of(platform, hwcaps_of(vendor, flags), levels_of(flags, glibc), glibc)
    wrong = []
    for i, sub in enumerate(CANDIDATES):
        root = tmp_path / f"l{i}"
        consumer, _ = lay_out(root, parts, "runpath", sub)
        want = ldd_unused(consumer, None)
        rule = {os.path.normpath(root / "lib" / (sub if sub in expected else "") / "libunused.so")}
        got = linkaudit_unused(consumer, None)
        if not want == rule == got:
            wrong.append(f"{sub}: ldd {sorted(want)}, rules {sorted(rule)}, linkaudit {sorted(got)}")
    assert wrong == []


def active_subdirs(diag: dict[str, str]) -> list[str]:
    """dl_hwcaps_subdirs_active decoded: bit i is the i-th name (_dl_hwcaps_subdirs_build_bitmask)."""
    active = int(diag["dl_hwcaps_subdirs_active"], 16)
    names = [n for n in diag["dl_hwcaps_subdirs"].split(":") if n]
    return [n for i, n in enumerate(names) if active >> i & 1]


# -- other architectures: their own ld.so under qemu-user describes the CPU qemu emulates ------------------

FOREIGN = {  # machine-table record -> (qemu binary, sysroot of Debian's cross libc, its ld.so)
    "arm64": ("qemu-aarch64-static", "/usr/aarch64-linux-gnu", "lib/ld-linux-aarch64.so.1"),
    "armhf": ("qemu-arm-static", "/usr/arm-linux-gnueabihf", "lib/ld-linux-armhf.so.3"),
    "armel": ("qemu-arm-static", "/usr/arm-linux-gnueabi", "lib/ld-linux.so.3"),
    "ppc64el": ("qemu-ppc64le-static", "/usr/powerpc64le-linux-gnu", "lib/ld64.so.2"),
    "s390x": ("qemu-s390x-static", "/usr/s390x-linux-gnu", "lib/ld64.so.1"),
}


@pytest.mark.parametrize("abi", sorted(FOREIGN))
def test_auxv_rules_match_the_foreign_ld_so(abi):
    """Fed the auxv qemu gave a foreign ld.so, linkaudit's rules give that ld.so's own platform, hwcaps, levels."""
    from linkaudit.hostparams import Auxv, auxv_params

    qemu, sysroot, ldso = FOREIGN[abi]
    if shutil.which(qemu) is None or not os.path.exists(os.path.join(sysroot, ldso)):
        pytest.skip(f"needs {qemu} and the cross libc in {sysroot}")
    proc = subprocess.run([qemu, "-L", sysroot, os.path.join(sysroot, ldso), "--list-diagnostics"],
                          capture_output=True, text=True, timeout=60, check=False)
    diag = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    diag = {k: v.strip('"') for k, v in diag.items()}
    if "dl_platform" not in diag:
        pytest.skip("this ld.so has no --list-diagnostics")
    auxv = {int(diag[k], 16): diag[k.replace("a_type", "a_val")] for k in diag if k.endswith(".a_type")}
    auxv = {k: int(v, 16) for k, v in auxv.items() if k in (16, 26)}  # AT_HWCAP, AT_HWCAP2
    platform = None if diag["dl_platform"] == "0x0" else diag["dl_platform"]
    machine = by_name(abi)
    # 32-bit ld.so builds print no auxv: there dl_hwcap/dl_hwcap2 are AT_HWCAP/AT_HWCAP2 unchanged
    hwcap = auxv.get(16, int(diag["dl_hwcap"], 16))
    hwcap2 = auxv.get(26, int(diag["dl_hwcap2"], 16))
    got_platform, got_hwcaps, got_levels = auxv_params(machine, Auxv(platform, hwcap, hwcap2))
    important = int(diag["dl_hwcap"], 16) & int(diag["dl_hwcap_important"], 16)
    assert got_platform == platform
    assert list(got_hwcaps) == [n for n, b in zip(machine.legacy_hwcaps, machine.legacy_hwcap_bits)
                                if important >> b & 1]
    assert sorted(got_levels) == sorted(active_subdirs(diag))
    assert int(diag["dl_hwcap_important"], 16) == sum(1 << b for b in machine.legacy_hwcap_bits)


# -- other CPU classes, through --cpuinfo (no ldd: it would answer for this CPU) ---------------------


@pytest.mark.parametrize("cpu", sorted(CLASSES))
@pytest.mark.parametrize("glibc", [(2, 36), (2, 37)])
def test_simulated_cpu_class_searches_glibcs_subdirectories(parts, tmp_path, cpu, glibc):
    vendor, flags = CLASSES[cpu]
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"vendor_id\t: {vendor}\nflags\t\t: {flags}\n")
    overrides = Overrides(cpuinfo=str(cpuinfo), glibc=glibc)
    expected = class_subdirs(cpu, glibc)
    wrong = []
    for i, sub in enumerate(CANDIDATES + ["glibc-hwcaps/x86-64-v2"]):
        root = tmp_path / f"l{i}"
        consumer, _ = lay_out(root, parts, "runpath", sub)
        got = linkaudit_unused(consumer, None, overrides)
        want = {os.path.normpath(root / "lib" / (sub if sub in expected else "") / "libunused.so")}
        if got != want:
            wrong.append(f"{sub}: linkaudit took {sorted(got)}")
    assert wrong == []
