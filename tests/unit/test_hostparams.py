"""Platform, hwcaps and glibc-hwcaps levels for every x86 CPU class, from synthetic cpuinfo text.

The expectations come from ``tests/glibc_rules.py`` (glibc's rules written
out independently) and, for the classes ``ld.so --help`` / ``LD_DEBUG=libs``
have been read on, from those literal listings.  Nothing here depends on the
CPU the tests run on.
"""

from __future__ import annotations

import os

import pytest

from glibc_rules import hwcaps_of, levels_of, platform_of, read_flags, subdirs_of
from linkaudit.hostparams import (
    CpuInfo,
    HostFacts,
    Overrides,
    libc_release,
    parse_cpuinfo,
    parse_glibc_version,
    resolve,
)
from linkaudit.machines import by_name

BASE = "fpu cx8 cmov mmx fxsr sse sse2"
V2 = "cx16 lahf_lm popcnt pni ssse3 sse4_1 sse4_2"
V3 = "avx avx2 f16c fma abm movbe xsave"
BMI = "bmi1 bmi2"
V4 = "avx512f avx512bw avx512cd avx512dq avx512vl"

# name -> (vendor, flags): one CPU of each class glibc tells apart
CPUS = {
    "amd_zen4": ("AuthenticAMD", f"{BASE} {V2} {V3} {BMI} {V4}"),  # AVX-512, but not Intel: no haswell
    "amd_k8": ("AuthenticAMD", f"{BASE} lahf_lm"),  # baseline only
    "intel_nehalem": ("GenuineIntel", f"{BASE} {V2}"),  # pre-Haswell: x86-64-v2
    "intel_sandybridge": ("GenuineIntel", f"{BASE} {V2} avx xsave"),  # AVX but no AVX2
    "intel_haswell": ("GenuineIntel", f"{BASE} {V2} {V3} {BMI}"),
    "intel_haswell_no_bmi": ("GenuineIntel", f"{BASE} {V2} {V3}"),  # v3 before 2.37, not haswell
    "intel_skylake_avx512": ("GenuineIntel", f"{BASE} {V2} {V3} {BMI} {V4}"),
    "intel_xeon_phi": ("GenuineIntel", f"{BASE} {V2} {V3} {BMI} avx512f avx512cd avx512er avx512pf"),
    "intel_er_without_pf": ("GenuineIntel", f"{BASE} {V2} {V3} {BMI} {V4} avx512er"),
    "hygon": ("HygonGenuine", f"{BASE} {V2} {V3} {BMI}"),
    "zhaoxin": ("CentaurHauls", f"{BASE} {V2} {V3} {BMI}"),
}

X86_64 = by_name("x86_64")


def cpuinfo_text(vendor: str, flags: str) -> str:
    return (f"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: 6\nflags\t\t: {flags}\n\n"
            f"processor\t: 1\nvendor_id\t: {vendor}\nflags\t\t: {flags}\n")


def params_for(name: str, glibc: tuple[int, int]):
    vendor, flags = CPUS[name]
    cpu = parse_cpuinfo(cpuinfo_text(vendor, flags), "test")
    assert cpu is not None
    return resolve(X86_64, HostFacts("x86_64", cpu, glibc), Overrides(), None)


@pytest.mark.parametrize("glibc", [(2, 33), (2, 36), (2, 37), (2, 41)])
@pytest.mark.parametrize("name", sorted(CPUS))
def test_x86_64_params_follow_glibcs_rules(name, glibc):
    vendor, flag_text = CPUS[name]
    v, flags = read_flags(cpuinfo_text(vendor, flag_text))
    got = params_for(name, glibc)
    platform, hwcaps, levels = platform_of(v, flags), hwcaps_of(v, flags), levels_of(flags, glibc)
    assert (got.platform, list(got.hwcaps), list(got.levels)) == (platform, hwcaps, levels)
    assert list(got.subdirs) == subdirs_of(platform, hwcaps, levels, glibc)
    assert (got.platform_source, got.glibc_source) == ("host cpuinfo", "host libc")


