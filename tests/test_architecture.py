"""Dependencies run one way; the packages meet only on protocols. Checked by walking every import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from support import PROJECT

PACKAGES = ["plantmodel", "analytics", "historian", "simulators", "edge_agent", "twin", "planning", "factory_twin",
            "benchmarks"]
#: what the image installs; benchmarks/ (and tests/) run from a source checkout only
SHIPPED = set(PACKAGES) - {"benchmarks"}
ALLOWED = {
    "plantmodel": set(),
    "analytics": {"plantmodel"},
    "historian": {"plantmodel"},
    "simulators": {"plantmodel"},
    "edge_agent": {"plantmodel", "historian"},
    "twin": {"plantmodel", "historian", "analytics"},  # the planner is handed to it (twin.plan_request.Planner)
    "planning": {"plantmodel", "analytics", "simulators", "historian"},  # historian: calibration reads history
    "factory_twin": SHIPPED - {"factory_twin"},
    "benchmarks": set(PACKAGES),
}
#: the one reach from the shipped code into benchmarks/: `factory-twin bench` hands over to it when it is there
OPTIONAL = {"factory_twin/cli.py": {"benchmarks"}}
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
        allowed = ALLOWED[package] | OPTIONAL.get(path.relative_to(PROJECT).as_posix(), set())
        assert internal <= allowed, f"{path.relative_to(PROJECT)} imports {internal - allowed}"


def _imports_benchmarks(node: ast.AST) -> bool:
    return any((isinstance(n, ast.Import) and any(a.name.split(".")[0] == "benchmarks" for a in n.names))
               or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "benchmarks")
               for n in ast.walk(node))


def test_the_shipped_packages_run_without_benchmarks() -> None:
    """The command line imports benchmarks/ only inside a function, in a try that catches its absence."""
    for path, _ in OPTIONAL.items():
        tree = ast.parse((PROJECT / path).read_text())
        assert not any(_imports_benchmarks(n) for n in tree.body
                       if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)), path
        guarded = [t for t in ast.walk(tree) if isinstance(t, ast.Try) and any(map(_imports_benchmarks, t.body))
                   and any(isinstance(h.type, ast.Name) and h.type.id == "ModuleNotFoundError" for h in t.handlers)]
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) and _imports_benchmarks(n)]
        assert imports and all(any(n in ast.walk(t) for t in guarded) for n in imports), \
            f"{path}: an import of benchmarks outside try/except ModuleNotFoundError"


def test_analytics_does_no_io() -> None:
    for path in (PROJECT / "analytics").rglob("*.py"):
        assert not _imports(path) & IMPURE, f"{path.relative_to(PROJECT)} imports {_imports(path) & IMPURE}"
        calls = {n.func.id for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name)}
        assert "open" not in calls, path
