"""The output-format interface: one class per format, one ``format(report)`` method."""

from __future__ import annotations

from abc import ABC, abstractmethod

from linkaudit.report import Report


class FormatError(Exception):
    """A format could not render the report."""


class Format(ABC):
    """Renders a :class:`Report` as text for stdout or a file."""

    #: whether the output is meant for a terminal (colours allowed) or for machines
    is_human: bool = False

    @abstractmethod
    def format(self, report: Report) -> str:
        raise NotImplementedError
