"""Load a YAML file into a pydantic model, or fail with a message a plant engineer can act on.

Every problem names the file, the key path inside it, the line, and what was expected, e.g.::

    configs/demo-plant.yaml: invalid configuration
      - sites[0].areas[0].lines[0].cells[1].assets[0].sim.mttr_s (line 31): Input should be greater
        than 0; got -5

Strings may refer to the environment as ``${NAME}`` or ``${NAME:-default}`` so ports, hosts and
paths can change per deployment; secrets are never read from YAML at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError, ValidationInfo

M = TypeVar("M", bound=BaseModel)
#: validation context key: the folder of the file being read, for paths written relative to it
CONFIG_DIR = "config_dir"
#: validation context key: the file being read, for warnings that name it
CONFIG_FILE = "config_file"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A configuration file that cannot be used; `str()` is the full, user-facing message."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{self.path}: invalid configuration\n" + "\n".join(f"  - {p}" for p in problems))


def load_config(path: Path | str, model: type[M], env: Mapping[str, str] | None = None) -> M:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the file: {exc.strerror or exc}"]) from None
    return parse_config(text, model, source=path, env=env)


def parse_config(text: str, model: type[M], source: Path | str = "<config>",
                 env: Mapping[str, str] | None = None) -> M:
    environ = {**os.environ, **(env or {})}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(source, [f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict):
        raise ConfigError(source, ["expected a mapping of keys at the top of the file"])
    problems: list[str] = []
    data = _substitute(data, environ, (), problems, node)
    if problems:
        raise ConfigError(source, problems)
    try:
        return model.model_validate(data, context={CONFIG_DIR: Path(source).parent, CONFIG_FILE: str(source)})
    except ValidationError as exc:
        raise ConfigError(source, [p for err in exc.errors() for p in _describe(err, node)]) from None


def relative_to_config(path: Path, info: ValidationInfo) -> Path:
    """A path from a config file: relative to that file's folder (as a folder of drafts is written), or, for
    files written before that convention, to the working folder when only that one exists."""
    base = (info.context or {}).get(CONFIG_DIR)
    if path.is_absolute() or base is None:
        return path
    beside = Path(base) / path
    return path if not beside.exists() and path.exists() else beside


def _substitute(value: Any, env: Mapping[str, str], loc: tuple[Any, ...], problems: list[str],
                root: yaml.Node | None) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, env, (*loc, k), problems, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env, (*loc, i), problems, root) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        path, line = _locate(root, loc)
        problems.append(f"{path}{line}: environment variable {name} is not set and has no default")
        return m.group(0)

    return _ENV_REF.sub(replace, value)


def _describe(err: Any, root: yaml.Node | None) -> list[str]:
    """One line per problem; a validator's message may hold several, each starting with its own key path
    below the error's location (``sites[0].areas[0].lines[0].flow[2]: ...``), which is then located too."""
    kind, msg = err["type"], err["msg"]
    if kind == "missing":
        msg = "required key is missing"
    elif kind == "extra_forbidden":
        msg = "unknown key (check its spelling and indentation)"
    elif msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
    got = err.get("input")
    if kind not in ("missing", "extra_forbidden") and not isinstance(got, dict | list):
        msg += f"; got {got!r}"
    out = []
    for part in msg.split("\n"):
        loc, text = tuple(err["loc"]), part
        m = _LEADING_PATH.match(part)
        if m:
            loc, text = (*loc, *_path_items(m.group(1))), m.group(2)
        path, line = _locate(root, loc)
        out.append(f"{path or '(top level)'}{line}: {text}")
    return out


_LEADING_PATH = re.compile(r"^([A-Za-z_][\w-]*(?:\[\d+\]|\.[\w-]+)*): (.*)$", re.DOTALL)
_PATH_ITEM = re.compile(r"\[(\d+)\]|\.?([\w-]+)")


def _path_items(path: str) -> list[str | int]:
    return [int(m.group(1)) if m.group(1) is not None else m.group(2) for m in _PATH_ITEM.finditer(path)]


def _locate(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[str, str]:
    """Walk the YAML node tree along a pydantic error location: dotted path and ' (line N)'.

    Locations of tagged unions contain the tag (``sources.0.opcua.endpoint``); elements that do not
    match the document are skipped, except a last one (the name of a missing key).
    """
    node, parts = root, []
    for i, item in enumerate(loc):
        child = _child(node, item)
        if child is None:
            if i == len(loc) - 1:
                parts.append(f"[{item}]" if isinstance(item, int) else f".{item}")
            continue
        parts.append(f"[{item}]" if isinstance(item, int) else f".{item}")
        node = child
    line = f" (line {node.start_mark.line + 1})" if node is not None else ""
    return "".join(parts).lstrip("."), line


def _child(node: yaml.Node | None, item: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((v for k, v in node.value if getattr(k, "value", None) == str(item)), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(item, int) and 0 <= item < len(node.value):
        return node.value[item]
    return None
