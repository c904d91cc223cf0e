"""Which implementation of the bulk loops runs: the compiled ``_speedups`` when it is there, else pure Python.

The choice is made once, at import.  ``linkaudit._speedups`` is an optional C
extension built by ``pip install .`` where a compiler is at hand; it implements
exactly the functions of :mod:`linkaudit.bulk`, which is the reference and the
fallback.  ``LINKAUDIT_PURE_PYTHON=1`` (any value but empty or ``0``) keeps the
pure-Python ones even when the extension was built.  Reports never depend on
the choice; ``python -m linkaudit.accel`` says which one runs.
"""

from __future__ import annotations

import os

_REFUSED = os.environ.get("LINKAUDIT_PURE_PYTHON", "") not in ("", "0")

# bulk.py is imported only when it runs: its tables are start-up work the compiled path never needs.
if _REFUSED:
    from linkaudit import bulk as _impl

    WHY = "pure Python (LINKAUDIT_PURE_PYTHON is set)"
else:
    try:
        import linkaudit._speedups as _impl  # type: ignore[no-redef]
    except ImportError:  # not built (no compiler at install time), or built for another Python
        from linkaudit import bulk as _impl  # type: ignore[no-redef]

        WHY = "pure Python (the compiled extension is not installed)"
    else:
        WHY = "compiled extension"

COMPILED = WHY == "compiled extension"

gnu_hash = _impl.gnu_hash
sysv_hash = _impl.sysv_hash
relocation_words = _impl.relocation_words
mark_symbols = _impl.mark_symbols
select_pairs = _impl.select_pairs
distinct = _impl.distinct
symbol_rules_mask = _impl.symbol_rules_mask
unique_hash_mask = _impl.unique_hash_mask
u16_mask = _impl.u16_mask
max_u32 = _impl.max_u32
canonical_chains = _impl.canonical_chains
lookup_batch = _impl.lookup_batch
make_references = _impl.make_references

#: Whether binding makes its lookups through ``lookup_batch`` (in C, one call answers a whole object's
#: references) rather than one by one through its memos (faster than the batch in pure Python).
BATCH_LOOKUPS = COMPILED

FUNCTIONS = ("gnu_hash", "sysv_hash", "relocation_words", "mark_symbols", "select_pairs", "distinct",
             "symbol_rules_mask", "unique_hash_mask", "u16_mask", "max_u32", "canonical_chains", "lookup_batch",
             "make_references")


if __name__ == "__main__":  # `python -m linkaudit.accel`: which implementation this installation runs
    print(WHY)
