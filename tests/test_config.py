"""Settings: packaged defaults, a user file, environment variables, and clear errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sentimentops.config import default_config_path, get_settings, load_settings
from sentimentops.errors import ConfigError
from tests.user import run_cli


def test_packaged_defaults_are_complete_and_valid() -> None:
    settings = load_settings()

    assert default_config_path().is_file()
    assert settings.split.mode == "random"
    assert (settings.split.train_fraction, settings.split.test_fraction) == (0.7, 0.2)
    assert settings.features.tfidf.ngram_range == (1, 2)


def test_file_overrides_defaults_and_environment_overrides_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "mine.yaml"
    config.write_text("split:\n  seed: 5\n  mode: official\nfeatures:\n  tfidf:\n    min_df: 3\n")
    monkeypatch.setenv("SENTIMENTOPS_SPLIT__SEED", "9")

    settings = load_settings(config)

    assert settings.split.seed == 9
    assert settings.split.mode == "official"
    assert settings.features.tfidf.min_df == 3
    assert settings.features.tfidf.ngram_range == (1, 2)  # deep merge keeps the other defaults


def test_home_follows_sentimentops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENTOPS_HOME", str(tmp_path / "state"))

    settings = load_settings()

    assert settings.state_path("reports", "x.json") == tmp_path / "state" / "reports" / "x.json"


def test_get_settings_reads_the_config_file_variable_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("split:\n  seed: 123\n")
    monkeypatch.setenv("SENTIMENTOPS_CONFIG", str(config))

    assert get_settings().split.seed == 123
    assert get_settings() is get_settings()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("split:\n  train_fraction: 1.5\n", r"split.train_fraction: Input should be less than 1"),
        ("split:\n  mode: sideways\n", r"split.mode: Input should be 'random' or 'official'"),
        ("split:\n  train_fraction: 0.8\n", r"must be 1.0, got 1.1"),
        ("data:\n  text_column: sentiment\n", r"text_column and label_column must name diff"),
        (
            "splitt:\n  seed: 1\n",
            r"splitt \(in .*bad.yaml\) is not a setting: did you mean split\?",
        ),
        ("features:\n  tfidf:\n    ngram_range: [3, 1]\n", r"low <= high"),
        ("- just\n- a list\n", r"must hold a mapping"),
        ("split: [unclosed\n", r"is not valid YAML"),
        # 0 is SQS short polling: an idle worker would call SQS in a tight loop.
        ("cloud:\n  wait_seconds: 0\n", r"cloud.wait_seconds: Input should be greater than or"),
        # Shares of traffic: a share past 1 is a typo, not "everything".
        ("serving:\n  shadow_share: 1.5\n", r"serving.shadow_share: Input should be less than or"),
        ("serving:\n  canary_share: -0.1\n", r"serving.canary_share: Input should be greater"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content)

    with pytest.raises(ConfigError, match=message):
        load_settings(config)


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENTOPS_VALIDATION__MAX_TEXT_CHARS", "-1")

    with pytest.raises(ConfigError, match="SENTIMENTOPS_VALIDATION__MAX_TEXT_CHARS"):
        load_settings()


def test_rollout_shares_come_from_their_fixed_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = load_settings().serving
    monkeypatch.setenv("SENTIMENTOPS_SERVING__SHADOW_SHARE", "0.5")
    monkeypatch.setenv("SENTIMENTOPS_SERVING__CANARY_SHARE", "0.1")
    serving = load_settings().serving

    assert (defaults.shadow_share, defaults.canary_share) == (0.0, 0.0)  # off by default
    assert defaults.challenger_uri == "models:/imdb-sentiment@challenger"
    assert (serving.shadow_share, serving.canary_share) == (0.5, 0.1)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")


def test_a_typo_in_the_config_file_names_the_file_the_key_and_the_closest_setting(
    tmp_path: Path,
) -> None:
    config = tmp_path / "mine.yaml"
    config.write_text("split: {sed: 7}\n")

    completed = run_cli("--config", str(config), "data", "split", home=tmp_path / "home")

    message = " ".join(completed.stderr.split())
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert f"split.sed (in {config}) is not a setting: did you mean split.seed?" in message
    assert "SENTIMENTOPS_SPLIT__SED" not in message  # no such variable to suggest


def test_a_misspelt_variable_is_refused_or_warned_of_naming_the_closest_setting(
    tmp_path: Path,
) -> None:
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("review\nA fine film.\n")
    validate = ("data", "validate", str(reviews), "--no-labels")

    unknown_section = run_cli(*validate, home=tmp_path / "home", SENTIMENTOPS_SPLT__SEED="7")
    unknown_key = run_cli(*validate, home=tmp_path / "home", SENTIMENTOPS_SPLIT__SED="7")

    assert unknown_section.returncode == 0, unknown_section.stdout + unknown_section.stderr
    assert (
        "SENTIMENTOPS_SPLT__SEED is not a sentimentops setting and is ignored: did you mean "
        "SENTIMENTOPS_SPLIT__SEED (split.seed)?" in " ".join(unknown_section.stderr.split())
    )
    assert unknown_key.returncode == 2
    assert (
        "split.sed (in the environment variable SENTIMENTOPS_SPLIT__SED) is not a setting: did "
        "you mean split.seed (SENTIMENTOPS_SPLIT__SEED)?" in " ".join(unknown_key.stderr.split())
    )


def test_variables_of_ours_that_are_not_settings_are_not_warned_of(tmp_path: Path) -> None:
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("review\nA fine film.\n")
    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")

    completed = run_cli(
        "data", "validate", str(reviews), "--no-labels",
        home=tmp_path / "home", SENTIMENTOPS_CONFIG=str(config), SENTIMENTOPS_API_KEY="k",
        SENTIMENTOPS_IMAGE="sentimentops:latest", SENTIMENTOPS_SPLIT__SEED="7",
        SENTIMENTOPS_FEATURES__TFIDF__MIN_DF="3",
    )  # fmt: skip

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "not a sentimentops setting" not in completed.stderr


def test_an_unknown_variable_is_warned_of_once_per_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SENTIMENTOPS_MONITORNG__SEED", "7")

    with caplog.at_level(logging.WARNING, logger="sentimentops.config"):
        load_settings()
        load_settings()

    warned = [record.getMessage() for record in caplog.records]
    assert warned == [
        "SENTIMENTOPS_MONITORNG__SEED is not a sentimentops setting and is ignored: did you mean "
        "SENTIMENTOPS_MONITORING__SEED (monitoring.seed)?"
    ]
