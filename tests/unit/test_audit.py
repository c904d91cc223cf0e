"""audit: the orchestration alone — inputs in, one Report out, errors per input, the run always completes.

(What each status is and why is tested in test_verdicts.py, test_judge.py and against ldd in the oracles.)
"""

from __future__ import annotations

from pathlib import Path

from linkaudit.audit import AuditOptions, audit
from linkaudit.report import Status


def test_objects_and_errors_of_one_run(objs: dict[str, Path], tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an ELF file\n")
    report = audit([str(objs["unused"]), str(text), str(tmp_path / "absent")])
    assert [o.path for o in report.objects] == [str(objs["unused"])]
    statuses = {n.name: n.status for n in report.objects[0].needed}
    assert statuses["libused.so"] is Status.USED and statuses["libunused.so"] is Status.UNUSED
    # a file named on the command line must be an ELF object (a directory walk skips the others)
    assert [(Path(e.path).name, e.message) for e in report.errors] == [
        ("notes.txt", "not an ELF file"), ("absent", "no such file or directory")]
    assert [p.machine for p in report.loader] == [report.objects[0].machine]  # one loader assumption per ABI audited
    assert report.gate is None  # the gate is computed by gate.evaluate, not here


def test_workers_give_the_same_report(objs: dict[str, Path]) -> None:
    paths = [str(objs["clean"]), str(objs["unused"]), str(objs["libused"]), str(objs["libunused"])]
    one = audit(paths, AuditOptions(jobs=1))
    two = audit(paths, AuditOptions(jobs=2))
    assert one == two
