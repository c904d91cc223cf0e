"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

``::error file=PATH,title=linkaudit unused::libtorch.so is linked but unused ...``
for findings that fail the gate, ``::warning`` for kinds the gate does not fail
on, ``::notice`` for findings the allow-list or the baseline accepts (with the
reason).  Inputs that could not be audited, and a run that found no ELF object,
are errors.  The decisions come from the gate (:func:`linkaudit.gate.gate_of`).
"""

from __future__ import annotations

from linkaudit.formats.findings import Shown, iter_findings
from linkaudit.formats.interface import Format
from linkaudit.gate import NO_OBJECTS, gate_of
from linkaudit.report import Report


def escape_data(text: str) -> str:
    """Escaping of a workflow command's message (actions/toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escaping of a workflow command's property value (actions/toolkit ``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, file: str | None, title: str, message: str) -> str:
    where = f"file={escape_property(file)}," if file is not None else ""
    return f"::{level} {where}title={escape_property(title)}::{escape_data(message)}"


def _level(s: Shown) -> str:
    if s.finding.fails:
        return "error"
    return "notice" if s.finding.suppressed else "warning"


class GithubFormat(Format):
    def format(self, report: Report) -> str:
        lines = [
            command(_level(s), s.finding.object, f"linkaudit {s.finding.kind.value}", s.message)
            for s in iter_findings(report)
        ]
        lines.extend(command("error", e.path, "linkaudit error", e.message) for e in report.errors)
        if gate_of(report).no_objects:
            lines.append(command("error", None, "linkaudit error", NO_OBJECTS))
        return "".join(line + "\n" for line in lines)