def test_avx512_intel_on_glibc_2_36_searches_what_ld_debug_listed():
    """The order LD_DEBUG=libs printed on an AVX-512 Xeon with glibc 2.36 (issue 8), literally."""
    got = params_for("intel_skylake_avx512", (2, 36))
    assert got.platform == "haswell"
    assert got.subdirs == (
        "glibc-hwcaps/x86-64-v4", "glibc-hwcaps/x86-64-v3", "glibc-hwcaps/x86-64-v2",
        "tls/haswell/avx512_1/x86_64", "tls/haswell/avx512_1", "tls/haswell/x86_64", "tls/haswell",
        "tls/avx512_1/x86_64", "tls/avx512_1", "tls/x86_64", "tls",
        "haswell/avx512_1/x86_64", "haswell/avx512_1", "haswell/x86_64", "haswell",
        "avx512_1/x86_64", "avx512_1", "x86_64",
    )


def test_amd_and_pre_haswell_search_the_kernel_platform():
    for name in ("amd_zen4", "intel_nehalem", "intel_sandybridge", "amd_k8"):
        got = params_for(name, (2, 36))
        assert got.platform == "x86_64", name
        assert got.legacy_subdirs == ("tls/x86_64/x86_64", "tls/x86_64", "tls", "x86_64/x86_64", "x86_64"), name
    assert params_for("amd_zen4", (2, 36)).levels == ("x86-64-v4", "x86-64-v3", "x86-64-v2")
    assert params_for("amd_k8", (2, 36)).levels == ()


def test_xeon_phi_has_its_platform_and_no_avx512_1():
    got = params_for("intel_xeon_phi", (2, 36))
    assert (got.platform, got.hwcaps, got.levels) == ("xeon_phi", ("x86_64",), ("x86-64-v3", "x86-64-v2"))
    er = params_for("intel_er_without_pf", (2, 36))  # AVX512ER without PF: not xeon_phi, and no avx512_1
    assert (er.platform, er.hwcaps) == ("haswell", ("x86_64",))


def test_v3_needs_bmi_from_2_37():
    assert params_for("intel_haswell_no_bmi", (2, 36)).levels[0] == "x86-64-v3"
    assert params_for("intel_haswell_no_bmi", (2, 37)).levels[0] == "x86-64-v2"
    assert params_for("intel_haswell_no_bmi", (2, 36)).platform == "x86_64"


def test_legacy_subdirectories_end_with_2_37():
    assert params_for("intel_haswell", (2, 36)).legacy_subdirs
    new = params_for("intel_haswell", (2, 37))
    assert new.legacy_subdirs == () and new.subdirs == ("glibc-hwcaps/x86-64-v3", "glibc-hwcaps/x86-64-v2")
    assert new.platform == "haswell"  # $PLATFORM still expands to it


def test_i386_objects_get_i686_and_sse2():
    cpu = parse_cpuinfo(cpuinfo_text(*CPUS["intel_skylake_avx512"]), "test")
    got = resolve(by_name("i386"), HostFacts("x86_64", cpu, (2, 36)), Overrides(), None)
    assert (got.platform, got.hwcaps, got.levels) == ("i686", ("sse2",), ())
    assert got.legacy_subdirs[:2] == ("tls/i686/sse2", "tls/i686")


def test_unreadable_cpuinfo_falls_back_to_the_baseline_with_a_warning():
    got = resolve(X86_64, HostFacts("x86_64", None, (2, 36)), Overrides(), None)
    assert (got.platform, got.hwcaps, got.levels, got.platform_source) == ("x86_64", ("x86_64",), (), "baseline")
    assert got.warnings and "baseline" in got.warnings[0]


def test_cpuinfo_without_flags_is_no_cpu():
    assert parse_cpuinfo("processor : 0\nisa : rv64imafdc\n", "x") is None
    assert parse_cpuinfo("", "x") is None


def test_foreign_objects_take_the_table_baseline():
    cpu = parse_cpuinfo(cpuinfo_text(*CPUS["intel_skylake_avx512"]), "test")
    for name, platform in (("arm64", "aarch64"), ("armhf", "v7l"), ("s390x", "z900"), ("mips64el", None)):
        got = resolve(by_name(name), HostFacts("x86_64", cpu, (2, 36)), Overrides(), None)
        assert (got.platform, got.hwcaps, got.levels, got.platform_source) == (platform, (), (), "baseline"), name


