"""Which libc's loader an object is audited under: its own evidence first, then its name, then the root.

Objects are built with ``cc -nostdlib`` (no libc of their own unless named), so
what decides is exactly what each test gives them.
"""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from linkaudit.elf import ElfObject
from linkaudit.libc import GLIBC, MUSL, libc_flavour, libc_of, musl_arch
from linkaudit.loader import Loader, LoaderEnv

pytestmark = [pytest.mark.requires_cc,
              pytest.mark.skipif(platform.machine() != "x86_64", reason="names x86_64 loaders and libcs")]


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory, build_so) -> ElfObject:
    """A library that needs nothing: no libc says anything about it."""
    d = tmp_path_factory.mktemp("libc")
    return ElfObject(build_so("libplain.so", "int p(void) { return 0; }\n", out_dir=d, extra=["-nostdlib"]))


def test_flavour_from_names(plain: ElfObject) -> None:
    base = Loader(LoaderEnv(python_package_rule=False))
    assert libc_of(plain) is None
    assert libc_flavour(plain, base, "x-1.0-cp311-cp311-musllinux_1_2_x86_64.whl!x.libs/libplain.so") == MUSL
    assert libc_flavour(plain, base, "x-1.0-cp311-cp311-manylinux_2_28_x86_64.whl!x.libs/libplain.so") == GLIBC
    assert libc_flavour(plain, base, "pkg/_x.cpython-311-x86_64-linux-musl.so") == MUSL
    assert libc_flavour(plain, base, "pkg/_x.cpython-311-x86_64-linux-gnu.so") == GLIBC
    assert libc_flavour(plain, base, "/lib/ld-musl-x86_64.so.1") == MUSL
    assert libc_flavour(plain, base, "/usr/lib/x86_64-linux-musl/libc.so") == MUSL
    assert libc_flavour(plain, base, "/usr/lib/x86_64-linux-gnu/libplain.so") == GLIBC


def test_the_object_itself_says_first(tmp_path: Path, build_so, build_exe) -> None:
    """PT_INTERP, then the libc in DT_NEEDED, beat any name; musl_arch reads the same evidence."""
    musl_libc = build_so("libc.musl-aarch64.so.1", "int stdin;\n", out_dir=tmp_path, extra=["-nostdlib"])
    needs_musl = ElfObject(build_so("libneeds.so", "int n(void) { return 0; }\n", out_dir=tmp_path,
                                    libs=[musl_libc], extra=["-nostdlib"]))
    assert libc_of(needs_musl) == MUSL
    assert musl_arch(needs_musl) == "aarch64"  # the libc's name says it, not the machine
    app = ElfObject(build_exe("app", "void _start(void) { for (;;) ; }\n", out_dir=tmp_path,
                              extra=["-nostdlib", "-Wl,--dynamic-linker=/lib/ld-musl-x86_64.so.1"]))
    assert libc_of(app) == MUSL and musl_arch(app) == "x86_64"
    base = Loader(LoaderEnv(python_package_rule=False))
    assert libc_flavour(app, base, "pkg/_x.cpython-311-x86_64-linux-gnu.so") == MUSL
    glibc_app = ElfObject(build_exe("gapp", "void _start(void) { for (;;) ; }\n", out_dir=tmp_path,
                                    extra=["-nostdlib", "-Wl,--dynamic-linker=/lib64/ld-linux-x86-64.so.2"]))
    assert libc_flavour(glibc_app, base, "/lib/ld-musl-x86_64.so.1") == GLIBC
    assert musl_arch(ElfObject(build_so("libp2.so", "int q(void) { return 0; }\n", out_dir=tmp_path,
                                        extra=["-nostdlib"]))) == "x86_64"  # from the machine


def test_under_a_root_with_musls_loader(tmp_path: Path, plain: ElfObject, build_so) -> None:
    """An object that names neither libc follows the system audited: musl where --root has musl's loader."""
    root = tmp_path / "root"
    build_so("ld-musl-x86_64.so.1", "int stdin;\n", out_dir=root / "lib", extra=["-nostdlib"])
    assert libc_flavour(plain, Loader(LoaderEnv(root=str(root), python_package_rule=False)), "libplain.so") == MUSL
    assert libc_flavour(plain, Loader(LoaderEnv(root=str(tmp_path), python_package_rule=False)), "libplain.so") == GLIBC
