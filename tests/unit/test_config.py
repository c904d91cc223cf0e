"""``[tool.linkaudit]``: parsing, validation errors naming the key, discovery, and the CLI wiring."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkaudit.config import AllowRule, Config, find_pyproject, is_excluded, load_config, parse_config
from linkaudit.errors import ConfigError
from linkaudit.gate import GatePolicy, evaluate
from linkaudit.report import Category, FindingKind, FoundVia, NeededEntry, ObjectReport, Report, Status


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


FULL = """
[project]
name = "x"

[tool.linkaudit]
fail-on = ["unused", "missing"]
exclude = ["build/temp.*"]
search-path = ["third_party/lib", "/abs/lib"]

[[tool.linkaudit.allow]]
library = "libtorch*.so"
object = "*/pybind_torch/_C*.so"
reason = "load-time op registration"

[[tool.linkaudit.allow]]
library = "libgomp.so.1"
reason = "comes with torch"
"""


def test_full_table(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path / "pyproject.toml", FULL))
    assert cfg == Config(
        fail_on=frozenset({FindingKind.UNUSED, FindingKind.MISSING}),
        allow=(AllowRule("libtorch*.so", "load-time op registration", "*/pybind_torch/_C*.so"),
               AllowRule("libgomp.so.1", "comes with torch")),
        exclude=("build/temp.*",),
        search_path=(str(tmp_path / "third_party/lib"), "/abs/lib"),  # relative to the config file
        source=tmp_path / "pyproject.toml",
    )


def test_config_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Config().exclude = ("x",)  # type: ignore[misc]


def test_empty_and_absent_mean_defaults(tmp_path: Path) -> None:
    assert parse_config({}) == Config()
    assert load_config(_write(tmp_path / "pyproject.toml", "[project]\nname='x'\n")) == Config(
        source=tmp_path / "pyproject.toml")


def test_standalone_file_uses_top_level(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path / "linkaudit.toml", 'fail-on = ["incidental"]\n'))
    assert cfg.fail_on == frozenset({FindingKind.INCIDENTAL})


def test_fail_on_none_is_empty(tmp_path: Path) -> None:
    assert parse_config({"fail-on": ["none"]}).fail_on == frozenset()


@pytest.mark.parametrize(("table", "key"), [
    ({"fail_on": ["unused"]}, "tool.linkaudit.fail_on"),  # underscore spelling is unknown
    ({"colour": True}, "tool.linkaudit.colour"),
    ({"fail-on": "unused"}, "tool.linkaudit.fail-on"),
    ({"fail-on": ["unusde"]}, "tool.linkaudit.fail-on"),
    ({"exclude": [1]}, "tool.linkaudit.exclude"),
    ({"search-path": "lib"}, "tool.linkaudit.search-path"),
    ({"allow": {"library": "x", "reason": "y"}}, "tool.linkaudit.allow"),
    ({"allow": [{"library": "x"}]}, "tool.linkaudit.allow[0].reason"),
    ({"allow": [{"library": "x", "reason": "y", "objekt": "z"}]}, "tool.linkaudit.allow[0]"),
    ({"allow": [{"library": 3, "reason": "y"}]}, "tool.linkaudit.allow[0].library"),
    ({"allow": ["libx.so"]}, "tool.linkaudit.allow[0]"),
])
def test_errors_name_the_key(table: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(table, source=Path("pyproject.toml"))
    assert key in info.value.message
    assert info.value.message.startswith("pyproject.toml: ")
    assert "\n" not in info.value.message


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path / "pyproject.toml", "[tool.linkaudit\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_discovery_walks_up(tmp_path: Path) -> None:
    top = _write(tmp_path / "pyproject.toml", '[tool.linkaudit]\nfail-on = ["missing"]\n')
    _write(tmp_path / "a" / "pyproject.toml", "[project]\nname = 'no linkaudit table here'\n")
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert find_pyproject(deep) == top
    assert load_config(start=deep).fail_on == frozenset({FindingKind.MISSING})


def test_discovery_skips_files_that_cannot_name_the_table(tmp_path: Path) -> None:
    """Project files that never spell ``linkaudit`` are skipped unparsed; an escaped key is still found."""
    top = _write(tmp_path / "pyproject.toml", '[tool."\\u006cinkaudit"]\nfail-on = ["missing"]\n')
    _write(tmp_path / "a" / "pyproject.toml", "[project\nname = 'not even valid TOML, and not ours'\n")
    assert find_pyproject(tmp_path / "a") == top
    assert load_config(start=tmp_path / "a").fail_on == frozenset({FindingKind.MISSING})


def test_allow_rule_globs() -> None:
    rule = AllowRule("libtorch*.so", "r", "*/pybind_torch/_C*.so")
    assert rule.matches("build/lib.linux/pybind_torch/_C.cpython-311.so", "libtorch_cpu.so")
    assert not rule.matches("build/lib.linux/other/_C.so", "libtorch.so")
    assert not rule.matches("build/pybind_torch/_C.so", "libc10.so")
    assert rule.matches("pybind_torch/_C.so", "libtorch.so")  # the absolute form has a leading directory
    assert AllowRule("lib*", "r").matches("anything", "libz.so.1")


def test_is_excluded() -> None:
    assert is_excluded("build/temp.linux/x.so", ["build/temp.*"])
    assert is_excluded("/srv/proj/build/temp.linux", ["temp.*"])  # by name
    assert is_excluded("proj/sub/x.so", ["sub/*.so"], root="proj")  # relative to the input root
    assert not is_excluded("proj/sub/x.so", ["other/*"], root="proj")
    assert not is_excluded("x.so", [])


def _report() -> Report:
    def entry(name: str, status: Status) -> NeededEntry:
        return NeededEntry(name, None, FoundVia.CACHE if status is not Status.MISSING else None, status, Category.OTHER)

    ext = ObjectReport("build/pybind_torch/_C.so", "x86_64", 64, None,
                       (entry("libtorch.so", Status.UNUSED), entry("libz.so.1", Status.UNUSED),
                        entry("libgone.so", Status.MISSING)), (), ())
    return Report(objects=(ext,))


def test_gate_respects_allow_list() -> None:
    report = _report()
    kinds = frozenset({FindingKind.UNUSED, FindingKind.MISSING})
    policy = GatePolicy(kinds, allow=(AllowRule("libtorch*.so", "registration", "*/pybind_torch/_C*.so"),))
    gate = evaluate(report, policy).gate
    assert {f.name for f in gate.failing} == {"libz.so.1", "libgone.so"}
    everything = GatePolicy(kinds, allow=(AllowRule("lib*", "all accepted"),))
    assert evaluate(report, everything).gate.exit_code == 0
    assert evaluate(report, GatePolicy(kinds)).gate.exit_code == 1


def test_gate_records_the_allow_reason() -> None:
    policy = GatePolicy(frozenset({FindingKind.UNUSED}), allow=(AllowRule("libtorch.so", "registration"),))
    gate = evaluate(_report(), policy).gate
    (torch,) = [f for f in gate.findings if f.name == "libtorch.so"]
    assert (torch.allowed, torch.baselined, torch.gated, torch.fails) == ("registration", False, True, False)
    (gone,) = [f for f in gate.findings if f.name == "libgone.so"]
    assert (gone.gated, gone.fails) == (False, False)  # missing is not gated here


# -- the CLI ------------------------------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, build_so, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp/proj/lib/libcfg.so needs libcused.so (used) and libcunused.so (unused), found through $ORIGIN."""
    proj = tmp_path / "proj"
    lib = proj / "lib"
    build_so("libcused.so", "int used_fn(void) { return 1; }", out_dir=lib)
    build_so("libcunused.so", "int unused_fn(void) { return 2; }", out_dir=lib)
    build_so("libcfg.so", "int used_fn(void);\nint f(void) { return used_fn(); }", out_dir=lib,
             libs=["cused", "cunused"], lib_dirs=[lib], runpath=["$ORIGIN"])
    monkeypatch.chdir(proj)
    return proj


