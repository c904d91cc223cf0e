"""The audit command's contract: exit codes, stdout vs stderr, one error line per bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.requires_cc


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_clean_exits_0(objs, run_cli) -> None:
    result = run_cli([objs["clean"]])
    assert result.exit_code == 0, result.stderr
    assert str(objs["clean"]) in result.stdout
    assert result.stderr == ""


def test_unused_fails_the_gate(objs, run_cli) -> None:
    result = run_cli([objs["unused"]])
    assert result.exit_code == 1
    assert "libunused.so" in result.stdout
    assert "gate failed" in result.stderr
    assert len(_error_lines(result.stderr)) == 1


def test_fail_on_none_passes(objs, run_cli) -> None:
    assert run_cli(["--fail-on", "none", objs["unused"]]).exit_code == 0


def test_explicit_audit_subcommand_is_the_default(objs, run_cli) -> None:
    a = run_cli(["--format", "json", objs["unused"]])
    b = run_cli(["audit", "--format", "json", objs["unused"]])
    assert (a.exit_code, json.loads(a.stdout)) == (b.exit_code, json.loads(b.stdout))


def test_missing_path_and_good_file(objs, run_cli, tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist.so"
    result = run_cli([missing, objs["clean"]])
    assert result.exit_code == 2
    assert str(objs["clean"]) in result.stdout, "the good file is still reported"
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and str(missing) in lines[0]


def test_empty_and_blank_arguments_are_named_quoted(objs, run_cli) -> None:
    """An unset shell variable ("") or a stray blank name: said so, quoted, and the good file still audited."""
    result = run_cli(["", " x", objs["clean"]])
    assert result.exit_code == 2
    assert str(objs["clean"]) in result.stdout
    assert _error_lines(result.stderr) == ["linkaudit: error: '': empty path",
                                           "linkaudit: error: ' x': no such file or directory"]


def test_missing_path_in_json_still_reports_good_file(objs, run_cli, tmp_path: Path) -> None:
    missing = tmp_path / "gone.so"
    result = run_cli(["--format", "json", missing, objs["clean"]])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert [o["path"] for o in report["objects"]] == [str(objs["clean"])]
    assert [e["path"] for e in report["errors"]] == [str(missing)]


def test_named_non_elf_file(run_cli, tmp_path: Path) -> None:
    text = tmp_path / "README.txt"
    text.write_text("hello\n")
    result = run_cli([text])
    assert result.exit_code == 2
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and str(text) in lines[0]


def test_truncated_elf(objs, run_cli, tmp_path: Path) -> None:
    data = objs["libused"].read_bytes()
    for n, size in enumerate((20, 64, len(data) // 2)):
        target = tmp_path / f"trunc{n}.so"
        target.write_bytes(data[:size])
        result = run_cli([target])
        assert result.exit_code == 2, (size, result.stdout, result.stderr)
        lines = _error_lines(result.stderr)
        assert len(lines) == 1 and str(target) in lines[0], (size, result.stderr)


def test_directory_skips_non_elf_silently(objs, run_cli, tmp_path: Path) -> None:
    d = tmp_path / "tree"
    (d / "sub").mkdir(parents=True)
    (d / "notes.txt").write_text("not ELF\n")
    (d / "sub" / "data.bin").write_bytes(b"\x00\x01\x02" * 100)
    (d / "sub" / "empty").write_bytes(b"")
    target = d / "sub" / "libused.so"
    target.write_bytes(objs["libused"].read_bytes())
    result = run_cli(["--format", "json", d])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert [o["path"] for o in report["objects"]] == [str(target)]
    assert report["errors"] == []


def test_json_parses(objs, run_cli) -> None:
    result = run_cli(["--format", "json", objs["clean"], objs["unused"]])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["schema"] == 2
    assert [o["path"] for o in report["objects"]] == [str(objs["clean"]), str(objs["unused"])]
    statuses = {n["name"]: n["status"] for n in report["objects"][1]["needed"]}
    assert statuses["libunused.so"] == "unused" and statuses["libused.so"] == "used"


def test_fail_on_bogus_is_a_usage_error(objs, run_cli) -> None:
    result = run_cli(["--fail-on", "bogus", objs["clean"]])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--fail-on" in result.stderr


def test_no_input_is_a_usage_error(run_cli) -> None:
    result = run_cli([])
    assert result.exit_code == 2
    assert result.stdout == ""


def test_python_m_version() -> None:
    from linkaudit import __version__

    proc = subprocess.run([sys.executable, "-m", "linkaudit", "--version"], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    assert __version__ in proc.stdout
    assert "linkaudit" in proc.stdout


@pytest.mark.parametrize(("which", "expected"), [("clean", 0), ("unused", 1), ("missing", 2)])
def test_reader_closing_the_pipe_keeps_the_exit_code(objs, tmp_path: Path, which: str, expected: int) -> None:
    """`linkaudit ... | head`: stdout's reader is gone before the report is written; the gate's code stands."""
    import os

    args = [str(tmp_path / "absent.so"), str(objs["clean"])] if which == "missing" else [str(objs[which])]
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "linkaudit", *args], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    finally:
        os.close(write_end)
    assert proc.returncode == expected, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


# -- the loader parameters: overrides and what the report says was assumed ----------------------------


@pytest.mark.parametrize(("args", "named"), [
    (["--platform", "pentium9"], "valid platforms: x86_64, haswell, xeon_phi"),
    (["--hwcaps", "x86_64,avx1024"], "valid hwcaps: x86_64, avx512_1"),
    (["--cpu-level", "x86-64-v9"], "valid levels: x86-64-v4, x86-64-v3, x86-64-v2"),
    (["--glibc-version", "two"], "expected MAJOR.MINOR"),
    (["--cpuinfo", "/nonexistent/cpuinfo"], "no such file"),
    (["--cpuinfo", "/dev/null"], "not a regular file"),
])
def test_unknown_loader_parameter_is_one_line_and_exit_2(objs, run_cli, args, named) -> None:
    result = run_cli([*args, objs["clean"]])
    assert result.exit_code == 2
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"linkaudit: error: {args[0]}: ") and named in lines[0]
    assert result.stdout == ""


def test_report_says_which_loader_parameters_were_assumed(objs, run_cli, tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("vendor_id\t: AuthenticAMD\nflags\t\t: fpu cx8 cmov mmx fxsr sse sse2 cx16 lahf_lm popcnt pni "
                       "ssse3 sse4_1 sse4_2\n")
    result = run_cli(["--format", "json", "--cpuinfo", str(cpuinfo), "--glibc-version", "2.36", objs["clean"]])
    doc = json.loads(result.stdout)
    if doc["objects"][0]["abi"] != "x86_64":
        pytest.skip("an x86-64 CPU description")
    (loader,) = doc["loader"]
    assert (loader["platform"], loader["hwcaps"], loader["glibc_hwcaps"], loader["glibc_version"]) == (
        "x86_64", ["x86_64"], ["x86-64-v2"], "2.36")
    assert loader["platform_source"] == f"cpuinfo {cpuinfo}" and loader["glibc_version_source"] == "override"
    assert loader["subdirectories"] == ["glibc-hwcaps/x86-64-v2", "tls/x86_64/x86_64", "tls/x86_64", "tls",
                                        "x86_64/x86_64", "x86_64"]
    text = run_cli(["--platform", "xeon_phi", "--hwcaps", "none", "--cpu-level", "none", objs["clean"]]).stdout
    assert "Loader assumed for x86_64: platform xeon_phi (override), hwcaps x86_64 (override), " \
           "glibc-hwcaps none (override)" in " ".join(text.split())


def test_loader_parameters_from_config(objs, run_cli, tmp_path: Path) -> None:
    cfg = tmp_path / "linkaudit.toml"
    cfg.write_text('platform = "haswell"\nhwcaps = ["avx512_1"]\ncpu-level = "x86-64-v3"\nglibc-version = "2.35"\n')
    doc = json.loads(run_cli(["--format", "json", "--config", str(cfg), objs["clean"]]).stdout)
    if doc["objects"][0]["abi"] != "x86_64":
        pytest.skip("x86-64 names")
    (loader,) = doc["loader"]
    assert (loader["platform"], loader["hwcaps"], loader["glibc_hwcaps"], loader["glibc_version"]) == (
        "haswell", ["x86_64", "avx512_1"], ["x86-64-v3", "x86-64-v2"], "2.35")
    # the command line wins over the file
    doc = json.loads(run_cli(["--format", "json", "--config", str(cfg), "--platform", "x86_64", objs["clean"]]).stdout)
    assert doc["loader"][0]["platform"] == "x86_64"


@pytest.mark.parametrize(("text", "message"), [
    ('platform = "k6"', "tool.linkaudit.platform: unknown platform 'k6'; valid platforms:"),
    ('hwcaps = "avx512_1"', "tool.linkaudit.hwcaps must be a list of strings"),
    ('hwcaps = ["mmx"]', "tool.linkaudit.hwcaps: unknown hwcap 'mmx'"),
    ('cpu-level = "v3"', "tool.linkaudit.cpu-level: unknown CPU level 'v3'"),
    ('glibc-version = 2.36', "tool.linkaudit.glibc-version must be a non-empty string"),
])
def test_bad_loader_keys_in_config(objs, run_cli, tmp_path: Path, text, message) -> None:
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text(f"[tool.linkaudit]\n{text}\n")
    result = run_cli(["--config", str(cfg), objs["clean"]])
    assert result.exit_code == 2
    assert message in result.stderr


def test_unknown_glibc_release_is_said_once(objs, run_cli, tmp_path: Path) -> None:
    """An empty --root has no libc.so.6: the last line says 'glibc unknown', not 'glibc unknown (unknown)'."""
    root = tmp_path / "root"
    root.mkdir()
    text = " ".join(run_cli(["--root", str(root), objs["clean"]]).stdout.split())
    assert "glibc unknown." in text and "(unknown)" not in text
    assert "the root's libc.so.6 was not found or names no release: glibc 2.37+ rules assumed" in text
