"""Commands whose capability is not built yet: they say so honestly and exit with code 2."""

from __future__ import annotations

from collections.abc import Callable

import typer

from sentimentops.errors import FeatureNotBuiltError

__all__ = ["PLANNED_CAPABILITIES", "register_planned"]

# name -> (what it will do, the issue that builds it)
PLANNED_CAPABILITIES: dict[str, tuple[str, str]] = {
    "pipeline": ("Run and schedule the Prefect flows", "#7 (orchestration)"),
}


def register_planned(app: typer.Typer) -> None:
    """Add a placeholder command per planned capability to ``app``."""
    for name, (purpose, issue) in PLANNED_CAPABILITIES.items():
        app.command(
            name,
            help=f"(not built yet) {purpose}. Arrives with issue {issue}.",
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
            add_help_option=False,
        )(_placeholder(name, purpose, issue))


def _placeholder(name: str, purpose: str, issue: str) -> Callable[[], None]:
    def command() -> None:
        raise FeatureNotBuiltError(
            f"`sentimentops {name}` is not built yet ({purpose.lower()}); it arrives with "
            f"issue {issue}. Available now: `sentimentops data --help`."
        )

    return command
