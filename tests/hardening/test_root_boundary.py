"""``--root`` is a boundary: no file outside the image is opened, whatever the image's links and
relative paths say.

The image holds absolute and relative symbolic links that point at this
machine's directories (``/usr/lib``, ``../../..``), an object with relative
RUNPATH entries (``""``, ``.``, ``reldir``) and a relative DT_NEEDED with a
``/``; the working directory holds decoys with the same relative names.  Every
``open`` during the audit is recorded with an audit hook (and, when strace is
installed, every ``openat`` of the whole CLI process).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from linkaudit.audit import AuditOptions, audit
from linkaudit.loader import default_env
from linkaudit.report import FoundVia, Status
from linkaudit.sysroot import Sysroot, resolve_in_root

from .conftest import CC, compile_so

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc) on PATH")


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    """An image whose links all point outside it, and a working directory full of decoys."""
    base = tmp_path_factory.mktemp("image")
    root = base / "root"
    build = base / "build"
    build.mkdir()
    (root / "app").mkdir(parents=True)
    (root / "reldir").mkdir()
    (root / "sub").mkdir()
    reldep = compile_so(build / "libreldep.so", "int reldep(void) { return 1; }\n", "-Wl,-soname,libreldep.so")
    (build / "sub").mkdir()
    rel = compile_so(build / "sub" / "librel.so", "int relfn(void) { return 2; }\n")  # no soname: named by path
    (build / "main.c").write_text("int reldep(void); int relfn(void);\nint entry(void) { return reldep() + relfn(); }\n")
    # linked from build/, so that DT_NEEDED records the relative name "sub/librel.so"
    subprocess.run([CC, "-shared", "-fPIC", "-o", "libmain.so", "main.c", "-Wl,--no-as-needed", "-L.", "-lreldep",
                    "sub/librel.so", "-Wl,--enable-new-dtags", "-Wl,-rpath,reldir:.:"],
                   cwd=build, check=True, capture_output=True)
    main = build / "libmain.so"
    shutil.copy(main, root / "app" / "libmain.so")
    shutil.copy(reldep, root / "reldir" / "libreldep.so")
    shutil.copy(rel, root / "sub" / "librel.so")
    # links that lead onto this machine if followed naively
    (root / "hostlib").symlink_to("/usr/lib")
    (root / "app" / "up").symlink_to("../../../../../../..")
    (root / "lib64").symlink_to("/lib64")
    (root / "etc").mkdir()
    (root / "etc" / "ld.so.cache").symlink_to("/etc/ld.so.cache")
    decoys = base / "cwd"
    (decoys / "reldir").mkdir(parents=True)
    (decoys / "sub").mkdir()
    # decoys define nothing the object uses: found instead of the image's, they would read as unused
    decoy = compile_so(build / "decoy.so", "int decoy(void) { return 0; }\n", "-Wl,-soname,libreldep.so")
    for where in (decoys / "reldir" / "libreldep.so", decoys / "sub" / "librel.so", decoys / "libreldep.so"):
        shutil.copy(decoy, where)
    return base


def _recorded_opens(fn) -> list[str]:
    """Every path opened (builtins.open, os.open, io.open_code ...) while ``fn`` runs in this process."""
    seen: list[str] = []
    active = [True]

    def hook(event: str, args: tuple) -> None:
        if active[0] and event in ("open", "os.scandir", "os.listdir") and args and args[0] is not None:
            target = args[0]
            if isinstance(target, int):
                return
            seen.append(os.fsdecode(target))

    sys.addaudithook(hook)  # hooks cannot be removed: deactivate it afterwards
    try:
        fn()
    finally:
        active[0] = False
    return seen


def _outside(paths: list[str], root: Path) -> list[str]:
    """Paths not inside ``root``, leaving out the run's own (empty) wheel work directory."""
    import tempfile

    prefix = str(root) + os.sep
    work = os.path.join(tempfile.gettempdir(), "linkaudit-")
    return [p for p in paths if not (os.path.abspath(p) + os.sep).startswith(prefix) and not p.startswith(work)]