def test_overrides_win_and_say_so():
    cpu = parse_cpuinfo(cpuinfo_text(*CPUS["amd_k8"]), "test")
    got = resolve(X86_64, HostFacts("x86_64", cpu, (2, 36)),
                  Overrides(platform="haswell", hwcaps=("avx512_1",), cpu_level="x86-64-v3", glibc=(2, 35)), None)
    assert (got.platform, got.hwcaps, got.levels, got.glibc) == ("haswell", ("x86_64", "avx512_1"),
                                                                 ("x86-64-v3", "x86-64-v2"), (2, 35))
    assert {got.platform_source, got.hwcaps_source, got.levels_source, got.glibc_source} == {"override"}


def test_s390x_levels_depend_on_the_release():
    s390x = by_name("s390x")
    host = HostFacts("x86_64", None, (2, 36))
    got = resolve(s390x, host, Overrides(cpu_level="z16", glibc=(2, 36)), None)
    assert got.levels == ("z16", "z15", "z14", "z13")
    old = resolve(s390x, host, Overrides(cpu_level="z16", glibc=(2, 35)), None)
    assert old.levels == () and old.warnings  # z16 arrived in glibc 2.36


def test_override_of_another_architecture_is_not_applied_but_said():
    got = resolve(by_name("arm64"), HostFacts("x86_64", None, (2, 36)), Overrides(platform="haswell"), None)
    assert got.platform == "aarch64"
    assert got.warnings == ("--platform haswell is not among arm64's platforms: not applied to it",)
    got = resolve(X86_64, HostFacts("x86_64", None, (2, 36)), Overrides(cpu_level="z16"), None)
    assert got.warnings[-1] == "CPU level z16 is not among x86_64's glibc-hwcaps levels: not applied to it"


