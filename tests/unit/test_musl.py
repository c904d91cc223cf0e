"""musl's loader rules on a fake musl root filesystem built with ``cc`` (no musl needed).

The "libc" of these roots is a stub shared object at ``/lib/ld-musl-<arch>.so.1``
that defines ``__libc_start_main``, ``stdin`` and ``puts``; the programs are
linked with ``-nostdlib`` and never run.  What musl's real loader does with
real musl objects is checked in ``tests/integration/test_musl_oracle.py``.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from linkaudit import musl
from linkaudit.audit import AuditOptions, audit
from linkaudit.loader import LoaderEnv
from linkaudit.report import FoundVia, ObjectReport, Status

ARCH = platform.machine()
CC = shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None or ARCH not in ("x86_64", "aarch64"), reason="needs cc on x86_64/aarch64")
LIBC = f"libc.musl-{ARCH}.so.1"
INTERP = f"/lib/ld-musl-{ARCH}.so.1"


def cc(out: Path, source: str, *args: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.parent / (out.name + ".c")
    src.write_text(source)
    subprocess.run([CC, str(src), "-o", str(out), "-nostdlib", "-fPIC", *args], check=True, capture_output=True)
    src.unlink()
    return out


def build_root(root: Path, path_file: str | None) -> Path:
    """A musl root: the loader, libfoo in /opt/lib (only on the path file), libbar in /usr/lib; returns the app."""
    stub = "int stdin; void __libc_start_main(void) {}\nint puts(const char *s) { return 0; }\n"
    cc(root / INTERP.lstrip("/"), stub, "-shared", f"-Wl,-soname,{LIBC}")
    if path_file is not None:
        (root / "etc").mkdir(parents=True, exist_ok=True)
        (root / "etc" / f"ld-musl-{ARCH}.path").write_text(path_file)
    link = root.parent / (root.name + "-link")
    shutil.copy(root / INTERP.lstrip("/"), _mk(link) / LIBC)
    cc(root / "opt/lib/libfoo.so", "int foo(void) { return 1; }\n", "-shared", "-Wl,-soname,libfoo.so")
    cc(root / "usr/lib/libbar.so", "int bar(void) { return 2; }\n", "-shared", "-Wl,-soname,libbar.so")
    cc(link / "libm.so.6", "double m(void) { return 0; }\n", "-shared", "-Wl,-soname,libm.so.6")
    return cc(root / "app", "int foo(void); int puts(const char *);\n"
              "void _start(void) { puts(\"x\"); foo(); for (;;) ; }\n",
              f"-Wl,--dynamic-linker={INTERP}", f"-L{link}", f"-L{root}/opt/lib", f"-L{root}/usr/lib",
              "-Wl,--no-as-needed", "-lfoo", "-lbar", "-lm", f"-l:{LIBC}", "-pie")


def _mk(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    return d


def audit_in(path: Path, root: Path | None = None) -> ObjectReport:
    env = LoaderEnv(root=str(root) if root else None, python_package_rule=False)
    report = audit([str(path)], AuditOptions(env=env))
    assert not report.errors, report.errors
    (obj,) = report.objects
    return obj


def test_root_system_path_file_and_the_loader(tmp_path: Path) -> None:
    root = tmp_path / "root"
    app = build_root(root, "/usr/lib\n\n/opt/lib:/nonexistent\n")
    obj = audit_in(app, root)
    assert obj.libc == "musl"
    by = {n.name: n for n in obj.needed}
    assert by["libfoo.so"].status is Status.USED and by["libfoo.so"].found_via is FoundVia.DEFAULT
    assert str(by["libfoo.so"].path) == "/opt/lib/libfoo.so"
    assert by["libbar.so"].status is Status.UNUSED and str(by["libbar.so"].path) == "/usr/lib/libbar.so"
    # libc.musl-<arch>.so.1 and libm.so.6 are both the loader itself, which defines puts
    assert str(by[LIBC].path) == INTERP and by[LIBC].found_via is FoundVia.LOADED
    assert str(by["libm.so.6"].path) == INTERP
    assert "puts" in by[LIBC].symbols or "puts" in by["libm.so.6"].symbols
    assert not any(n.status in (Status.MISSING, Status.NOT_ON_HOST) for n in obj.needed)
    assert not obj.unresolved


def test_root_without_path_file_uses_musl_defaults(tmp_path: Path) -> None:
    root = tmp_path / "root"
    app = build_root(root, None)
    obj = audit_in(app, root)
    by = {n.name: n for n in obj.needed}
    assert str(by["libbar.so"].path) == "/usr/lib/libbar.so"
    assert by["libfoo.so"].status is Status.MISSING  # /opt/lib is not a default: under --root that is real
    assert [s.directory for s in by["libfoo.so"].searched] == ["/lib", "/usr/local/lib", "/usr/lib"]
    assert "foo" in obj.unresolved


def test_root_without_musl_loader(tmp_path: Path) -> None:
    """Under --root the root is the target: no musl loader there means libc is missing, not 'not on host'."""
    root = tmp_path / "root"
    app = build_root(root, "/usr/lib\n/opt/lib\n")
    (root / INTERP.lstrip("/")).unlink()
    obj = audit_in(app, root)
    by = {n.name: n for n in obj.needed}
    assert obj.libc == "musl"  # from its PT_INTERP
    assert by[LIBC].status is Status.MISSING and by["libfoo.so"].status is Status.USED
    assert "puts" in obj.unresolved
    assert any("is also its libc, is not there" in w for w in obj.warnings)


def test_empty_path_file_searches_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    app = build_root(root, "")
    by = {n.name: n for n in audit_in(app, root).needed}
    assert by["libbar.so"].status is Status.MISSING and by["libbar.so"].searched == ()


def test_no_musl_loader_on_this_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No --root, a glibc host without musl: libc and system libraries are not judged, bundled ones are."""
    monkeypatch.setattr(musl, "host_is_musl", lambda: False)
    monkeypatch.setattr(musl.MuslLoader, "ldso_elf", lambda self, path: None)
    d = tmp_path / "wheel"
    cc(d / "stub" / LIBC, "int puts(const char *s) { return 0; }\n", "-shared", f"-Wl,-soname,{LIBC}")
    cc(d / "stub" / "libz.so.1", "int zz(void) { return 0; }\n", "-shared", "-Wl,-soname,libz.so.1")
    cc(d / "pkg.libs" / "libbundled.so", "int b(void) { return 1; }\n", "-shared", "-Wl,-soname,libbundled.so")
    cc(d / "pkg.libs" / "libspare.so", "int s(void) { return 1; }\n", "-shared", "-Wl,-soname,libspare.so")
    ext = cc(d / "pkg" / "ext.so", "int b(void); int puts(const char *); int zz(void);\n"
             "int f(void) { puts(\"\"); zz(); return b(); }\n", "-shared",
             f"-L{d / 'stub'}", f"-L{d / 'pkg.libs'}", "-Wl,--no-as-needed", "-lbundled", "-lspare", "-lz",
             f"-l:{LIBC}", "-Wl,-rpath,$ORIGIN/../pkg.libs", "-Wl,--enable-new-dtags")
    obj = audit_in(ext)
    by = {n.name: n for n in obj.needed}
    assert obj.libc == "musl"
    assert by["libbundled.so"].status is Status.USED and by["libspare.so"].status is Status.UNUSED
    assert str(by["libbundled.so"].path).endswith("pkg/../pkg.libs/libbundled.so")
    for name in ("libz.so.1", LIBC):
        assert by[name].status is Status.NOT_ON_HOST and "--root" in (by[name].uncertain or "")
    # the host's (glibc) directories are never searched: only the object's own RUNPATH was
    assert [s.via for s in by["libz.so.1"].searched] == [FoundVia.RUNPATH]
    assert by["libbundled.so"].uncertain is None  # nothing absent comes before it in the scope
    assert not obj.unresolved and any("not judged" in w for w in obj.warnings)
    # linkaudit's own --search-path comes after musl's rules, and finds it
    env = LoaderEnv(python_package_rule=False, search_paths=(str(d / "stub"),))
    (again,) = audit([str(ext)], AuditOptions(env=env)).objects
    (z,) = [n for n in again.needed if n.name == "libz.so.1"]
    assert z.found_via is FoundVia.SEARCH_PATH and z.status is Status.USED and z.symbols == ("zz",)


