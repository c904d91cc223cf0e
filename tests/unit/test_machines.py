"""The machine table: which record an object gets, and what glibc fixes for it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from linkaudit.loader import Loader, LoaderEnv
from linkaudit.machines import MACHINES, by_name, machine_for

EF_ARM_HARD, EF_ARM_SOFT, EF_MIPS_ABI2, EF_MIPS_NAN2008 = 0x400, 0x200, 0x20, 0x400


@pytest.mark.parametrize(("key", "name"), [
    ((62, 64, "<", 0), "x86_64"),
    ((62, 32, "<", 0), "x32"),
    ((3, 32, "<", 0), "i386"),
    ((183, 64, "<", 0), "arm64"),
    ((40, 32, "<", 0x5000400), "armhf"),  # Debian armhf: EABI5, hard float
    ((40, 32, "<", 0x5000200), "armel"),  # Debian armel: EABI5, soft float
    ((40, 32, "<", 0x5000000), "armel"),  # no float ABI declared
    ((21, 64, "<", 2), "ppc64el"),
    ((21, 64, ">", 1), "ppc64"),
    ((20, 32, ">", 0), "powerpc"),
    ((22, 64, ">", 0), "s390x"),
    ((22, 32, ">", 0), "s390"),
    ((8, 64, "<", 0x80000007), "mips64el"),
    ((8, 64, "<", 0x80000407), "mipsr6el"),
    ((8, 32, "<", 0x70001007), "mipsel"),
    ((8, 32, "<", 0x80000027), "mipsn32el"),
    ((8, 32, ">", 0x70001007), "mips"),
    ((243, 64, "<", 0x5), "riscv64"),
    ((258, 64, "<", 0x43), "loong64"),
    ((43, 64, ">", 0), "sparc64"),
])
def test_records_are_told_apart_by_class_order_machine_and_abi_flags(key, name):
    assert machine_for(*key).name == name


def test_unknown_machine_has_no_record():
    assert machine_for(0xBEEF, 64, "<", 0) is None


def test_cache_flags_match_ldconfig():
    """_dl_cache_check_flags per ABI (sysdeps/*/dl-cache.h with sysdeps/generic/ldconfig.h)."""
    want = {"x86_64": {0x303}, "x32": {0x803}, "i386": {0x1, 0x3}, "arm64": {0xA03}, "armhf": {0x903, 0x3},
            "armel": {0xB03, 0x3}, "ppc64el": {0x503}, "s390x": {0x403}, "mips64el": {0x703}, "mipsn32el": {0x603},
            "mipsel": {0x1, 0x3}, "mipsr6el": {0xE03}, "riscv64": {0x1003}, "loong64": {0x1203}, "sparc64": {0x103}}
    assert {name: set(by_name(name).cache_flags) for name in want} == want


@pytest.mark.parametrize(("name", "dirs", "lib"), [
    ("x86_64", ("/lib64", "/usr/lib64"), "lib64"), ("i386", ("/lib", "/usr/lib"), "lib"),
    ("mips64el", ("/lib64", "/usr/lib64"), "lib64"), ("mipsn32el", ("/lib32", "/usr/lib32"), "lib32"),
    ("riscv64", ("/lib64/lp64d", "/usr/lib64/lp64d"), "lp64d"), ("x32", ("/libx32", "/usr/libx32"), "libx32"),
    ("s390x", ("/lib64", "/usr/lib64"), "lib64"), ("ppc64el", ("/lib64", "/usr/lib64"), "lib64"),
])
def test_non_multiarch_defaults_are_glibcs_slibdir(name, dirs, lib, tmp_path):
    m = by_name(name)
    assert m.default_dirs_plain == dirs
    # an object of this ABI under a root with no multiarch directories: $LIB is notdir(slibdir) (DL_DST_LIB)
    obj = SimpleNamespace(e_machine=m.e_machine, bits=m.bits, endian=m.endian, e_flags=m.flags_value)
    loader = Loader(LoaderEnv(root=str(tmp_path), cache_file=None, python_package_rule=False))
    assert (loader.default_dirs(obj), loader.dst_lib(obj)) == (dirs, lib)


def test_multiarch_triplets():
    assert {m.name: m.triplets[0] for m in MACHINES if m.name in ("armel", "armhf", "mipsel", "mips64el")} == {
        "armel": "arm-linux-gnueabi", "armhf": "arm-linux-gnueabihf", "mipsel": "mipsel-linux-gnu",
        "mips64el": "mips64el-linux-gnuabi64"}


def test_glibc_hwcaps_levels_by_release():
    assert by_name("s390x").levels_for((2, 35)) == ("z15", "z14", "z13")
    assert by_name("s390x").levels_for((2, 36)) == ("z16", "z15", "z14", "z13")
    assert by_name("s390x").levels_for((2, 42))[0] == "z17"
    assert by_name("ppc64el").levels_for((2, 36)) == ("power10", "power9")
    assert by_name("x86_64").levels_for((2, 32)) == ()
    assert by_name("arm64").levels_for(None) == ()


def test_every_record_is_complete():
    names = [m.name for m in MACHINES]
    assert len(names) == len(set(names))
    for m in MACHINES:
        assert m.cache_flags and m.slibdir.startswith("/") and m.bits in (32, 64) and m.endian in "<>", m.name
        assert m.platform is None or m.platform in m.platforms, m.name


def test_every_record_has_its_architectures_relocation_classes():
    """Each ABI of the table names its port's JUMP_SLOT-class types (relocations.py, from dl-machine.h)."""
    for m in MACHINES:
        assert m.relocations.plt or m.relocations.all_plt, m.name
        assert m.relocations.name != "unknown", m.name
    assert by_name("ppc64").relocations.all_plt  # ELFv1: every relocation is of the PLT class
    assert not by_name("ppc64el").relocations.all_plt
    assert by_name("armel").relocations is by_name("armhf").relocations
