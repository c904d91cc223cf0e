"""linkaudit against each architecture's own ld.so, run under qemu-user (optional layer).

Skipped, per architecture, unless qemu-user-static is installed, the
architecture is enabled in dpkg and its Debian packages can be downloaded (the
first run unpacks libc6, libc-bin, libgcc-s1, libstdc++6 and zlib1g into a
sysroot under $LINKAUDIT_SYSROOT_CACHE or ~/.cache/linkaudit-tests/sysroots and
reuses it afterwards; see qemu_oracle.py).  ld.so is only ever run on files
this repository built or Debian ships.

* the committed fixtures (tests/data/<arch>/) must get the same unused list
  from linkaudit and from the loader, and that list must be the one
  tests/unit/test_arch_fixtures.py expects everywhere;
* every dynamic object of the sysroot, audited with ``--root``, must agree
  with the loader run inside that root.  The loader's answers are kept next to
  the sysroot under a digest of every byte they depend on
  (``qemu_oracle.loader_answers``): the next run asks the loader again only
  when something changed; linkaudit's side is always audited afresh.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import qemu_oracle
from linkaudit.audit import AuditOptions, audit
from linkaudit.loader import LoaderEnv

pytestmark = [pytest.mark.oracle, pytest.mark.slow]

DATA = Path(__file__).resolve().parent.parent / "data"
FIXTURE_DIR = {"arm64": "aarch64"}  # Debian name -> tests/data name, where they differ
EXPECTED_UNUSED = {"libmain.so": {"libfb.so"}, "libuser.so": {"libmain.so"}, "main_copy": {"libfb.so"}}


@pytest.fixture(scope="module", params=sorted(qemu_oracle.ARCHES))
def sysroot(request) -> tuple[str, Path]:
    arch = request.param
    root, why = qemu_oracle.sysroot(arch)
    if root is None:
        pytest.skip(f"{arch}: {why}")
    return arch, root


def test_fixtures_agree_with_the_loader(sysroot):
    arch, root = sysroot
    fixtures = DATA / FIXTURE_DIR.get(arch, arch)
    for name, expected in EXPECTED_UNUSED.items():
        path = (fixtures / name).resolve()
        want, err = qemu_oracle.ldd_unused(arch, root, str(path))
        assert want is not None, f"{arch} ld.so on {path}: {err}"
        assert {os.path.basename(p) for p in want} == expected, f"{arch} ld.so disagrees with the expectation"
        report = audit([str(path)], AuditOptions(env=LoaderEnv(python_package_rule=False), jobs=1))
        (obj,) = report.objects
        assert {os.path.normpath(p) for p in obj.ldd_unused} == {os.path.normpath(p) for p in want}, (arch, name)


def test_sysroot_objects_agree_with_the_loader(sysroot, run_cli):
    arch, root = sysroot
    paths = qemu_oracle.dynamic_objects(root)
    assert paths, f"no ELF objects unpacked in {root}"
    res = run_cli(["--root", str(root), "--format", "json", "--no-python-packages", "--fail-on", "none",
                   *map(str, paths)], env={"LD_LIBRARY_PATH": None})
    doc = json.loads(res.stdout)
    by_inode = {os.stat(o["path"])[1:3]: o for o in doc["objects"]}
    guests = ["/" + str(p.relative_to(root)) for p in paths]
    answers = qemu_oracle.loader_answers(arch, root, guests)
    disagreements, compared = [], 0
    for p, guest, (want, _err) in zip(paths, guests, answers):
        if want is None:  # the loader refuses it (a static program, ld.so itself): nothing to compare
            continue
        obj = by_inode.get(os.stat(p)[1:3])
        compared += 1
        if obj is None:
            disagreements.append(f"{guest}: linkaudit has no report")
            continue
        got = {os.path.normpath(x) for x in obj["ldd_unused"]}
        if got != want:
            disagreements.append(f"{guest}: ld.so unused {sorted(want)}, linkaudit {sorted(got)}")
    assert compared, "the loader accepted no object"
    assert not disagreements, f"{len(disagreements)} of {compared} disagree:\n" + "\n".join(disagreements[:20])


def test_recorded_answers_are_tied_to_every_byte(tmp_path: Path) -> None:
    """A changed file, a moved link or a new file anywhere in the root means asking the loader again."""
    root = tmp_path / "root"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "libc.so.6").write_bytes(b"\x7fELF one")
    (root / "lib" / "libc.so").symlink_to("libc.so.6")
    seen = {qemu_oracle.answers_digest("arm64", root)}
    assert qemu_oracle.answers_digest("arm64", root) in seen  # deterministic
    (root / "lib" / "libc.so.6").write_bytes(b"\x7fELF two")
    seen.add(qemu_oracle.answers_digest("arm64", root))
    (root / "lib" / "libc.so").unlink()
    (root / "lib" / "libc.so").symlink_to("/elsewhere/libc.so.6")
    seen.add(qemu_oracle.answers_digest("arm64", root))
    (root / "etc").mkdir()
    (root / "etc" / "ld.so.cache").write_bytes(b"")
    seen.add(qemu_oracle.answers_digest("arm64", root))
    seen.add(qemu_oracle.answers_digest("armhf", root))  # another loader, another qemu
    assert len(seen) == 5


def test_recorded_answers_are_reused_only_for_the_same_bytes(tmp_path: Path, monkeypatch) -> None:
    """The loader is asked once per file; a changed root asks again; a timeout is never kept."""
    root = tmp_path / "arm64-base" / "root"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "libc.so.6").write_bytes(b"\x7fELF one")
    asked: list[str] = []

    def loader(arch, root_, guest, timeout=120):
        asked.append(guest)
        return ({"/lib/libc.so.6"}, "") if guest == "/bin/a" else (None, "timeout")

    monkeypatch.setattr(qemu_oracle, "ldd_unused", loader)
    guests = ["/bin/a", "/bin/slow"]
    first = qemu_oracle.loader_answers("arm64", root, guests)
    assert first == [({"/lib/libc.so.6"}, ""), (None, "timeout")] and sorted(asked) == guests
    asked.clear()
    assert qemu_oracle.loader_answers("arm64", root, guests) == first
    assert asked == ["/bin/slow"]  # the recorded answer is reused, the timeout asked again
    asked.clear()
    (root / "lib" / "libc.so.6").write_bytes(b"\x7fELF two")
    qemu_oracle.loader_answers("arm64", root, guests)
    assert sorted(asked) == guests
    assert len(list(root.parent.glob("ldso-answers-*.json"))) == 1  # the stale record is gone
