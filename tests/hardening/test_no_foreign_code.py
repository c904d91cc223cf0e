"""linkaudit runs nothing but itself: no subprocess in any format or in ``fix``, and nothing imported
from the working directory.

Before: the text report and ``--fix-suggestions`` ran ``/sbin/ldconfig -p``
(``ctypes.util.find_library`` inside the demangler), and ``python -m linkaudit``
imported ``typing.py`` from the working directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from linkaudit.formats import OutputFormat

pytestmark = pytest.mark.requires_cc

REPO = Path(__file__).resolve().parents[2]
CPP = """
#include <string>
#include <vector>
std::string joined(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += p;
    return out;
}
"""
SPAWN_EVENTS = ("subprocess.Popen", "os.system", "os.posix_spawn", "os.spawn", "os.exec", "os.fork",
                "os.forkpty", "ctypes.dlopen")


@pytest.fixture(scope="module")
def cxx_lib(build_so) -> Path:
    """A C++ library (mangled names to demangle) with an unused dependency (something to suggest and fix)."""
    if shutil.which("c++") is None and shutil.which("g++") is None:
        pytest.skip("no C++ compiler")
    return build_so("libcxxuser.so", CPP, libs=["m", "stdc++"], cxx=True)


_events: list[tuple[str, str]] = []
_recording = [False]


def _hook(event: str, args: tuple) -> None:
    if _recording[0] and event.startswith(SPAWN_EVENTS):
        _events.append((event, repr(args)[:200]))


sys.addaudithook(_hook)  # audit hooks cannot be removed; it records only while _recording is set


def _spawned(fn) -> list[tuple[str, str]]:
    _events.clear()
    _recording[0] = True
    try:
        fn()
    finally:
        _recording[0] = False
    # allowed: libstdc++ opened by its path for the demangler, and dlopen(NULL) (this process, for free())
    return [e for e in _events if not (e[0] == "ctypes.dlopen" and ("libstdc++" in e[1] or e[1] == "(None,)"))]


@pytest.mark.parametrize("fmt", [f.value for f in OutputFormat])
@pytest.mark.parametrize("suggestions", [False, True], ids=["plain", "fix-suggestions"])
def test_no_subprocess_in_any_format(run_cli, cxx_lib, fmt, suggestions):
    """The demangler's library is opened by its path (ctypes.dlopen of libstdc++ is allowed, nothing else)."""
    args = ["--format", fmt, "-j1", str(cxx_lib)] + (["--fix-suggestions"] if suggestions else [])
    results = []
    spawned = _spawned(lambda: results.append(run_cli(args)))
    assert results[0].exit_code in (0, 1), results[0].stderr
    assert spawned == []


def test_no_subprocess_in_fix(run_cli, cxx_lib, tmp_path):
    results = []
    spawned = _spawned(lambda: results.append(run_cli(["fix", str(cxx_lib), "-o", str(tmp_path / "out.so")])))
    assert results[0].exit_code == 0, results[0].stderr
    assert "libm.so.6" in results[0].stdout
    assert spawned == []


def test_text_report_demangles_without_ldconfig(run_cli, cxx_lib):
    from linkaudit.demangle import demangle, library_path

    assert demangle("_ZNSt6vectorIiSaIiEE9push_backERKi") == "std::vector<int, std::allocator<int> >::push_back(int const&)" \
        or library_path() is None
    assert demangle("not_mangled") == "not_mangled"
    assert demangle("_Zgarbage") == "_Zgarbage"


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
@pytest.mark.parametrize("args", [["--format", "text", "--fix-suggestions"], ["--format", "sarif"],
                                  ["--format", "github"], ["fix", "-o", "{out}"]], ids=["text", "sarif", "github", "fix"])
def test_strace_sees_one_execve(cxx_lib, tmp_path, args):
    """The whole process tree under strace: the interpreter's own execve, and nothing else."""
    log = tmp_path / "strace.log"
    argv = [a.replace("{out}", str(tmp_path / "out.so")) for a in args]
    argv = argv[:1] + [str(cxx_lib)] + argv[1:] if argv[0] == "fix" else argv + [str(cxx_lib)]
    proc = subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve,execveat", "-o", str(log),
                           sys.executable, "-m", "linkaudit", *argv],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if not log.exists() or "not permitted" in proc.stderr:
        pytest.skip("ptrace is not permitted here")
    assert proc.returncode in (0, 1), proc.stderr
    execs = [line for line in log.read_text().splitlines() if "execve" in line]
    assert len(execs) == 1, execs


# -- the working directory ------------------------------------------------------------------

# Modules a hostile directory might shadow.  Not listed: what ``python -m`` itself imports
# (runpy: importlib.util, contextlib, functools, collections, types, ...) before linkaudit's
# first line runs -- the README sends untrusted directories to the console script or ``python -P``.
SHADOWED = ("typing", "__future__", "click", "enum", "dataclasses", "struct", "mmap", "json", "tomllib",
            "zipfile", "tempfile", "shutil", "signal", "fcntl", "ctypes", "elftools", "rich", "secrets",
            "fnmatch", "pathlib", "stat", "errno", "textwrap", "linkaudit_probe")


def _plant(directory: Path, marker: Path, as_packages: bool = False) -> None:
    for name in SHADOWED:
        code = f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\n"
        if as_packages:
            (directory / name).mkdir()
            (directory / name / "__init__.py").write_text(code)
        else:
            (directory / f"{name}.py").write_text(code)


# what the console script's generated wrapper does (its sys.path[0] is its bin/, here it is '')
CONSOLE_SCRIPT = ["-c", "import sys; from linkaudit.__main__ import console; sys.exit(console())"]


@pytest.mark.parametrize("launcher", [["-m", "linkaudit"], CONSOLE_SCRIPT], ids=["python-m", "console-script"])
@pytest.mark.parametrize("as_packages", [False, True], ids=["modules", "packages"])
@pytest.mark.parametrize("command", [["--format", "text"], ["--format", "json"], ["fix", "-o", "{out}"]],
                         ids=["text", "json", "fix"])
def test_nothing_is_imported_from_the_working_directory(cxx_lib, tmp_path, as_packages, command, launcher):
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    marker = tmp_path / "imported.txt"
    _plant(hostile, marker, as_packages)
    target = hostile / "cv2.abi3.so"  # as in opencv's cv2/ directory: a module of the same name as the file
    shutil.copy(cxx_lib, target)
    argv = [a.replace("{out}", str(tmp_path / "out.so")) for a in command]
    argv = argv[:1] + [target.name] + argv[1:] if argv[0] == "fix" else argv + [target.name]
    proc = subprocess.run([sys.executable, *launcher, *argv], cwd=hostile, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode in (0, 1), proc.stderr
    assert not marker.exists(), f"imported from the working directory: {marker.read_text().split()}"


def test_running_from_the_checkout_still_works(tmp_path):
    """The one directory kept: linkaudit's own checkout, when the package is imported from there."""
    proc = subprocess.run([sys.executable, "-m", "linkaudit", "--version"], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert proc.returncode == 0, proc.stderr
    assert "linkaudit" in proc.stdout
