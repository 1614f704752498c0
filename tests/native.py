"""Parametrisation over the two implementations of a native helper: numpy / tantivy-py
(``False``) and ``newssearch_native`` (``True``, marked ``native``: skipped where the module is
not built, which fails a CI run; see tests/conftest.py)."""

from __future__ import annotations

import importlib.util

import pytest

INSTALLED = importlib.util.find_spec("newssearch_native") is not None
REASON = "newssearch_native is not built here (scripts/setup builds it where cargo is installed)"

#: ``@pytest.mark.parametrize("native", NATIVE)``
NATIVE = [
    pytest.param(False, id="python"),
    pytest.param(
        True,
        id="native",
        marks=[pytest.mark.native, pytest.mark.skipif(not INSTALLED, reason=REASON)],
    ),
]
