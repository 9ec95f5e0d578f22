"""The twin's routes take what they need as typed dependencies (twin.api.deps), never from app.state."""

from __future__ import annotations

import ast
from pathlib import Path

from support import AUTH_CONFIG, PROJECT

from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from twin.app_state import TwinServices, services_of
from twin.config import TwinConfig
from twin.main import create_app


def _reads_app_state(path: Path) -> list[int]:
    """Lines where a module reads `<x>.app.state`."""
    tree = ast.parse(path.read_text(), str(path))
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "state"
            and isinstance(n.value, ast.Attribute) and n.value.attr == "app"]


def test_no_route_reads_the_untyped_app_state() -> None:
    modules = [*(PROJECT / "twin" / "api").glob("*.py"), PROJECT / "twin" / "auth.py", PROJECT / "twin" / "limits.py"]
    found = {p.name: lines for p in modules if (lines := _reads_app_state(p))}
    assert not found, f"read twin.api.deps (or twin.app_state.services_of) instead of app.state: {found}"


def test_the_app_carries_one_typed_set_of_services(tmp_path: Path) -> None:
    plant = load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig)
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "broker": {"port": 1}, "auth": AUTH_CONFIG,
                                     "database": str(tmp_path / "twin.db")})
    app = create_app(cfg, plant)
    services = services_of(app)
    assert isinstance(services, TwinServices)
    assert services.config is cfg and services.plant is plant and services.alerts is services.performance.alerts
    assert not hasattr(app.state, "twin")  # one home: scripts and tests read services_of(app) too
    services.db.close()
