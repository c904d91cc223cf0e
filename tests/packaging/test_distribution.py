"""The auditor installs on its own: its own name, pure Python, no torch; the demo is a separate distribution.

The wheel test builds the repository root exactly as ``pip install .`` would (setuptools
backend, no build isolation so it runs offline) and reads the wheel it gets.
"""

from __future__ import annotations

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
    assert project["scripts"] == {"linkaudit": "linkaudit.__main__:main"}  # the command keeps its name; enters where sys.path is cleaned


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


@pytest.mark.slow
def test_wheel_is_pure_python_with_only_the_tool(tmp_path: Path) -> None:
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
                 "-w", str(tmp_path / "dist"), str(REPO)]
    src = tmp_path / "src"  # build from a copy: the check must not leave build/ or *.egg-info in the checkout
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", "demo",
                                                              ".pytest_cache", "tests"))
    pip_wheel[-1] = str(src)
    proc = subprocess.run(pip_wheel, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and "No module named pip" in proc.stderr:
        pytest.skip("pip is not available in this interpreter")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert wheel.name.startswith("linkaudit_elf-") and wheel.name.endswith("-py3-none-any.whl"), wheel.name
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        (meta_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(zf.read(meta_name).decode("utf-8"))
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"linkaudit"}, tops
    assert not [n for n in names if n.endswith(".so")]
    assert "linkaudit/schemas/report.schema.json" in names and "linkaudit/data/categories.json" in names
    assert meta["Name"] == DIST_NAME
    requires = meta.get_all("Requires-Dist") or []
    runtime = [r for r in requires if "extra ==" not in r]
    assert not [r for r in requires if r.lower().startswith("torch")]
    assert sorted(r.split(">")[0].split("=")[0].strip() for r in runtime) == ["click", "pyelftools", "rich"]
