"""categories: soname -> category by the ordered prefix/exact patterns of data/categories.json, and cost notes."""

from __future__ import annotations

import pytest

from linkaudit.categories import base_name, classify, cost_note, policy_data
from linkaudit.report import Category

CASES = {
    "libtorch_foo.so": Category.TORCH,
    "libcudart-3f3c6934.so.11.0": Category.CUDA,  # auditwheel's hash is stripped before matching
    "libgomp-75eea7e8.so.1": Category.OPENMP,
    "libcublasLt.so.12": Category.CUDA,
    "libpthread.so.0": Category.GLIBC_STUB,
    "libc.so.6": Category.C_RUNTIME,
    "libstdc++.so.6": Category.CXX_RUNTIME,
}


@pytest.mark.parametrize(("soname", "category"), sorted(CASES.items()))
def test_classify(soname: str, category: Category) -> None:
    assert classify(soname) is category


def test_base_name_strips_directory_hash_and_version() -> None:
    assert base_name("/opt/x/libgomp-75eea7e8.so.1") == "libgomp"
    assert base_name("libc.so.6") == "libc"
    assert base_name("libfoo-not-a-hash.so") == "libfoo-not-a-hash"  # only 8 hex digits before .so are a hash


def test_exact_patterns_do_not_match_as_prefixes() -> None:
    # "libc$" and "libgomp$" are exact: a longer name that starts the same is another library
    assert classify("libcrack.so.2") is Category.OTHER
    assert classify("libgompx.so.1") is not Category.OPENMP


def test_first_matching_category_wins() -> None:
    # libcaffe2_nvrtc is a CUDA library listed before torch's libcaffe2 prefix
    assert classify("libcaffe2_nvrtc.so") is Category.CUDA
    assert classify("libcaffe2_detectron_ops.so") is Category.TORCH


def test_every_category_in_the_data_is_a_category_member() -> None:
    names = [name for name, _ in policy_data()["categories"]]
    assert len(names) == len(set(names))
    assert {Category(n) for n in names} <= set(Category)


def test_cost_notes_only_for_costly_categories() -> None:
    assert cost_note(Category.TORCH)
    assert cost_note(Category.OTHER) is None
    assert cost_note(Category.C_RUNTIME) is None
