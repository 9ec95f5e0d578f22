"""The examples in docstrings are run, in every package, so they cannot drift from the code."""

from __future__ import annotations

import doctest
import importlib

import pytest
from support import PROJECT

PACKAGES = ("plantmodel", "analytics", "historian", "simulators", "edge_agent", "twin", "planning", "factory_twin",
            "benchmarks")
MODULES = sorted(".".join(p.relative_to(PROJECT).with_suffix("").parts)
                 for pkg in PACKAGES for p in (PROJECT / pkg).rglob("*.py")
                 if p.name not in ("__init__.py", "__main__.py"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_the_examples_cover_the_packages() -> None:
    attempted = {name.split(".")[0] for name in MODULES
                 if doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS).attempted}
    assert {"plantmodel", "analytics", "historian", "simulators", "planning", "factory_twin"} <= attempted
