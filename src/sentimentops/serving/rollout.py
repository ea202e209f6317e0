"""Which requests the challenger sees: a canary share of clients it answers, a shadow share of
requests it scores too; drawn by hashes (docs/decisions.md, "Serving")."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final, Literal

__all__ = [
    "ROLES",
    "Role",
    "caller_key",
    "in_canary",
    "in_shadow",
    "share_of",
    "text_key",
]

Role = Literal["champion", "shadow", "canary"]
ROLES: Final[tuple[Role, ...]] = ("champion", "shadow", "canary")

_DENOMINATOR: Final = float(2**64)


def share_of(key: str, salt: str) -> float:
    """Where ``key`` falls in [0, 1), the same in every process (unlike ``hash()``); ``salt``
    keeps the canary and shadow draws independent of each other."""
    digest = hashlib.sha256(f"{salt}:{key}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / _DENOMINATOR


def caller_key(client_id: str | None) -> str | None:
    """The caller's key for canary stickiness, from X-Client-ID (None without it). Not the API
    key: shared by every client, it would put all on one side."""
    return f"client:{client_id}" if client_id else None


def text_key(texts: Sequence[str]) -> str:
    """An anonymous caller stands for its texts: the same text always meets the same model."""
    return "text:" + "\x1f".join(texts)


def in_canary(key: str, share: float) -> bool:
    """Whether the caller ``key`` is answered by the challenger."""
    return share > 0 and share_of(key, "canary") < share


def in_shadow(request_id: str, share: float) -> bool:
    """Whether ``request_id`` is also scored by the challenger, in shadow."""
    return share > 0 and share_of(request_id, "shadow") < share
