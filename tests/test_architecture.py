"""Dependencies run one way; the packages meet only on protocols. Checked by walking every import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from support import PROJECT

PACKAGES = ["plantmodel", "analytics", "historian", "simulators", "edge_agent", "twin", "factory_twin"]
ALLOWED = {
    "plantmodel": set(),
    "analytics": {"plantmodel"},
    "historian": {"plantmodel"},
    "simulators": {"plantmodel"},
    "edge_agent": {"plantmodel", "historian"},
    "twin": {"plantmodel", "historian", "analytics"},
    "factory_twin": set(PACKAGES),
}
#: analytics is pure computation: arrays and events in, numbers out.
IMPURE = {"socket", "asyncio", "time", "os", "pathlib", "sqlite3", "subprocess", "threading", "io", "shutil",
          "paho", "asyncua", "fastapi", "httpx", "urllib", "requests", "open"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package: str) -> None:
    files = list((PROJECT / package).rglob("*.py"))
    assert files, f"{package} has no modules"
    for path in files:
        internal = _imports(path) & set(PACKAGES) - {package}
        assert internal <= ALLOWED[package], f"{path.relative_to(PROJECT)} imports {internal - ALLOWED[package]}"


def test_analytics_does_no_io() -> None:
    for path in (PROJECT / "analytics").rglob("*.py"):
        assert not _imports(path) & IMPURE, f"{path.relative_to(PROJECT)} imports {_imports(path) & IMPURE}"
        calls = {n.func.id for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name)}
        assert "open" not in calls, path