def test_cpuinfo_file_override(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text(cpuinfo_text(*CPUS["intel_haswell"]))
    got = resolve(X86_64, HostFacts("x86_64", None, (2, 36)), Overrides(cpuinfo=str(f)), None)
    assert (got.platform, got.platform_source) == ("haswell", f"cpuinfo {f}")


@pytest.mark.parametrize(("text", "version"), [("2.36", (2, 36)), ("2.41.1", (2, 41)), (" 2.5 ", (2, 5))])
def test_parse_glibc_version(text, version):
    assert parse_glibc_version(text) == version


@pytest.mark.parametrize("text", ["2", "two.36", "2.36-9", ""])
def test_parse_glibc_version_rejects(text):
    with pytest.raises(ValueError, match="MAJOR.MINOR"):
        parse_glibc_version(text)


def test_libc_release_reads_the_banner(tmp_path):
    lib = tmp_path / "libc.so.6"
    lib.write_bytes(b"\x7fELF" + b"\0" * 100 + b"GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release "
                    b"version 2.36.\n" + b"\0" * 10)
    assert libc_release(str(lib)) == (2, 36)
    assert libc_release(str(tmp_path / "absent")) is None


def test_cpuinfo_parsing_keeps_the_first_processor():
    cpu = parse_cpuinfo(cpuinfo_text("GenuineIntel", "fpu avx2"), "x")
    assert cpu == CpuInfo("GenuineIntel", frozenset({"fpu", "avx2"}), "x")


def test_non_x86_host_takes_platform_and_hwcaps_from_its_auxv():
    from linkaudit.hostparams import Auxv

    host = HostFacts("aarch64", None, (2, 36), abi="arm64", auxv=Auxv("aarch64", (1 << 8) | 1, 0))
    got = resolve(by_name("arm64"), host, Overrides(), None)
    assert (got.platform, got.hwcaps, got.levels, got.platform_source) == ("aarch64", ("atomics",), (), "host auxv")
    assert got.legacy_subdirs == ("tls/aarch64/atomics", "tls/aarch64", "tls/atomics", "tls", "aarch64/atomics",
                                  "aarch64", "atomics")
    # a 32-bit ARM object on that host is another ABI: the auxv of this 64-bit process says nothing about it
    assert resolve(by_name("armhf"), host, Overrides(), None).platform_source == "baseline"


@pytest.mark.parametrize(("hwcap2", "levels"), [
    (0x00800000 | 0x00400000 | 0x00040000 | 0x00020000, ("power10", "power9")),
    (0x00800000 | 0x00400000, ("power9",)),
    (0x00800000, ()),  # ISA 3.0 without IEEE128: not power9
])
def test_ppc64le_levels_from_hwcap2(hwcap2, levels):
    from linkaudit.hostparams import Auxv

    host = HostFacts("ppc64le", None, (2, 36), abi="ppc64el", auxv=Auxv("power10", 1 << 28, hwcap2))
    got = resolve(by_name("ppc64el"), host, Overrides(), None)
    assert (got.levels, got.hwcaps) == (levels, ("altivec",))


def test_s390x_levels_from_hwcap():
    from linkaudit.hostparams import Auxv

    z15 = sum(1 << b for b in (1, 11, 12, 13, 14, 15, 16))
    host = HostFacts("s390x", None, (2, 36), abi="s390x", auxv=Auxv("z15", z15, 0))
    got = resolve(by_name("s390x"), host, Overrides(), None)
    assert got.levels == ("z15", "z14", "z13") and got.hwcaps == ("zarch", "vx", "vxe", "vxe2")


def test_cpuinfo_file_says_nothing_about_other_architectures(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text(cpuinfo_text(*CPUS["intel_haswell"]))
    got = resolve(by_name("arm64"), HostFacts("x86_64", None, (2, 36)), Overrides(cpuinfo=str(f)), None)
    assert (got.platform, got.platform_source) == ("aarch64", "baseline")


def test_glibc_tunables_turn_features_off_as_ld_so_does():
    from linkaudit.hostparams import with_tunables

    cpu = parse_cpuinfo(cpuinfo_text(*CPUS["intel_skylake_avx512"]), "test")
    assert with_tunables(cpu, None) is cpu
    assert with_tunables(cpu, "glibc.malloc.check=1") is cpu
    less = with_tunables(cpu, "glibc.malloc.check=1:glibc.cpu.hwcaps=-AVX2,+ERMS,-LZCNT,-NOSUCH,AVX512F")
    assert cpu.flags - less.flags == {"avx2", "abm"}
    got = resolve(X86_64, HostFacts("x86_64", cpu, (2, 36)), Overrides(), None, "glibc.cpu.hwcaps=-AVX2")
    assert (got.platform, got.hwcaps, got.levels) == ("x86_64", ("x86_64", "avx512_1"), ("x86-64-v2",))
    assert got.platform_source == "host cpuinfo, GLIBC_TUNABLES"


def _read_fifo_without_blocking(read, fifo) -> object:
    """``read(str(fifo))`` on a fresh FIFO nobody writes to: its answer, failing the test if it blocks."""
    import threading

    os.mkfifo(fifo)
    answer: list[object] = []
    worker = threading.Thread(target=lambda: answer.append(read(str(fifo))), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), f"{read.__name__} blocked opening a FIFO"
    return answer[0]


def test_libc_release_never_blocks_on_a_fifo_or_reads_a_directory(tmp_path):
    """A root's libc.so.6 is untrusted: a FIFO or directory in its place is no release, and no hang."""
    assert _read_fifo_without_blocking(libc_release, tmp_path / "libc.so.6") is None
    (tmp_path / "dir").mkdir()
    assert libc_release(str(tmp_path / "dir")) is None


def test_cpuinfo_file_that_is_a_fifo_is_unreadable_not_a_hang(tmp_path):
    from linkaudit.hostparams import read_cpuinfo

    assert _read_fifo_without_blocking(read_cpuinfo, tmp_path / "cpuinfo") is None


def test_interpreter_abi_is_read_from_its_own_elf_header():
    """HostFacts.abi comes from this interpreter's ELF header (decoded by elf.py), as pyelftools reads it."""
    import sys

    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.enums import ENUM_E_MACHINE

    from linkaudit.hostparams import HostFacts
    from linkaudit.machines import machine_for

    try:
        with open(sys.executable, "rb") as fh:
            elf = ELFFile(fh)
            h = elf.header
            machine = h["e_machine"] if isinstance(h["e_machine"], int) else ENUM_E_MACHINE[h["e_machine"]]
            want = machine_for(machine, elf.elfclass, "<" if elf.little_endian else ">", h["e_flags"])
    except ELFError:
        pytest.skip("this interpreter is not an ELF file")
    assert want is not None
    assert HostFacts.read().abi == want.name
