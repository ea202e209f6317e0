"""Who meets the challenger: hash draws, the same in every process, independent per purpose."""

from __future__ import annotations

from sentimentops.serving.rollout import caller_key, in_canary, in_shadow, share_of, text_key


def test_the_caller_is_the_client_id_else_the_texts() -> None:
    assert caller_key("app-7") == "client:app-7"
    assert caller_key(None) is None
    assert caller_key("") is None
    assert text_key(["a", "b"]) != text_key(["ab"])


def test_draws_are_fixed_values_spread_over_the_unit_interval() -> None:
    # Fixed across processes and releases (a sticky client must stay on its side).
    assert share_of("client:app-7", "canary") == share_of("client:app-7", "canary")
    draws = [share_of(f"client:{i}", "canary") for i in range(10_000)]
    assert all(0 <= draw < 1 for draw in draws)
    assert sum(draw < 0.1 for draw in draws) in range(900, 1100)
    # The canary and shadow draws of one key are independent: another salt, another value.
    shadow = [share_of(f"client:{i}", "shadow") for i in range(10_000)]
    both = sum(c < 0.5 and s < 0.5 for c, s in zip(draws, shadow, strict=True))
    assert both in range(2300, 2700)


def test_shares_of_zero_and_one_take_none_and_all() -> None:
    keys = [f"request-{i}" for i in range(500)]
    assert not any(in_shadow(key, 0.0) or in_canary(key, 0.0) for key in keys)
    assert all(in_shadow(key, 1.0) and in_canary(key, 1.0) for key in keys)
