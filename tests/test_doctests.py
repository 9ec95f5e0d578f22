"""The examples in docstrings are run, so they stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest
from support import PROJECT

MODULES = [*sorted(".".join(p.relative_to(PROJECT).with_suffix("").parts)
                   for pkg in ("analytics", "plantmodel") for p in (PROJECT / pkg).rglob("*.py")
                   if p.name != "__init__.py"), "factory_twin.oee_calc"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
