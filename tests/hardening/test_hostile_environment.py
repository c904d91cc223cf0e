"""Hostile environments, generated: config and baseline contents, file names, and inputs that change
between the moment they are listed and the moment they are audited.

The properties: exit 0, 1 or 2, never a traceback; every error is one line
naming its input; within a time bound.  Budget as in test_fuzz
(``LINKAUDIT_FUZZ_EXAMPLES`` raises it).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkaudit.formats import OutputFormat
from linkaudit.inputs import collect
from linkaudit.loader import LoaderEnv
from linkaudit.objectaudit import audit_one
from linkaudit.parallel import run
from linkaudit.report import ErrorEntry

from .conftest import examples, timeout

GOOD = Path(sys.executable).resolve()
FUZZ = settings(max_examples=examples(40), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _one_line_errors(result, named: str) -> None:
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("linkaudit: error:")]
    if result.exit_code == 2:
        assert len(errors) == 1 and named in errors[0], lines
    assert all(line.startswith("linkaudit: ") for line in lines), lines  # nothing but our own lines


# -- config and baseline contents ---------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30)
toml_like = st.lists(st.sampled_from(
    ["[tool.linkaudit]", "[[tool.linkaudit.allow]]", "fail-on = [\"unused\"]", "fail-on = 3", "exclude = [",
     "search-path = [\"a\", 1]", "library = \"lib*\"", "reason = \"r\"", "x = " + "9" * 5000, "a = " + "[" * 3000,
     "\"\\ud800\" = 1", "allow = {}", "[tool]", "linkaudit = 1", "\x00", "\xff", "key = 'v'", "= =", "[[a]]"]),
    max_size=8).map("\n".join)


@FUZZ
@given(content=st.binary(max_size=3000) | toml_like.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_hostile_config_content(run_cli, content):
    with tempfile.TemporaryDirectory() as d:
        conf = Path(d) / "linkaudit.toml"
        conf.write_bytes(content)
        with timeout(10):
            result = run_cli(["--config", str(conf), "-j1", "--format", "json", str(GOOD)])
        _one_line_errors(result, str(conf))
        json.loads(result.stdout)  # a report, or the error in the contract's shape


@FUZZ
@given(doc=json_values | st.fixed_dictionaries({"schema": st.just(1), "findings": st.lists(json_values, max_size=4)}),
       mangle=st.sampled_from(["none", "nest", "digits", "latin1", "truncate"]))
def test_hostile_baseline_content(run_cli, doc, mangle):
    text = json.dumps(doc).encode()
    text = {"none": text, "nest": b"[" * 50_000 + text + b"]" * 50_000, "digits": text.replace(b"1", b"1" * 5000, 1),
            "latin1": text + b"\xe9", "truncate": text[: len(text) // 2]}[mangle]
    with tempfile.TemporaryDirectory() as d:
        base = Path(d) / "baseline.json"
        base.write_bytes(text)
        with timeout(10):
            result = run_cli(["--baseline", str(base), "-j1", str(GOOD)])
        _one_line_errors(result, str(base))


# -- file names ---------------------------------------------------------------------------------

names = st.binary(min_size=1, max_size=30).filter(lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b".."))


@FUZZ
@given(name=names, fmt=st.sampled_from([f.value for f in OutputFormat]))
def test_any_file_name_in_any_format(run_cli, name, fmt):
    with tempfile.TemporaryDirectory() as d:
        base = os.fsencode(d)
        with open(os.path.join(base, b"bad-" + name), "wb") as fh:
            fh.write(b"not an object")
        shutil.copy(GOOD, os.path.join(base, b"ok-" + name))
        bad = os.fsdecode(os.path.join(base, b"bad-" + name))
        ok = os.fsdecode(os.path.join(base, b"ok-" + name))
        with timeout(20):
            result = run_cli(["--format", fmt, "-j1", bad, ok])
        assert result.exit_code == 2, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("linkaudit: error:")]
        assert len(errors) == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert all(ch.isprintable() for ch in errors[0]), errors[0]
        result.stdout.encode("utf-8")  # writable to any UTF-8 stream
        if fmt in ("json", "sarif"):
            json.loads(result.stdout)


# -- inputs that change after they are listed ---------------------------------------------------

CHANGES = ["delete", "fifo", "directory", "empty", "half", "text", "dangling-link", "self-link", "chmod-000"]


@pytest.fixture(scope="module")
def objects(tmp_path_factory, build_so) -> Path:
    d = tmp_path_factory.mktemp("changing")
    dep = build_so("libdep.so", "int dep(void) { return 1; }\n", out_dir=d)
    build_so("libmain.so", "int dep(void);\nint f(void) { return dep(); }\n", out_dir=d, libs=[dep],
             runpath=["$ORIGIN"])
    return d


def _change(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.unlink()
    if how == "fifo":
        os.mkfifo(path)
    elif how == "directory":
        path.mkdir()
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "half":
        path.write_bytes(data[: len(data) // 2])
    elif how == "text":
        path.write_text("INPUT(-lfoo)\n")  # a linker script where a library was
    elif how == "dangling-link":
        path.symlink_to(path.with_name("nowhere"))
    elif how == "self-link":
        path.symlink_to(path.name)
    elif how == "chmod-000":
        path.write_bytes(data)
        path.chmod(0)


@FUZZ
@given(main_change=st.sampled_from(["none", *CHANGES]), dep_change=st.sampled_from(["none", *CHANGES]),
       jobs=st.sampled_from([1, 2]))
def test_inputs_that_change_after_listing(objects, main_change, dep_change, jobs):
    with tempfile.TemporaryDirectory() as d:
        for name in ("libmain.so", "libdep.so"):
            shutil.copy(objects / name, Path(d) / name)
        env = LoaderEnv(python_package_rule=False)
        with collect([str(Path(d) / "libmain.so")]) as (targets, errors):
            assert len(targets) == 1
            for name, how in (("libmain.so", main_change), ("libdep.so", dep_change)):
                if how != "none":
                    _change(Path(d) / name, how)
            with timeout(30):
                outcomes = run(targets, audit_one, env, jobs)
        for p in Path(d).iterdir():
            if not p.is_symlink() and p.is_file():
                p.chmod(0o644)
    assert len(outcomes) == 1
    outcome = outcomes[0]
    if isinstance(outcome, ErrorEntry):
        assert "\n" not in outcome.message and "internal error" not in outcome.message, outcome.message
        assert main_change != "none"
    else:
        dep = {n.name: n for n in outcome.needed}["libdep.so"]
        if dep_change in ("delete", "fifo", "directory", "empty", "text", "dangling-link", "self-link"):
            assert dep.path is None, (dep_change, dep)  # not found (or the loader's own error), never a hang
        if dep_change == "none":
            assert dep.path is not None
