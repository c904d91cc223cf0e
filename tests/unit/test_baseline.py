"""Baselines: stable object keys, the file format, bad files, and the CLI round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linkaudit.baseline import Baseline, BaselineEntry, dumps, load_baseline, object_key, parse_baseline
from linkaudit.errors import ConfigError
from linkaudit.gate import GatePolicy, evaluate
from linkaudit.report import Category, FindingKind, FoundVia, NeededEntry, ObjectReport, Report, Status


def _report(*unused: str, path: str = "x.so", unresolved: tuple[str, ...] = ()) -> Report:
    needed = tuple(NeededEntry(n, None, FoundVia.CACHE, Status.UNUSED, Category.OTHER) for n in unused)
    return Report(objects=(ObjectReport(path, "x86_64", 64, None, needed, (), unresolved),))


def test_object_key(tmp_path: Path) -> None:
    build = tmp_path / "build" / "lib.linux-x86_64-cpython-311" / "pkg"
    build.mkdir(parents=True)
    obj = build / "_C.so"
    # relative to the input directory, setuptools build directories dropped
    assert object_key(str(obj), [str(tmp_path)]) == "pkg/_C.so"
    assert object_key(str(obj), [str(tmp_path / "build")]) == "pkg/_C.so"
    # a file named directly: its name
    assert object_key(str(obj), [str(obj)]) == "_C.so"
    assert object_key(str(obj)) == "_C.so"
    # the same tree elsewhere gives the same key
    other = tmp_path / "other-checkout"
    (other / "build" / "lib.linux-x86_64-cpython-312" / "pkg").mkdir(parents=True)
    assert object_key(str(other / "build" / "lib.linux-x86_64-cpython-312" / "pkg" / "_C.so"), [str(other)]) == "pkg/_C.so"


@pytest.mark.parametrize(("name", "key"), [
    ("m.cpython-311-x86_64-linux-gnu.so", "m.so"),
    ("m.cpython-312-x86_64-linux-gnu.so", "m.so"),
    ("m.cpython-313t-x86_64-linux-gnu.so", "m.so"),
    ("m.abi3.so", "m.so"),
    ("m.pypy310-pp73-x86_64-linux-gnu.so", "m.so"),
    ("libfoo.so.1", "libfoo.so.1"),  # not an extension: unchanged
    ("libcpython-helper.so", "libcpython-helper.so"),
])
def test_object_key_drops_the_abi_tag(tmp_path: Path, name: str, key: str) -> None:
    """A baseline written for CPython 3.11 matches the same extension rebuilt for 3.12 (issue: it did not)."""
    pkg = tmp_path / "build" / "lib.linux-x86_64-cpython-311" / "pkg"
    pkg.mkdir(parents=True)
    assert object_key(str(pkg / name), [str(tmp_path / "build")]) == f"pkg/{key}"
    assert object_key(str(pkg / name)) == key


def test_build_directories_of_other_backends_are_dropped(tmp_path: Path) -> None:
    tree = tmp_path / "_skbuild" / "linux-x86_64-3.11" / "cmake-build" / "pkg"
    tree.mkdir(parents=True)
    assert object_key(str(tree / "libx.so"), [str(tmp_path)]) == "pkg/libx.so"
    kept = tmp_path / "zlib-ng-2.1"  # a directory that only looks versioned stays in the key
    kept.mkdir()
    assert object_key(str(kept / "libz.so"), [str(tmp_path)]) == "zlib-ng-2.1/libz.so"


def test_keys_of_older_baselines_are_normalised_when_read() -> None:
    old = {"schema": 1, "findings": [{"object": "pkg/m.cpython-311-x86_64-linux-gnu.so", "kind": "unused",
                                      "library": "libz.so.1"}]}
    baseline = parse_baseline(old)
    assert baseline.entries == frozenset({BaselineEntry("pkg/m.so", FindingKind.UNUSED, "libz.so.1")})


def test_dumps_shape() -> None:
    report = _report("libz.so.1", "libtorch.so", unresolved=("_Z3foov",), path="a/x.so")
    assert json.loads(dumps(report)) == {
        "schema": 1,
        "findings": [  # sorted by (object, kind, library)
            {"object": "x.so", "kind": "unresolved", "library": "_Z3foov"},
            {"object": "x.so", "kind": "unused", "library": "libtorch.so"},
            {"object": "x.so", "kind": "unused", "library": "libz.so.1"},
        ],
    }


def test_round_trip_and_gate(tmp_path: Path) -> None:
    file = tmp_path / "baseline.json"
    file.write_text(dumps(_report("libz.so.1")))
    baseline = load_baseline(file)
    assert baseline == Baseline(frozenset({BaselineEntry("x.so", FindingKind.UNUSED, "libz.so.1")}))
    today = _report("libz.so.1", "libnew.so")
    policy = GatePolicy(frozenset({FindingKind.UNUSED}), baseline=baseline)
    (new,) = evaluate(today, policy).gate.failing
    assert (new.object, new.kind, new.name) == ("x.so", FindingKind.UNUSED, "libnew.so")
    (old,) = [f for f in evaluate(today, policy).gate.findings if f.name == "libz.so.1"]
    assert old.baselined and not old.fails
    assert baseline.fixed(today) == []
    assert baseline.fixed(_report()) == [BaselineEntry("x.so", FindingKind.UNUSED, "libz.so.1")]


@pytest.mark.parametrize("text", [
    "not json",
    "[]",
    '{"schema": 2, "findings": []}',
    '{"schema": 1}',
    '{"schema": 1, "findings": {}}',
    '{"schema": 1, "findings": [{"object": "x.so", "kind": "unused"}]}',
    '{"schema": 1, "findings": [{"object": "x.so", "kind": "bogus", "library": "l"}]}',
    '{"schema": 1, "findings": [{"object": "x.so", "kind": "unused", "library": 3}]}',
    '{"schema": 1, "findings": [], "extra": 1}',
])
def test_bad_baseline(text: str, tmp_path: Path) -> None:
    file = tmp_path / "b.json"
    file.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_baseline(file)
    assert str(file) in info.value.message
    assert "\n" not in info.value.message


def test_missing_baseline(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_baseline(tmp_path / "nope.json")


def test_parse_empty() -> None:
    assert parse_baseline({"schema": 1, "findings": []}) == Baseline(frozenset())


# -- the CLI ------------------------------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path, build_so, monkeypatch: pytest.MonkeyPatch) -> Path:
    """proj/build/lib.linux/libbtarget.so needs libbused.so (used) and libbold.so (unused)."""
    lib = tmp_path / "proj" / "build" / "lib.linux"
    build_so("libbused.so", "int used_fn(void) { return 1; }", out_dir=lib)
    build_so("libbold.so", "int old_fn(void) { return 2; }", out_dir=lib)
    build_so("libbnew.so", "int new_fn(void) { return 3; }", out_dir=lib)
    build_so("libbtarget.so", "int used_fn(void);\nint f(void) { return used_fn(); }", out_dir=lib,
             libs=["bused", "bold"], lib_dirs=[lib], runpath=["$ORIGIN"])
    monkeypatch.chdir(tmp_path)
    return tmp_path / "proj"


@pytest.mark.requires_cc
def test_cli_baseline_round_trip(tree: Path, build_so, run_cli, tmp_path: Path) -> None:
    base = tmp_path / "baseline.json"
    target = "proj/build/lib.linux/libbtarget.so"
    assert run_cli([target]).exit_code == 1
    result = run_cli(["--write-baseline", str(base), target])
    assert result.exit_code == 0, result.stderr  # the run passes the gate it just recorded
    assert json.loads(base.read_text()) == {
        "schema": 1, "findings": [{"object": "libbtarget.so", "kind": "unused", "library": "libbold.so"}]}
    assert run_cli(["--baseline", str(base), target]).exit_code == 0

    # relink with a new unused library: only the new one fails
    lib = tree / "build" / "lib.linux"
    build_so("libbtarget.so", "int used_fn(void);\nint f(void) { return used_fn(); }", out_dir=lib,
             libs=["bused", "bold", "bnew"], lib_dirs=[lib], runpath=["$ORIGIN"])
    result = run_cli(["--baseline", str(base), "--format", "github", target])
    assert result.exit_code == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "libbnew.so" in errors[0]
    assert any(line.startswith("::notice") and "libbold.so" in line for line in result.stdout.splitlines())

    # relink without the old one: the baseline entry is reported as fixed
    build_so("libbtarget.so", "int used_fn(void);\nint f(void) { return used_fn(); }", out_dir=lib,
             libs=["bused"], lib_dirs=[lib], runpath=["$ORIGIN"])
    result = run_cli(["--baseline", str(base), target])
    assert result.exit_code == 0
    assert "fixed" in result.stderr and "libbold.so" in result.stderr


@pytest.mark.requires_cc
def test_cli_baseline_keys_relative_to_directory_input(tree: Path, run_cli, tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    assert run_cli(["--write-baseline", str(base), "proj"]).exit_code == 0
    objects = {f["object"] for f in json.loads(base.read_text())["findings"]}
    assert objects == {"libbtarget.so"}  # build/ and lib.linux/ dropped


@pytest.mark.requires_cc
def test_cli_baseline_holds_across_directory_and_file_runs(build_so, run_cli, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A baseline written with `linkaudit proj` holds when the hook names the files, and back; not for another package."""
    pkg = tmp_path / "proj" / "build" / "lib.linux-x86_64-cpython-311" / "pkg"
    other = tmp_path / "proj" / "build" / "lib.linux-x86_64-cpython-311" / "other"
    for where in (pkg, other):
        build_so("libbused.so", "int used_fn(void) { return 1; }", out_dir=where)
        build_so("libbold.so", "int old_fn(void) { return 2; }", out_dir=where)
        build_so("libbtarget.so", "int used_fn(void);\nint f(void) { return used_fn(); }", out_dir=where,
                 libs=["bused", "bold"], lib_dirs=[where], runpath=["$ORIGIN"])
    monkeypatch.chdir(tmp_path)
    mine = str((pkg / "libbtarget.so").relative_to(tmp_path))
    theirs = str((other / "libbtarget.so").relative_to(tmp_path))

    from_dir = tmp_path / "dir.json"
    assert run_cli(["--write-baseline", str(from_dir), str(pkg.relative_to(tmp_path).parent)]).exit_code == 0
    full = json.loads(from_dir.read_text())["findings"]
    keep = [f for f in full if f["object"] == "pkg/libbtarget.so"]
    assert keep, full
    from_dir.write_text(json.dumps({"schema": 1, "findings": keep}))
    assert run_cli(["--baseline", str(from_dir), mine]).exit_code == 0  # the file, named: still baselined
    assert run_cli(["--baseline", str(from_dir), theirs]).exit_code == 1  # same name, another package
    result = run_cli(["--baseline", str(from_dir), mine])
    assert "fixed" not in result.stderr

    from_file = tmp_path / "file.json"
    assert run_cli(["--write-baseline", str(from_file), mine]).exit_code == 0
    assert {f["object"] for f in json.loads(from_file.read_text())["findings"]} == {"libbtarget.so"}
    assert run_cli(["--baseline", str(from_file), str(pkg)]).exit_code == 0  # a directory run, key pkg/...
    result = run_cli(["--baseline", str(from_file), str(pkg)])
    assert "fixed" not in result.stderr


@pytest.mark.requires_cc
def test_cli_bad_baseline_exit_2(tree: Path, run_cli, tmp_path: Path) -> None:
    base = tmp_path / "bad.json"
    base.write_text("{not json")
    result = run_cli(["--baseline", str(base), "proj"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not valid JSON" in result.stderr
