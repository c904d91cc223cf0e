"""The output-format interface: one class per format, one ``format(report)`` method."""

from __future__ import annotations

from abc import ABC, abstractmethod

from linkaudit.report import Report


class Format(ABC):
    """Renders a :class:`Report` as text for stdout or a file."""

    @abstractmethod
    def format(self, report: Report) -> str:
        raise NotImplementedError
