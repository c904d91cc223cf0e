"""Wheels are untrusted archives: bounded bytes and entries, each member once, and the work
directory removed whatever ends the run (SIGTERM and SIGHUP included)."""

from __future__ import annotations

import glob
import os
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from linkaudit import inputs
from linkaudit.inputs import collect

from .conftest import timeout

REPO = Path(__file__).resolve().parents[2]
ELF_HEAD = Path(sys.executable).resolve().read_bytes()[:64]


def _collect(path: Path):
    with collect([str(path)]) as (targets, errors):
        return [t.display for t in targets], [(e.path, e.message) for e in errors]


def test_a_zip_bomb_stops_at_the_budget(tmp_path, monkeypatch):
    """One deflated member of 64 MiB of zeros behind an ELF header: ~64 KB on disk."""
    monkeypatch.setattr(inputs, "WHEEL_SLACK", 4 << 20)
    monkeypatch.setattr(inputs, "WHEEL_MAX_RATIO", 10)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    whl = tmp_path / "bomb-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("bomb/evil.so", "w", force_zip64=True) as fh:
            fh.write(ELF_HEAD)
            for _ in range(64):
                fh.write(bytes(1 << 20))
    assert whl.stat().st_size < 200_000
    with timeout(20):
        targets, errors = _collect(whl)
    assert targets == []
    assert len(errors) == 1 and "wheel expands to more than" in errors[0][1]
    assert os.listdir(tmp_path / "tmp") == []  # the work directory is gone


def _duplicate_central_entry(whl: Path, times: int) -> None:
    """Rewrite ``whl`` so that its central directory lists its only member ``times`` times."""
    data = whl.read_bytes()
    eocd = data.rindex(b"PK\x05\x06")
    (_, _, _, _, count, size, offset, _) = struct.unpack_from("<IHHHHIIH", data, eocd)
    assert count == 1
    central = data[offset:offset + size]
    new_central = central * times
    new_eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, times, times, len(new_central), offset, 0)
    whl.write_bytes(data[:offset] + new_central + new_eocd)


def test_a_member_listed_four_times_is_refused_before_decompressing_it_again(tmp_path):
    whl = tmp_path / "dup-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("dup/lib.so", ELF_HEAD + bytes(1 << 20))
    _duplicate_central_entry(whl, 4)
    assert len(zipfile.ZipFile(whl).infolist()) == 4
    targets, errors = _collect(whl)
    assert targets == []
    assert errors and "listed more than once" in errors[0][1]


def test_entry_count_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "WHEEL_MAX_ENTRIES", 50)
    whl = tmp_path / "many-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        for i in range(51):
            z.writestr(f"many/f{i}.txt", b"x")
    targets, errors = _collect(whl)
    assert targets == [] and "51 entries; the limit is 50" in errors[0][1]


def test_many_small_entries_take_linear_time(tmp_path):
    """20,000 entries (none ELF) in a couple of seconds: each member is opened once, read 4 bytes."""
    whl = tmp_path / "wide-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        for i in range(20_000):
            z.writestr(f"wide/f{i}.txt", b"hello")
    start = time.perf_counter()
    targets, errors = _collect(whl)
    assert time.perf_counter() - start < 10
    assert targets == [] and errors[0][1] == "wheel contains no ELF objects"


def test_only_elf_members_are_written(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    whl = tmp_path / "mix-1.0-py3-none-any.whl"
    big = Path(sys.executable).resolve()
    with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(big, "mix/real.so")
        z.writestr("mix/data.bin", bytes(5 << 20))
    seen: list[list[str]] = []
    with collect([str(whl)]) as (targets, errors):
        for dirpath, _, files in os.walk(tmp_path / "tmp"):
            seen.append(files)
    assert [t.display.rsplit("!", 1)[1] for t in targets] == ["mix/real.so"]
    assert sorted(f for files in seen for f in files) == ["real.so"]


def _slow_wheel(path: Path) -> Path:
    by_name: dict[str, str] = {}
    for p in sorted(glob.glob("/usr/lib/*/*.so.*") + glob.glob("/usr/lib64/*.so.*")):
        if os.path.isfile(p) and not os.path.islink(p):
            by_name.setdefault(os.path.basename(p), p)
    libs = sorted(by_name.values())[:250]
    if len(libs) < 50:
        pytest.skip("not enough shared libraries on this machine to make a slow wheel")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for lib in libs:
            z.write(lib, "slow/" + os.path.basename(lib))
    return path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_signals_remove_the_work_directory(tmp_path_factory, sig, jobs):
    base = tmp_path_factory.mktemp("sig")
    whl = base / "slow-1.0-py3-none-any.whl"
    if not whl.exists():
        _slow_wheel(whl)
    tmpdir = base / f"tmp-{sig}-{jobs}"
    tmpdir.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "linkaudit", "--format", "json", "-j", jobs, str(whl)],
                            env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmpdir)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until members are being extracted
        if any(files for where, _, files in os.walk(tmpdir) if "linkaudit-" in where):
            break
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err  # unwound by the handler, not killed on the spot
    assert b"Traceback" not in err
    assert os.listdir(tmpdir) == [], "the wheel's work directory was left behind"
