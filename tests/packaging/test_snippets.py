"""The README's adoption snippets work as printed: install line, GitHub Actions steps, pre-commit hook.

What cannot run here (checkout, setup-python, installing from the repository URL) is checked
for shape; every ``linkaudit`` step of the workflow is run as printed against this
repository's demo build, and the pre-commit hook is installed from a commit of this repository and
run by pre-commit itself, as ``pre-commit try-repo`` would.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text("utf-8")
INSTALL = 'pip install "linkaudit-elf @ git+https://github.com/OWNER/linkaudit@COMMIT_SHA"'


def _blocks(lang: str | None = None) -> list[str]:
    return [m.group(2) for m in re.finditer(r"^```(\w*)\n(.*?)^```", README, re.S | re.M)
            if lang is None or m.group(1) == lang]


def _section_block(heading: str, lang: str) -> str:
    start = README.index(heading)
    match = re.search(rf"^```{lang}\n(.*?)^```", README[start:], re.S | re.M)
    assert match, heading
    return match.group(1)


def _yaml():
    return pytest.importorskip("yaml", reason="PyYAML (a pre-commit dependency) reads the snippets")


def test_no_snippet_installs_the_unrelated_linkaudit() -> None:
    """`pip install linkaudit` installs a markdown link checker: no snippet may say it."""
    seen = 0
    for block in _blocks():
        for line in block.splitlines():
            if "pip install" not in line:
                continue
            for command in re.split(r"&&|\|\||;|\|", line.split("#", 1)[0].replace("run:", "")):
                words = shlex.split(command)
                if words[:2] != ["pip", "install"]:
                    continue
                seen += 1
                assert not any(re.fullmatch(r"linkaudit([=<>~!].*)?", w) for w in words[2:]), line
    assert seen >= 3
    assert INSTALL in README


def test_github_actions_install_and_steps() -> None:
    yaml = _yaml()
    workflow = yaml.safe_load(_section_block("#### GitHub Actions", "yaml"))
    steps = workflow["jobs"]["linkaudit"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert INSTALL.replace("pip install ", "pip install ", 1) in runs
    assert any("--no-build-isolation ./demo" in r for r in runs)
    assert not any("|| true" in r for r in runs), "|| true hides a broken run (exit 2)"
    upload = [s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif")]
    assert upload and upload[0]["with"]["sarif_file"] == "linkaudit.sarif"


def _demo_built() -> bool:
    return any((REPO / "demo" / "build").glob("lib.*/pybind_torch/_C*.so"))


@pytest.mark.requires_torch
def test_github_actions_linkaudit_steps_run_as_printed(tmp_path: Path) -> None:
    if not _demo_built():
        pytest.skip("the greet demo is not built: pip install --no-build-isolation ./demo")
    yaml = _yaml()
    steps = yaml.safe_load(_section_block("#### GitHub Actions", "yaml"))["jobs"]["linkaudit"]["steps"]
    commands = [s["run"] for s in steps if s.get("run", "").lstrip().startswith("linkaudit ")]
    assert len(commands) == 2
    (tmp_path / "demo").symlink_to(REPO / "demo")  # the job's working directory: a checkout
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    prologue = f'linkaudit() {{ {shlex.quote(sys.executable)} -m linkaudit "$@"; }}\n'
    for command in commands:
        proc = subprocess.run(["bash", "-e", "-c", prologue + command], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
    sarif = json.loads((tmp_path / "linkaudit.sarif").read_text("utf-8"))
    schema = json.loads((REPO / "tests" / "schemas" / "sarif-schema-2.1.0.json").read_text("utf-8"))
    jsonschema.Draft4Validator(schema).validate(sarif)
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == {"LA002-incidental"}


@pytest.mark.requires_torch
def test_sarif_step_fails_on_a_broken_run(tmp_path: Path) -> None:
    """The SARIF step lets findings (exit 1) through but not a run that could not do its job (exit 2)."""
    yaml = _yaml()
    steps = yaml.safe_load(_section_block("#### GitHub Actions", "yaml"))["jobs"]["linkaudit"]["steps"]
    (command,) = [s["run"] for s in steps if "--format sarif" in s.get("run", "")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    prologue = f'linkaudit() {{ {shlex.quote(sys.executable)} -m linkaudit "$@"; }}\n'
    (tmp_path / "demo" / "build").mkdir(parents=True)  # a build that produced nothing
    proc = subprocess.run(["bash", "-e", "-c", prologue + command], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "no ELF object found" in proc.stderr


# -- pre-commit -------------------------------------------------------------------------------------------------


def test_pre_commit_snippet_pins_a_revision_that_can_exist() -> None:
    yaml = _yaml()
    config = yaml.safe_load(_section_block("#### pre-commit", "yaml"))
    (repo,) = config["repos"]
    assert repo["rev"] == "COMMIT_SHA", "this repository has no tags: the snippet must pin a commit"
    manifest = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text("utf-8"))
    assert [h["id"] for h in repo["hooks"]] == [manifest[0]["id"]] == ["linkaudit"]


def _pre_commit() -> str:
    exe = shutil.which("pre-commit") or str(Path(sys.executable).with_name("pre-commit"))
    if not Path(exe).exists():
        pytest.skip("pre-commit is not installed (pip install pre-commit)")
    return exe


def test_pre_commit_manifest_is_valid() -> None:
    proc = subprocess.run([_pre_commit(), "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _this_commit(tmp: Path, env: dict[str, str]) -> tuple[str, str]:
    """(repository, rev) for pre-commit, as ``pre-commit try-repo`` picks them: HEAD of this checkout, or,
    when tracked files have uncommitted changes, a commit of them in a clone (this checkout is left alone)."""
    def git(*args: str, cwd: Path = REPO, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=cwd,
                              env=env, check=True, capture_output=True, **kw)

    head = git("rev-parse", "HEAD", text=True).stdout.strip()
    changes = git("diff", "--binary", "HEAD").stdout
    if not changes:
        return str(REPO), head
    shadow = tmp / "shadow-repo"
    git("clone", "-q", str(REPO), str(shadow))
    git("checkout", "-q", head, cwd=shadow)
    git("apply", "--index", cwd=shadow, input=changes)
    git("commit", "-q", "-m", "uncommitted changes", cwd=shadow)
    return str(shadow), git("rev-parse", "HEAD", cwd=shadow, text=True).stdout.strip()


@pytest.mark.slow
def test_pre_commit_hook_runs_from_this_repository(tmp_path: Path, build_so) -> None:
    """The hook as users get it: pre-commit clones this repository at a commit, pip-installs it and runs it.

    One install serves a clean and a dirty set of files: the config names the hook twice (what
    ``pre-commit try-repo`` writes, once per set; each try-repo call would install it again).
    """
    exe = _pre_commit()
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: pre-commit needs one")
    project = tmp_path / "project"
    project.mkdir()
    build_so("libused.so", "used.c", out_dir=project)
    build_so("libunused.so", "unused.c", out_dir=project)
    build_so("libclean.so", "int used_fn(void);\nint f(void) { return used_fn(); }", out_dir=project,
             libs=["used"], lib_dirs=[project], runpath=["$ORIGIN"])
    build_so("libdirty.so", "int used_fn(void);\nint f(void) { return used_fn(); }", out_dir=project,
             libs=["used", "unused"], lib_dirs=[project], runpath=["$ORIGIN"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    repo, rev = _this_commit(tmp_path, env)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", "."], cwd=project, check=True, env=env)
    subprocess.run([*git, "add", "."], cwd=project, check=True, env=env)
    # Only `exclude` is set per entry: the manifest's own `files` and `types` still choose the files.
    config = tmp_path / "pre-commit-config.yaml"
    config.write_text(json.dumps({"repos": [{"repo": repo, "rev": rev, "hooks": [
        {"id": "linkaudit", "exclude": r"^libdirty\.so$"},
        {"id": "linkaudit", "exclude": r"^lib(clean|used)\.so$"},
    ]}]}))  # JSON is YAML
    proc = subprocess.run([exe, "run", "--config", str(config), "--files", "libclean.so", "libused.so",
                           "libdirty.so"], cwd=project, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    statuses = re.findall(r"^linkaudit \(unused shared-library dependencies\)\.+(\w+)$", proc.stdout, re.M)
    assert statuses == ["Passed", "Failed"], out  # the clean set passes, the dirty set fails
    assert proc.returncode == 1, out
    dirty = proc.stdout.split("Failed", 1)[1]
    assert "libdirty.so" in dirty and "libunused.so" in dirty and "unused" in dirty, out
    assert "libclean.so" not in dirty, out
