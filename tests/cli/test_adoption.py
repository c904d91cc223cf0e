"""What a CI maintainer trips on first: the command's shape, gates that cannot pass by accident, wording.

Each test names the defect it guards against (issue: "a tool people can install and adopt").
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from linkaudit.formats import OutputFormat

pytestmark = pytest.mark.requires_cc


# -- the command: auditing is the default, its options are the top-level ones -------------------------


def test_top_level_help_shows_the_audit_options(run_cli) -> None:
    result = run_cli(["--help"])
    assert result.exit_code == 0
    for option in ("--format", "--fail-on", "--allow-empty", "--baseline", "--write-baseline", "--config",
                   "--fix-suggestions", "--no-default-excludes", "--jobs", "--version"):
        assert option in result.stdout, option
    assert "CMakeFiles/" in result.stdout and "temp.*" in result.stdout  # the default excludes are said
    assert "fix" in result.stdout.split("Commands")[1]
    # every option whose help says FILE shows FILE as its value, not PATH
    for option in ("--output", "--config", "--baseline", "--write-baseline", "--cpuinfo"):
        assert f"{option} FILE" in result.stdout, option


def test_version(run_cli) -> None:
    from linkaudit import __version__

    result = run_cli(["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"linkaudit, version {__version__}"


@pytest.mark.parametrize("args", [[], ["--format", "nope", "x.so"], ["--bogus-flag", "x.so"],
                                  ["--fail-on", "unsued", "x.so"]])
def test_usage_errors_name_linkaudit_not_linkaudit_audit(run_cli, args: list[str]) -> None:
    result = run_cli(args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Usage: linkaudit [OPTIONS] [PATHS]..." in result.stderr
    assert "linkaudit audit" not in result.stderr


def test_fix_usage_is_its_own(run_cli) -> None:
    result = run_cli(["fix"])
    assert result.exit_code == 2
    assert "Usage: linkaudit fix [OPTIONS] FILE" in result.stderr


def test_invalid_fail_on_lists_the_valid_kinds(run_cli, objs) -> None:
    result = run_cli(["--fail-on=unsued", objs["clean"]])
    assert result.exit_code == 2
    assert "unknown finding kind 'unsued'; valid kinds: unused, incidental, missing, unresolved, rpath, unneeded-vendored, unloaded-vendored, none" in result.stderr


def test_invalid_config_fail_on_lists_the_valid_kinds(tmp_path: Path) -> None:
    from linkaudit.config import parse_config
    from linkaudit.errors import ConfigError

    with pytest.raises(ConfigError, match="valid kinds: unused, incidental, missing, unresolved, rpath, unneeded-vendored, unloaded-vendored, none"):
        parse_config({"fail-on": ["unsued"]})


# -- a gate that cannot pass by accident ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [f.value for f in OutputFormat])
def test_no_elf_object_is_exit_2_in_every_format(run_cli, tmp_path: Path, fmt: str) -> None:
    empty = tmp_path / "build"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("not ELF\n")
    result = run_cli(["--format", fmt, empty])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("linkaudit: error: no ELF object found under the inputs")
    assert "--allow-empty" in line
    assert run_cli(["--format", fmt, "--allow-empty", empty]).exit_code == 0


def test_no_elf_object_in_json_and_sarif(run_cli, tmp_path: Path) -> None:
    data = json.loads(run_cli(["--format", "json", tmp_path]).stdout)
    assert data["gate"]["no_objects"] is True and data["gate"]["exit_code"] == 2
    sarif = json.loads(run_cli(["--format", "sarif", tmp_path]).stdout)
    inv = sarif["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False and inv["exitCode"] == 2


def test_json_gate_matches_the_exit_code(run_cli, objs) -> None:
    result = run_cli(["--format", "json", objs["clean"], objs["unused"]])
    data = json.loads(result.stdout)
    assert result.exit_code == data["gate"]["exit_code"] == 1
    assert data["gate"]["failing"] == [{"object": str(objs["unused"]), "kind": "unused", "name": "libunused.so"}]
    (finding,) = data["objects"][1]["findings"]
    assert finding == {"kind": "unused", "name": "libunused.so", "gated": True, "fails": True, "allowed": None,
                       "baselined": False}


def test_build_scratch_directories_are_skipped_by_default(run_cli, objs, tmp_path: Path) -> None:
    """CMake's probe executables (CMakeFiles/) and setuptools' temp.* are noise, unless asked for."""
    tree = tmp_path / "build"
    for sub in ("lib.linux-x86_64-cpython-311/pkg", "CMakeFiles/3.25.1/CompilerIdC", "temp.linux-x86_64-cpython-311"):
        (tree / sub).mkdir(parents=True)
    shutil.copy(objs["libused"], tree / "lib.linux-x86_64-cpython-311" / "pkg" / "libused.so")
    shutil.copy(objs["clean"], tree / "CMakeFiles" / "3.25.1" / "CompilerIdC" / "a.out")
    shutil.copy(objs["libused"], tree / "temp.linux-x86_64-cpython-311" / "libscratch.so")

    def audited(*args) -> list[str]:
        result = run_cli(["--format", "json", "--fail-on", "none", *args])
        assert result.exit_code == 0, result.stderr
        return [Path(o["path"]).relative_to(tree).as_posix() for o in json.loads(result.stdout)["objects"]]

    assert audited(tree) == ["lib.linux-x86_64-cpython-311/pkg/libused.so"]
    assert sorted(audited("--no-default-excludes", tree)) == ["CMakeFiles/3.25.1/CompilerIdC/a.out",
                                                              "lib.linux-x86_64-cpython-311/pkg/libused.so",
                                                              "temp.linux-x86_64-cpython-311/libscratch.so"]
    # a scratch directory named on the command line is walked: only the walk skips them
    assert audited(tree / "temp.linux-x86_64-cpython-311") == ["temp.linux-x86_64-cpython-311/libscratch.so"]


# -- baselines survive another Python version -----------------------------------------------------------


def test_baseline_survives_a_rebuild_for_another_python(run_cli, objs, tmp_path: Path) -> None:
    def tree(tag: str) -> Path:
        root = tmp_path / tag / "build"
        pkg = root / f"lib.linux-x86_64-cpython-{tag}" / "pkg"
        pkg.mkdir(parents=True)
        shutil.copy(objs["libused"], pkg.parent.parent.parent / "libused.so")  # not under the input
        shutil.copy(objs["unused"], pkg / f"m.cpython-{tag}-x86_64-linux-gnu.so")
        shutil.copy(objs["libused"], pkg / "libused.so")
        shutil.copy(objs["libunused"], pkg / "libunused.so")
        return root

    base = tmp_path / "baseline.json"
    py311, py312 = tree("311"), tree("312")
    assert run_cli(["--write-baseline", base, py311]).exit_code == 0
    keys = {f["object"] for f in json.loads(base.read_text())["findings"]}
    assert keys == {"pkg/m.so"}, keys
    result = run_cli(["--baseline", base, py312])
    assert result.exit_code == 0, result.stderr
    assert "fixed since the baseline" not in result.stderr


# -- wording -------------------------------------------------------------------------------------------------


def test_one_failing_finding_is_singular(run_cli, objs, tmp_path: Path) -> None:
    result = run_cli([objs["unused"]])
    assert result.exit_code == 1
    assert "linkaudit: gate failed: 1 finding of kind unused" in result.stderr
    out = tmp_path / "r.json"
    result = run_cli(["--format", "json", "--output", out, objs["unused"]])
    assert result.exit_code == 1
    assert f"linkaudit: report written to {out} (json); 1 object audited, 1 failing finding\n" in result.stderr
    result = run_cli(["--format", "json", "--output", out, objs["unused"], objs["clean"]])
    assert "2 objects audited, 1 failing finding\n" in result.stderr
