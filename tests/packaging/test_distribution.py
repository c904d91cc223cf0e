"""The auditor installs on its own: its own name, pure Python, no torch; the demo is a separate distribution.

The wheel tests build the repository root exactly as ``pip install .`` would (setuptools
backend, no build isolation so it runs offline) and read the wheel they get: once with a
compiler that always fails (``CC=false``, a machine without one), where the build must still
succeed and the tool run as pure Python, and once as this machine builds it, where the only
addition may be the optional compiled twin of ``linkaudit/bulk.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST_NAME = "linkaudit-elf"


def _pyproject(path: Path) -> dict:
    return tomllib.loads(path.read_text("utf-8"))


def test_distribution_name_is_not_the_unrelated_linkaudit() -> None:
    project = _pyproject(REPO / "pyproject.toml")["project"]
    assert project["name"] == DIST_NAME
    assert project["scripts"] == {"linkaudit": "linkaudit.__main__:console"}  # the command keeps its name; enters where sys.path is cleaned


def test_root_build_needs_neither_torch_nor_a_compiler() -> None:
    data = _pyproject(REPO / "pyproject.toml")
    assert not any("torch" in r for r in data["build-system"]["requires"])
    assert not any("torch" in r for r in data["project"]["dependencies"])
    assert not (REPO / "setup.py").exists(), "a root setup.py would be run by `pip install .`"
    assert data["tool"]["setuptools"]["packages"] and all(
        p.startswith("linkaudit") for p in data["tool"]["setuptools"]["packages"])


def test_demo_is_its_own_distribution_pinned_to_the_cpu_torch() -> None:
    demo = _pyproject(REPO / "demo" / "pyproject.toml")
    assert demo["project"]["name"] != DIST_NAME
    assert "torch==2.13.0" in demo["build-system"]["requires"]
    assert (REPO / "demo" / "setup.py").read_text("utf-8").count("CppExtension(") == 1


def test_the_compiled_extension_is_optional() -> None:
    """The one ext-module is optional: a failed compile is a warning and the wheel is pure Python."""
    data = _pyproject(REPO / "pyproject.toml")
    (ext,) = data["tool"]["setuptools"]["ext-modules"]
    assert ext["name"] == "linkaudit._speedups" and ext["optional"] is True
    assert ext["sources"] == ["linkaudit/_speedups.c"]


def _build_wheel(tmp_path: Path, out: str, env: dict[str, str] | None = None) -> Path:
    """The wheel `pip install .` would build (setuptools backend, no build isolation so it runs offline)."""
    src = tmp_path / "src"  # build from a copy: the check must not leave build/ or *.egg-info in the checkout
    if not src.exists():
        shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", "demo",
                                                                  ".pytest_cache", "tests", "*.so"))
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
                 "-w", str(tmp_path / out), str(src)]
    proc = subprocess.run(pip_wheel, capture_output=True, text=True, timeout=300, env=env)
    if proc.returncode != 0 and "No module named pip" in proc.stderr:
        pytest.skip("pip is not available in this interpreter")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shutil.rmtree(src / "build", ignore_errors=True)
    (wheel,) = (tmp_path / out).glob("*.whl")
    return wheel


def _check_wheel_contents(wheel: Path) -> list[str]:
    """Only the tool (its package, data and schemas), its three runtime dependencies; returns the names."""
    assert wheel.name.startswith("linkaudit_elf-"), wheel.name
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        (meta_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(zf.read(meta_name).decode("utf-8"))
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"linkaudit"}, tops
    assert "linkaudit/schemas/report.schema.json" in names and "linkaudit/data/categories.json" in names
    assert "linkaudit/bulk.py" in names and not [n for n in names if n.endswith(".c")]
    assert meta["Name"] == DIST_NAME
    requires = meta.get_all("Requires-Dist") or []
    runtime = [r for r in requires if "extra ==" not in r]
    assert not [r for r in requires if r.lower().startswith("torch")]
    assert sorted(r.split(">")[0].split("=")[0].strip() for r in runtime) == ["click", "pyelftools", "rich"]
    return names


def _run_from_wheel(wheel: Path, where: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m linkaudit ...`` (or ``-c``) with the unpacked wheel first on sys.path, not the checkout."""
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(where)
    env = {**os.environ, "PYTHONPATH": str(where)}
    env.pop("LINKAUDIT_PURE_PYTHON", None)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, env=env, cwd=where)


@pytest.mark.slow
def test_without_a_compiler_the_wheel_is_pure_python_and_runs(tmp_path: Path) -> None:
    """CC=false stands for a machine without a compiler: the build succeeds and the tool runs, pure."""
    wheel = _build_wheel(tmp_path, "nocc", env={**os.environ, "CC": "false", "LDSHARED": "false"})
    names = _check_wheel_contents(wheel)
    assert not [n for n in names if n.endswith(".so")], "no extension can have been compiled"
    probe = "import linkaudit.accel as a; print(a.COMPILED, a.__file__)"
    out = _run_from_wheel(wheel, tmp_path / "site", "-c", probe)
    assert out.returncode == 0, out.stderr
    compiled, where = out.stdout.split()
    assert compiled == "False" and where.startswith(str(tmp_path / "site"))
    target = Path(sys.executable).resolve()  # any dynamic ELF file will do: the interpreter itself
    run = _run_from_wheel(wheel, tmp_path / "site", "-m", "linkaudit", "--format", "json", str(target))
    assert run.returncode in (0, 1), run.stderr
    assert json.loads(run.stdout)["objects"][0]["path"] == str(target)


@pytest.mark.slow
def test_wheel_holds_only_the_tool_and_its_optional_extension(tmp_path: Path) -> None:
    """With a compiler (the default build here), the wheel adds exactly the compiled twin of bulk.py."""
    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler here: the other wheel test covers this machine")
    wheel = _build_wheel(tmp_path, "cc")
    names = _check_wheel_contents(wheel)
    objects = [n for n in names if n.endswith(".so")]
    if not objects:
        pytest.skip("the extension did not compile here (no Python headers?); the tool is pure Python")
    (ext,) = objects
    assert ext.startswith("linkaudit/_speedups.")
    out = _run_from_wheel(wheel, tmp_path / "site", "-c", "import linkaudit.accel as a; print(a.COMPILED)")
    assert out.stdout.strip() == "True", out.stderr