@pytest.mark.requires_cc
def test_cli_config_fail_on_none(project: Path, run_cli) -> None:
    assert run_cli(["lib/libcfg.so"]).exit_code == 1  # unused fails by default
    _write(project / "pyproject.toml", '[tool.linkaudit]\nfail-on = ["none"]\n')
    assert run_cli(["lib/libcfg.so"]).exit_code == 0
    # the command line overrides the configuration
    assert run_cli(["--fail-on", "unused", "lib/libcfg.so"]).exit_code == 1


@pytest.mark.requires_cc
def test_cli_allow_list(project: Path, run_cli) -> None:
    _write(project / "pyproject.toml",
           '[[tool.linkaudit.allow]]\nlibrary = "libcunused*"\nobject = "*/libcfg.so"\nreason = "kept on purpose"\n')
    result = run_cli(["lib/libcfg.so"])
    assert result.exit_code == 0, result.stderr
    assert "kept on purpose" in result.stdout


@pytest.mark.requires_cc
def test_cli_explicit_config_file(project: Path, run_cli, tmp_path: Path) -> None:
    cfg = _write(tmp_path / "elsewhere" / "linkaudit.toml", 'fail-on = []\n')
    assert run_cli(["--config", str(cfg), "lib/libcfg.so"]).exit_code == 0


@pytest.mark.requires_cc
def test_cli_exclude(project: Path, run_cli) -> None:
    _write(project / "pyproject.toml", '[tool.linkaudit]\nexclude = ["libcfg.so"]\n')
    result = run_cli(["--format", "json", "lib"])
    assert result.exit_code == 0
    assert "libcfg.so" not in result.stdout


@pytest.mark.requires_cc
def test_cli_bad_config_is_one_line_exit_2(project: Path, run_cli) -> None:
    _write(project / "pyproject.toml", '[tool.linkaudit]\nfail-onn = ["unused"]\n')
    result = run_cli(["lib/libcfg.so"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "tool.linkaudit.fail-onn" in result.stderr
