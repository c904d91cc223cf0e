"""display: sizes and counted nouns as every format words them."""

from __future__ import annotations

import pytest

from linkaudit.display import human_size, plural, verb


@pytest.mark.parametrize(("n", "text"), [(0, "0 B"), (999, "999 B"), (1000, "1.0 KB"), (15_360, "15.4 KB"),
                                         (441_400_000, "441.4 MB"), (5 * 10**12, "5000.0 GB")])
def test_human_size_uses_decimal_units(n: int, text: str) -> None:
    assert human_size(n) == text


def test_plural_and_verb_agree_with_the_count() -> None:
    assert plural(1, "finding") == "1 finding"
    assert plural(0, "finding") == "0 findings"
    assert plural(2, "library", "libraries") == "2 libraries"
    assert verb(1, "comes", "come") == "comes"
    assert verb(3, "comes", "come") == "come"
