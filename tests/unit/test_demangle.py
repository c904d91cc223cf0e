"""demangle: C++ names read by this machine's libstdc++ (found by the emulated loader), others unchanged."""

from __future__ import annotations

import pytest

from linkaudit.demangle import demangle, library_path


def test_plain_and_unreadable_names_are_unchanged() -> None:
    assert demangle("puts") == "puts"
    assert demangle("_Znotamangledname") == "_Znotamangledname"


def test_cxx_names_are_demangled() -> None:
    if library_path() is None:
        pytest.skip("no libstdc++ for this interpreter")
    assert demangle("_Z3foov") == "foo()"
    assert demangle("_ZSt28__throw_bad_array_new_lengthv") == "std::__throw_bad_array_new_length()"
    assert demangle("_ZN3c1019UndefinedTensorImpl10_singletonE") == "c10::UndefinedTensorImpl::_singleton"
