"""Tests mirror the package: every module of linkaudit/ has a test module named after it.

``linkaudit/x.py`` is tested by a ``tests/*/test_x.py``, ``linkaudit/formats/x.py`` by
``tests/formats/test_x.py``.  A module added without its tests fails here; the few
modules with no behaviour of their own are listed below with the reason.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "linkaudit"
TESTS = ROOT / "tests"

NO_TEST_MODULE = {
    "__init__.py": "package markers",
    "__main__.py": "`python -m linkaudit` and the console script call cli.main through console(); tests/cli runs it that way",
    "errors.py": "exception classes only; each is asserted where it is raised (test_elf, test_config, ...)",
    "report.py": "frozen dataclasses with no logic beyond two properties; every test builds or reads them",
    "formats/interface.py": "the Format protocol, no code; test_output_format checks every format against it",
}


def test_every_module_has_a_test_module_named_after_it() -> None:
    top_tests = {p.name for p in TESTS.glob("*/test_*.py")}
    format_tests = {p.name for p in (TESTS / "formats").glob("test_*.py")}
    missing = [f"linkaudit/{p.name}" for p in sorted(PACKAGE.glob("*.py"))
               if p.name not in NO_TEST_MODULE and f"test_{p.name}" not in top_tests]
    missing += [f"linkaudit/formats/{p.name}" for p in sorted((PACKAGE / "formats").glob("*.py"))
                if f"formats/{p.name}" not in NO_TEST_MODULE and p.name != "__init__.py"
                and f"test_{p.name}" not in format_tests]
    assert missing == [], "modules without a test module named after them"


def test_exceptions_are_real_modules() -> None:
    for name in NO_TEST_MODULE:
        assert (PACKAGE / name).is_file(), f"stale exception: linkaudit/{name}"
