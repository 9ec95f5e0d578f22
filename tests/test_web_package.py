"""The web UI ships inside the package and needs no network: what a plant's offline network requires."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch

from support import PROJECT

WEB = PROJECT / "twin" / "web"


def test_every_web_file_is_package_data() -> None:
    patterns = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["twin"]
    files = [p.relative_to(WEB.parent).as_posix() for p in WEB.rglob("*") if p.is_file()]
    assert "web/index.html" in files
    missing = [f for f in files if not any(fnmatch(f, pat) and f.count("/") == pat.count("/") for pat in patterns)]
    assert not missing, f"not in [tool.setuptools.package-data] twin: {missing}"


def test_the_ui_loads_nothing_from_elsewhere() -> None:
    remote = re.compile(r"""(?:src|href|import|from|url\()\s*=?\s*["'(]?\s*(?:https?:)?//""", re.IGNORECASE)
    found = [f"{p.name}: {m.group()}" for p in WEB.rglob("*") if p.is_file()
             for m in remote.finditer(p.read_text())]
    assert not found, found


def test_modules_import_only_modules_that_exist() -> None:
    for js in WEB.rglob("*.js"):
        for target in re.findall(r"""from\s+["'](\.{1,2}/[^"']+)["']""", js.read_text()):
            assert (js.parent / target).resolve().is_file(), f"{js.name} imports {target}, which is not there"
