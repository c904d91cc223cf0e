"""linkaudit: which linked libraries an ELF object really uses, read statically.

Small public API: :func:`audit` returns a :class:`~linkaudit.report.Report`.
"""

# Nothing is imported here (not even ``__future__``): ``python -m linkaudit``
# runs this file before ``__main__`` takes the working directory off sys.path.

__version__ = "0.1.0"

__all__ = ["__version__", "audit", "Report"]


def __getattr__(name: str):  # lazy: `linkaudit --version` must not import pyelftools
    if name == "audit":
        from linkaudit.audit import audit

        return audit
    if name == "Report":
        from linkaudit.report import Report

        return Report
    raise AttributeError(name)
