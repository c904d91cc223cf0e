"""Hostile inputs that are not damaged ELF: files that are not linked objects, names that are not
text, files that cannot be read, and config/baseline files built to hang or exhaust the tool.

Every one must give one line on stderr naming the input, exit 2, the other
inputs still audited, no traceback, within a time bound.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from linkaudit.formats import OutputFormat
from linkaudit.smallfile import BASELINE_LIMIT, CONFIG_LIMIT

from .conftest import timeout

REPO = Path(__file__).resolve().parents[2]
GOOD = Path(sys.executable).resolve()  # a real dynamically linked object every machine running the tests has


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, prefix: list[str] | None = None):
    """``python -m linkaudit ARGS`` in a real process (real stdout encoding), UTF-8 locale."""
    full = {**os.environ, "PYTHONPATH": str(REPO), "LC_ALL": "C.UTF-8", "NO_COLOR": "1", **(env or {})}
    cmd = (prefix or []) + [sys.executable, "-m", "linkaudit", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=120, env=full)


def error_lines(stderr: bytes) -> list[str]:
    text = stderr.decode("utf-8")  # stderr itself must be valid UTF-8
    assert "Traceback" not in text, text
    return [line for line in text.splitlines() if line.startswith("linkaudit: error:")]


# -- not linked objects ---------------------------------------------------------------------


def _with_e_type(src: Path, dest: Path, e_type: int) -> Path:
    data = bytearray(src.read_bytes())
    data[16:18] = e_type.to_bytes(2, "little" if data[5] == 1 else "big")
    dest.write_bytes(data)
    return dest


@pytest.mark.parametrize("e_type, words", [(4, "core dump"), (0, "ET_NONE"), (0xFE00, "e_type 0xfe00")])
def test_not_linked_objects_are_refused(tmp_path, e_type, words):
    bad = _with_e_type(GOOD, tmp_path / "bad.elf", e_type)
    proc = run([str(bad), str(GOOD)], tmp_path)
    assert proc.returncode == 2
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and "bad.elf" in lines[0] and "not a linked object" in lines[0] and words in lines[0]
    assert "statically linked" not in proc.stdout.decode()
    assert GOOD.name in proc.stdout.decode()  # the other input is still audited


def test_core_dump_inside_a_directory_is_reported(tmp_path):
    (tmp_path / "d").mkdir()
    _with_e_type(GOOD, tmp_path / "d" / "core", 4)
    from linkaudit.audit import AuditOptions, audit

    report = audit([str(tmp_path / "d")], AuditOptions(jobs=1))
    assert [e.path for e in report.errors] == [str(tmp_path / "d" / "core")]
    assert "not a linked object" in report.errors[0].message
    assert report.objects == ()


# -- names that are not text ----------------------------------------------------------------

NAMES = [b"j\xff.so", b"nl\nsplit.so", b"esc\x1b[31mred.so", b"tab\there.so", b"\xc3\x28half.so"]


@pytest.fixture
def named(tmp_path) -> tuple[Path, list[bytes], list[bytes]]:
    """For each hostile name: a non-ELF file (an error) and an ELF copy (an object)."""
    d = tmp_path / "names"
    d.mkdir()
    bad, good = [], []
    for name in NAMES:
        with open(os.path.join(os.fsencode(d), b"bad-" + name), "wb") as fh:
            fh.write(b"not an object")
        shutil.copy(GOOD, os.path.join(os.fsencode(d), b"ok-" + name))
        bad.append(b"bad-" + name)
        good.append(b"ok-" + name)
    return d, bad, good


@pytest.mark.parametrize("fmt", [f.value for f in OutputFormat])
def test_names_that_are_not_text_in_every_format(named, fmt):
    d, bad, good = named
    proc = run(["--format", fmt, "-j1", *[os.fsdecode(n) for n in bad + good]], d)
    assert proc.returncode == 2, proc.stderr
    lines = error_lines(proc.stderr)
    assert len(lines) == len(bad), lines  # one line per bad input: no name splits its line
    assert all("\x1b" not in line for line in lines)
    assert any("bad-j\\xff.so" in line for line in lines)
    assert any("bad-nl\\nsplit.so" in line for line in lines)
    out = proc.stdout.decode("utf-8")  # the report is valid UTF-8
    if fmt in ("json", "sarif"):
        doc = json.loads(out)
        dumped = json.dumps(doc, ensure_ascii=False)
        assert "\udcff" not in dumped and "\\udc" not in out
    if fmt == "sarif":
        assert "bad-j%FF.so" in out  # artifact URIs percent-encode the byte itself
    if fmt == "json":
        assert "ok-j\\\\xff.so" in dumped  # the byte shown as the text \xff, the same as everywhere else
        assert len(doc["objects"]) == len(good) and len(doc["errors"]) == len(bad)
    elif fmt in ("text", "ldd"):
        assert "ok-j\\xff.so" in out


# -- unreadable inputs ----------------------------------------------------------------------


def _without_dac() -> list[str] | None:
    """A command prefix under which chmod 000 files cannot be read, or None."""
    if os.geteuid() != 0:
        return []
    if shutil.which("capsh"):
        return ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--"]
    return None


def _in_prefix(prefix: list[str], argv: list[str]) -> list[str]:
    if prefix and prefix[0] == "capsh":  # capsh runs its arguments through bash -c
        import shlex

        return prefix + ["-c", " ".join(shlex.quote(a) for a in argv)]
    return prefix + argv


@pytest.fixture
def unreadable(tmp_path):
    prefix = _without_dac()
    if prefix is None:
        pytest.skip("running as root without capsh: chmod 000 cannot make a file unreadable")
    d = tmp_path / "u"
    (d / "walk").mkdir(parents=True)
    shutil.copy(GOOD, d / "u.so")
    shutil.copy(GOOD, d / "walk" / "a.so")
    shutil.copy(GOOD, d / "walk" / "b.so")
    (d / "conf.toml").write_text("[tool.linkaudit]\n")
    for p in (d / "u.so", d / "walk" / "b.so", d / "conf.toml"):
        p.chmod(0)
    yield d, prefix
    for p in (d / "u.so", d / "walk" / "b.so", d / "conf.toml"):
        p.chmod(0o644)


def _run_as(prefix: list[str], args: list[str], cwd: Path):
    full = {**os.environ, "PYTHONPATH": str(REPO), "LC_ALL": "C.UTF-8", "NO_COLOR": "1"}
    cmd = _in_prefix(prefix, [sys.executable, "-m", "linkaudit", *args])
    return subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=120, env=full)


def test_unreadable_inputs_are_error_lines_and_the_rest_is_audited(unreadable):
    d, prefix = unreadable
    probe = subprocess.run(_in_prefix(prefix, ["cat", str(d / "u.so")]), capture_output=True)
    if probe.returncode == 0:
        pytest.skip("this environment can read chmod 000 files even without DAC override")
    proc = _run_as(prefix, ["--format", "json", "-j1", str(d / "u.so"), str(GOOD), str(d / "walk")], d)
    assert proc.returncode == 2
    lines = error_lines(proc.stderr)
    assert len(lines) == 2, lines
    assert "u.so: cannot read file: permission denied" in lines[0]
    assert "b.so: cannot read file: permission denied" in lines[1]  # inside a walked directory: not skipped
    doc = json.loads(proc.stdout)
    assert len(doc["objects"]) == 2 and len(doc["errors"]) == 2  # GOOD and walk/a.so


def test_unreadable_config_is_one_line(unreadable):
    d, prefix = unreadable
    probe = subprocess.run(_in_prefix(prefix, ["cat", str(d / "conf.toml")]), capture_output=True)
    if probe.returncode == 0:
        pytest.skip("this environment can read chmod 000 files even without DAC override")
    proc = _run_as(prefix, ["--config", str(d / "conf.toml"), str(GOOD)], d)
    assert proc.returncode == 2
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and "conf.toml" in lines[0] and "ermission denied" in lines[0]
    assert b"Usage:" not in proc.stderr


# -- hostile config and baseline files ------------------------------------------------------


def _hostile_files(tmp_path: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        files[name] = tmp_path / name
        files[name].write_bytes(data)

    put("deep.json", b"[" * 100_000)
    put("deep-closed.json", b"[" * 100_000 + b"]" * 100_000)
    put("deep.toml", b"a = " + b"[" * 100_000 + b"]" * 100_000 + b"\n")
    put("deep-table.toml", b"a = " + b"{b = " * 50_000 + b"1" + b"}" * 50_000 + b"\n")
    put("digits.json", b'{"schema": ' + b"9" * 5000 + b', "findings": []}')
    put("digits.toml", b"[tool.linkaudit]\nx = " + b"9" * 5000 + b"\n")
    put("latin1.json", b'{"schema": 1, "findings": [], "\xe9": 1}')
    put("latin1.toml", b'[tool.linkaudit]\nexclude = ["\xe9"]\n')
    put("huge.json", b" " * (BASELINE_LIMIT + 1))
    put("huge.toml", b"#" * (CONFIG_LIMIT + 1))
    put("nul.toml", b"\0" * 100)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    files["fifo"] = fifo
    files["dir"] = tmp_path
    files["zero"] = Path("/dev/zero")
    files["urandom"] = Path("/dev/urandom")
    return files


@pytest.mark.parametrize("option", ["--config", "--baseline"])
@pytest.mark.parametrize("which", ["deep.json", "deep-closed.json", "deep.toml", "deep-table.toml", "digits.json",
                                   "digits.toml", "latin1.json", "latin1.toml", "huge.json", "huge.toml", "nul.toml",
                                   "fifo", "dir", "zero", "urandom"])
def test_hostile_config_and_baseline_files(run_cli, tmp_path, option, which):
    path = _hostile_files(tmp_path)[which]
    with timeout(10):
        result = run_cli([option, str(path), "--format", "json", str(GOOD)])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("linkaudit: error: ") and str(path) in lines[0], lines
    assert json.loads(result.stdout)["errors"][0]["path"] == str(path)  # JSON still produced, in the contract's shape


def test_read_bounded_stops_at_the_limit_even_if_the_file_grows(tmp_path):
    from linkaudit.errors import ConfigError
    from linkaudit.smallfile import read_bounded

    f = tmp_path / "grow"
    f.write_bytes(b"x" * 100)
    assert read_bounded(f, 100, "test") == b"x" * 100
    f.write_bytes(b"x" * 101)
    with pytest.raises(ConfigError, match="too large"):
        read_bounded(f, 100, "test")
