"""The examples in analytics' docstrings run, so they cannot drift from the code."""

from __future__ import annotations

import doctest
import importlib

import pytest
from support import PROJECT

MODULES = sorted(".".join(p.relative_to(PROJECT).with_suffix("").parts) for p in (PROJECT / "analytics").rglob("*.py")
                 if p.name != "__init__.py")


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