def test_relative_runpath_and_needed_resolve_from_the_images_root(image, monkeypatch):
    root = image / "root"
    monkeypatch.chdir(image / "cwd")  # decoys with the same relative names
    report = audit([str(root / "app" / "libmain.so")], AuditOptions(env=default_env(root=str(root)), jobs=1))
    assert not report.errors, report.errors
    needed = {n.name: n for n in report.objects[0].needed}
    assert str(needed["libreldep.so"].path) == "reldir/libreldep.so"  # as ld.so names it: relative to the cwd
    assert needed["libreldep.so"].found_via is FoundVia.RUNPATH
    assert needed["libreldep.so"].status is Status.USED
    assert str(needed["sub/librel.so"].path) == "sub/librel.so"
    assert needed["sub/librel.so"].status is Status.USED


def test_no_file_outside_the_root_is_opened(image, monkeypatch):
    root = image / "root"
    monkeypatch.chdir(image / "cwd")
    options = AuditOptions(env=default_env(root=str(root)), jobs=1)
    audit([str(root)], options)  # warm up: lazy imports happen outside the recording
    opened = _recorded_opens(lambda: audit([str(root)], options))
    assert any(p.endswith("libmain.so") for p in opened)
    assert _outside(opened, root) == [], "host files opened during a --root audit"


def test_walk_follows_links_inside_the_image(image):
    root = image / "root"
    report = audit([str(root)], AuditOptions(env=default_env(root=str(root)), jobs=1))
    # hostlib -> /usr/lib and app/up -> ../.. resolve inside the image: nothing from this machine
    assert {Path(o.path).name for o in report.objects} == {"libmain.so", "libreldep.so", "librel.so"}


def _strace_opens(root: Path, cwd: Path, log: Path) -> set[str]:
    """Files the CLI process opened (successfully) while auditing ``root`` with ``--root root``."""
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run(["strace", "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", str(log),
                           sys.executable, "-m", "linkaudit", "--format", "json", "-j1", "--root", str(root), str(root)],
                          cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(repo)})
    if proc.returncode not in (0, 1, 2) and ("PTRACE" in proc.stderr or "not permitted" in proc.stderr):
        pytest.skip("ptrace is not permitted here")
    assert proc.returncode in (0, 1, 2) and "Traceback" not in proc.stderr, proc.stderr  # app/up loops to the root
    opened = set()
    for line in log.read_text(errors="replace").splitlines():
        if '"' in line and "= -1" not in line:
            opened.add(os.path.realpath(os.path.join(cwd, line.split('"')[1])))
    return opened


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_cli_opens_no_host_file_under_root(image, tmp_path):
    """The whole CLI process under strace, compared with a control run on an image of one trivial object.

    Whatever the interpreter opens for itself (modules, the shared libraries of
    its extension modules, locale files) shows up in both runs; the real image
    must add nothing outside the root.
    """
    root = image / "root"
    control = tmp_path / "control"
    (control / "app").mkdir(parents=True)
    shutil.copy(root / "reldir" / "libreldep.so", control / "app" / "libmain.so")
    baseline = {p for p in _strace_opens(control, image / "cwd", tmp_path / "control.log")
                if not p.startswith(str(control) + os.sep)}
    opened = _strace_opens(root, image / "cwd", tmp_path / "image.log")
    assert any(p.endswith("libmain.so") for p in opened)
    tmp = os.path.realpath(__import__("tempfile").gettempdir())
    work = os.path.join(tmp, "linkaudit-")  # the wheel work directory, and tempfile's probe of TMPDIR
    extra = sorted(p for p in opened - baseline if not p.startswith(str(root) + os.sep) and p != str(root)
                   and not p.startswith(work) and os.path.dirname(p) != tmp)
    assert extra == [], "host files opened during a --root audit"


def test_resolve_in_root_clamps_and_reroots(tmp_path):
    root = tmp_path / "r"
    (root / "a").mkdir(parents=True)
    (root / "a" / "abs").symlink_to("/etc")
    (root / "a" / "up").symlink_to("../../../../..")
    (root / "loop").symlink_to("loop")
    assert resolve_in_root(str(root), "/a/abs/passwd") == str(root / "etc" / "passwd")
    assert resolve_in_root(str(root), "/a/up/etc/passwd") == str(root / "etc" / "passwd")
    assert resolve_in_root(str(root), "../../x") == str(root / "x")
    assert resolve_in_root(str(root), "reldir/lib.so") == str(root / "reldir" / "lib.so")
    assert resolve_in_root(str(root), "/loop/x").startswith(str(root) + "/")
    image = Sysroot(str(root))
    assert image.guest(str(root / "a" / "x")) == "/a/x"
    assert image.guest("/elsewhere") == "/elsewhere"
    assert image.inside(str(root / "a" / "abs")) == str(root / "etc")
