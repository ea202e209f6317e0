"""docker-compose.yml as Compose reads it: variables interpolated from .env, YAML merge keys
resolved. The compose tests and the team-mode test read the stack from here, so what they run
is what the file says."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; $$ is a literal $.
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """``NAME=value`` lines, comments and blank lines skipped (the .env format compose reads)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution on one string.

    Raises:
        KeyError: a ``${NAME:?error}`` variable is unset or empty, as compose refuses it.
    """

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        value = env.get(name)
        unset = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":?", "?") and unset:
            raise KeyError(f"{name}: {arg}")
        if op in (":-", "-") and unset:
            return str(arg)
        return value or ""

    return _VARIABLE.sub(substitute, text)


def interpolate_document(node: Any, env: dict[str, str]) -> Any:
    """:func:`interpolate` on every string of a parsed compose file."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_document(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_document(value, env) for key, value in node.items()}
    return node


def raw_compose() -> dict[str, Any]:
    """The file as YAML, before interpolation (merge keys resolved by the YAML loader)."""
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@cache
def compose_with_example_env() -> dict[str, Any]:
    """The stack with the values of .env.example, as ``docker compose config`` would show it."""
    return dict(interpolate_document(raw_compose(), read_env_file()))


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping (compose allows a mapping or NAME=value items)."""
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {name: "" if value is None else str(value) for name, value in environment.items()}


def command_of(service: dict[str, Any], default_entrypoint: list[str]) -> list[str]:
    """The argv a service runs: its entrypoint (or the image's) followed by its command."""
    entrypoint = service.get("entrypoint", default_entrypoint)
    command = service.get("command", [])
    assert isinstance(entrypoint, list), "use the exec (list) form"
    assert isinstance(command, list), "use the exec (list) form"
    return [str(part) for part in [*entrypoint, *command]]
