"""objectaudit: one object in, its ObjectReport or one error line out; what ld.so refuses is refused here too.

(The statuses themselves are tested in test_verdicts.py and against ldd in the oracles.)
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from linkaudit.elf import ElfObject
from linkaudit.errors import ElfReadError
from linkaudit.inputs import Target
from linkaudit.loader import Loader, LoaderEnv, ObjectCache
from linkaudit.objectaudit import audit_object, audit_one
from linkaudit.report import ErrorEntry, ObjectReport, Status

from conftest import CC, BuildError

ENV = LoaderEnv(python_package_rule=False)


def _one(path: Path, display: str | None = None, cache: ObjectCache | None = None) -> ObjectReport | ErrorEntry:
    return audit_one(Target(path, display or str(path)), Loader(ENV, cache or ObjectCache()))


def test_a_linked_object_gets_its_report(objs: dict[str, Path]) -> None:
    report = _one(objs["unused"], display="bin/with_unused")
    assert isinstance(report, ObjectReport)
    assert report.path == "bin/with_unused"  # the display name, not the path opened
    statuses = {n.name: n.status for n in report.needed}
    assert (statuses["libused.so"], statuses["libunused.so"]) == (Status.USED, Status.UNUSED)
    assert report.runpath == "$ORIGIN" and report.rpath is None and report.libc == "glibc"
    assert report.is_python_extension is False


def test_audit_object_is_audit_one_without_the_safety_net(objs: dict[str, Path], tmp_path: Path) -> None:
    target = Target(objs["unused"], str(objs["unused"]))
    assert audit_object(target, Loader(ENV)) == _one(objs["unused"])
    bad = tmp_path / "bad.so"
    bad.write_bytes(b"\x7fELF" + b"\0" * 12)
    with pytest.raises(ElfReadError):  # fix re-audits a rewritten file: a failure must stop it, not become a line
        audit_object(Target(bad, str(bad)), Loader(ENV))


@pytest.mark.skipif(CC is None, reason="no C compiler")
def test_a_relocatable_object_is_refused_in_one_line_without_repeating_the_path(tmp_path: Path) -> None:
    obj = tmp_path / "part.o"
    src = tmp_path / "part.c"
    src.write_text("int f(void) { return 1; }\n")
    subprocess.run([CC, "-c", str(src), "-o", str(obj)], check=True)
    out = _one(obj, display="build/part.o")
    assert isinstance(out, ErrorEntry) and out.path == "build/part.o"
    assert out.message == "relocatable object file (.o), not a linked object; nothing to audit"


def test_a_truncated_object_is_one_error_line(objs: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.so"
    cut.write_bytes(objs["libused"].read_bytes()[:200])
    out = _one(cut)
    assert isinstance(out, ErrorEntry) and "\n" not in out.message and out.message
    assert not out.message.startswith(str(cut))  # the error line names the file once, in its path field


@pytest.mark.skipif(CC is None, reason="no C compiler")
def test_a_static_executable_has_no_dependencies(tmp_path: Path, build_exe) -> None:
    try:
        exe = build_exe("static", "int main(void) { return 0; }\n", out_dir=tmp_path, pie=False, extra=["-static"])
    except BuildError:
        pytest.skip("no static libc to link against")
    report = _one(exe)
    assert isinstance(report, ObjectReport)
    assert (report.needed, report.loaded, report.warnings) == ((), (), ("statically linked: no dynamic dependencies",))


def test_a_python_extension_is_recognised_by_its_PyInit_symbol(objs: dict[str, Path], build_so,
                                                                tmp_path: Path) -> None:
    ext = build_so("fakeext.cpython-311-x86_64-linux-gnu.so", "pyext.c", out_dir=tmp_path, soname=False,
                   libs=[objs["libused"]], runpath=["$ORIGIN"])
    shutil.copy(objs["libused"], tmp_path)
    other = tmp_path / "othername.cpython-311-x86_64-linux-gnu.so"
    shutil.copy(ext, other)  # same code, but PyInit_fakeext is not this file's module init
    assert _one(ext).is_python_extension is True
    assert _one(other).is_python_extension is False


class _BrokenCache(ObjectCache):
    def open(self, path: str) -> ElfObject:
        raise RuntimeError("a bug\nover two lines")


def test_a_bug_is_one_error_line_and_the_run_goes_on(objs: dict[str, Path]) -> None:
    out = _one(objs["clean"], display="clean", cache=_BrokenCache())
    assert out == ErrorEntry("clean", "internal error (RuntimeError: a bug over two lines); please report it")


@pytest.mark.requires_cc
def test_a_dependency_of_a_dependency_that_is_not_found_is_said(build_so, build_exe, tmp_path: Path) -> None:
    """ld.so refuses the object when a library further down is not found; each missing name is said once."""
    lib = tmp_path / "lib"
    build_so("libgone.so", "int z(void) { return 1; }", out_dir=lib)
    build_so("liby.so", "int z(void); int y(void) { return z(); }", out_dir=lib, libs=["gone"], lib_dirs=[lib])
    build_so("libw.so", "int z(void); int w(void) { return z(); }", out_dir=lib, libs=["gone"], lib_dirs=[lib])
    exe = build_exe("app", "int y(void); int w(void); int main(void) { return y() + w(); }", out_dir=lib,
                    libs=["y", "w"], lib_dirs=[lib], runpath=["$ORIGIN"])
    (lib / "libgone.so").unlink()
    report = _one(exe)
    assert isinstance(report, ObjectReport)
    said = [w for w in report.warnings if "not found" in w]
    assert len(said) == 1 and said[0].startswith("libgone.so, needed by ") and "liby.so" in said[0]
    statuses = {n.name: n.status for n in report.needed}
    assert (statuses["liby.so"], statuses["libw.so"]) == (Status.USED, Status.USED)  # found: not "missing"
    if shutil.which("ldd"):  # the oracle: ldd lists it as not found too
        out = subprocess.run(["ldd", str(exe)], capture_output=True, text=True, timeout=60).stdout
        assert "libgone.so => not found" in out


@pytest.mark.requires_cc
def test_nothing_is_said_when_every_library_is_found(objs: dict[str, Path]) -> None:
    report = _one(objs["unused"])
    assert isinstance(report, ObjectReport)
    assert not [w for w in report.warnings if "not found" in w]