def test_fixup_rpath() -> None:
    assert musl._fixup_rpath("$ORIGIN/../lib:${ORIGIN}/x", "/a/b/c.so") == "/a/b/../lib:/a/b/x"
    assert musl._fixup_rpath("/usr/lib", "/a/c.so") == "/usr/lib"
    assert musl._fixup_rpath("$ORIGIN/x:$LIB", "/a/c.so") is None  # any other token drops the whole rpath
    assert musl._fixup_rpath("$PLATFORM", "/a/c.so") is None


def _break_gnu_hash(lib: Path) -> None:
    """Give ``lib``'s DT_GNU_HASH table a bucket count that runs far outside the file."""
    from elftools.elf.elffile import ELFFile

    with open(lib, "rb") as fh:
        section = ELFFile(fh).get_section_by_name(".gnu.hash")
        assert section is not None, "cc made no GNU hash table"
        offset = section["sh_offset"]
    with open(lib, "r+b") as fh:
        fh.seek(offset)
        fh.write((0x7FFFFFFF).to_bytes(4, "little"))


def test_damaged_dependency_is_passed_over_and_named(tmp_path: Path) -> None:
    """musl's binding: a library whose tables break is skipped (named in the result) by the tolerant
    walk, and the lookups behind it still reach libc; the strict walk raises."""
    from linkaudit.elf import ElfObject
    from linkaudit.errors import ElfReadError

    root = tmp_path / "root"
    app = build_root(root, "/opt/lib\n")
    libbar = root / "usr/lib/libbar.so"
    _break_gnu_hash(libbar)
    libm = tmp_path / "root-link" / "libm.so.6"
    scope = [ElfObject(p) for p in (app, root / "opt/lib/libfoo.so", libbar, libm, root / INTERP.lstrip("/"))]
    bound = musl.bind_tolerant(scope, libc=4)
    assert set(bound.damaged) == {2}
    found = {r.ref.name: r.scope_index for r in bound.resolutions}
    assert found[b"foo"] == 1 and found[b"puts"] == 4, "the walk goes on past the damaged library"
    with pytest.raises(ElfReadError):
        musl.bind(scope, libc=4)
