"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

``::error file=PATH,title=linkaudit unused::libtorch.so is linked but unused ...``
for findings that fail the gate, ``::warning`` for the others (kinds not gated,
allow-listed or in the baseline).  Inputs that could not be audited are errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkaudit.formats.findings import iter_findings
from linkaudit.formats.interface import Format
from linkaudit.report import Report

if TYPE_CHECKING:
    from linkaudit.config import GatePolicy


def escape_data(text: str) -> str:
    """Escaping of a workflow command's message (actions/toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escaping of a workflow command's property value (actions/toolkit ``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, file: str, title: str, message: str) -> str:
    return f"::{level} file={escape_property(file)},title={escape_property(title)}::{escape_data(message)}"


class GithubFormat(Format):
    def __init__(self, policy: GatePolicy | None = None) -> None:
        self.policy = policy

    def format(self, report: Report) -> str:
        lines = [
            command("error" if f.fails else "warning", f.object.path, f"linkaudit {f.kind.value}", f.message)
            for f in iter_findings(report, self.policy)
        ]
        lines.extend(command("error", e.path, "linkaudit error", e.message) for e in report.errors)
        return "".join(line + "\n" for line in lines)
