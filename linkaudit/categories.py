"""Library categories (torch, CUDA, OpenMP, glibc stubs, ...), read from ``data/categories.json``.

Names vendored by auditwheel carry a hash (``libgomp-75eea7e8.so.1``); the hash
is stripped before matching, so they land in the same category.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from linkaudit.report import Category

_HASHED = re.compile(r"-[0-9a-f]{8}(?=\.so)")


@lru_cache(maxsize=1)
def policy_data() -> dict:
    """``data/categories.json``, parsed once.

    Read next to this module, not through ``importlib.resources`` (whose import
    pulls in zipfile and costs more than the file): pip installs the package as files.
    """
    return json.loads((Path(__file__).parent / "data" / "categories.json").read_text("utf-8"))


@lru_cache(maxsize=1)
def _policy() -> tuple[tuple[tuple[Category, tuple[str, ...]], ...], dict[str, str]]:
    data = policy_data()
    categories = tuple((Category(name), tuple(patterns)) for name, patterns in data["categories"])
    return categories, dict(data["costs"])


def base_name(soname: str) -> str:
    """``libgomp-75eea7e8.so.1`` -> ``libgomp``; ``libc.so.6`` -> ``libc``."""
    name = soname.rsplit("/", 1)[-1]
    name = _HASHED.sub("", name)
    return name.split(".so", 1)[0]


@lru_cache(maxsize=4096)
def classify(soname: str) -> Category:
    base = base_name(soname)
    categories, _ = _policy()
    for category, patterns in categories:
        for pattern in patterns:
            if pattern.endswith("$"):
                if base == pattern[:-1]:
                    return category
            elif base.startswith(pattern):
                return category
    return Category.OTHER


def cost_note(category: Category) -> str | None:
    """What a dependency of this category typically costs (for the human report)."""
    return _policy()[1].get(category.value)
