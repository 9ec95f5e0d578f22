"""The examples in the simulation modules' docstrings run, so they stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["simulators.flow.line", "simulators.flow.estimate", "simulators.distributions", "analytics.flowline",
           "factory_twin.sim_oee"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
