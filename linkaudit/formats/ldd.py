"""``--format ldd``: the familiar ``ldd`` listing, annotated with evidence.

Every loaded library, direct and transitive, in load order; unused and
incidental direct dependencies, and every library loaded only on their
behalf, carry ``# <--- NOT USED`` — the classic hand-annotated listing.
"""

from __future__ import annotations

from linkaudit.formats.interface import Format
from linkaudit.report import ObjectReport, Report, Status

MARK = "# <--- NOT USED"


class LddFormat(Format):
    def format(self, report: Report) -> str:
        out: list[str] = []
        for obj in report.objects:
            out.append(f"{obj.path}:")
            out.extend(_lines(obj))
        return "\n".join(out) + ("\n" if out else "")


def _lines(obj: ObjectReport) -> list[str]:
    if not obj.needed:
        return ["\tstatically linked" if obj.warnings else "\t(no dependencies)"]
    status_by_path = {}
    for n in obj.needed:
        if n.path is not None:
            status_by_path.setdefault(str(n.path), n.status)
    lines = []
    for lib in obj.loaded:
        status = status_by_path.get(str(lib.path))
        mark = ""
        if lib.only_for_unneeded or status in (Status.UNUSED, Status.INCIDENTAL):
            why = " (incidental)" if status is Status.INCIDENTAL else ""
            mark = f" {MARK}{why}"
        if lib.name.startswith("/"):
            lines.append(f"\t{lib.path}{mark}")
        else:
            lines.append(f"\t{lib.name} => {lib.path}{mark}")
    for n in obj.needed:
        if n.status is Status.MISSING:
            lines.append(f"\t{n.name} => not found")
        elif n.status is Status.NOT_ON_HOST:
            lines.append(f"\t{n.name} => not judged on this host (musl)")
    return lines
