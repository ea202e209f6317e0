"""Registry answers remembered on disk for a local SQLite registry (``tracking.remembered``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sentimentops.config import get_settings
from sentimentops.errors import ModelNotFoundError
from sentimentops.tracking import loading
from sentimentops.tracking.fetch import fetch_version
from sentimentops.tracking.remembered import recall, remember
from tests.user import user_env

CHAMPION = "models:/imdb-sentiment@champion"

# What a command sees of the champion, and whether it had to import MLflow to see it.
_LOOKUP = """
import json, sys
from sentimentops.tracking.loading import fetched
found = fetched("models:/imdb-sentiment@champion")
print(json.dumps({"mlflow": "mlflow" in sys.modules, "version": found.version,
                  "folder": found.folder, "tags": found.info.tags}))
"""


def _lookup(home: Path) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-c", _LOOKUP], env=user_env(home), capture_output=True, text=True,
        timeout=300, check=True,
    )  # fmt: skip
    answer: dict[str, object] = json.loads(completed.stdout.splitlines()[-1])
    return answer


def _use(home: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    monkeypatch.setenv("SENTIMENTOPS_HOME", str(home))
    get_settings.cache_clear()
    loading._FETCHED.clear()
    return f"sqlite:///{(home / 'mlflow.db').resolve()}", home / "cache" / "registry"


def test_a_second_command_finds_the_champion_without_importing_mlflow(user_home: Path) -> None:
    first, second = _lookup(user_home), _lookup(user_home)

    assert first["mlflow"] is True
    assert second["mlflow"] is False
    assert {k: v for k, v in second.items() if k != "mlflow"} == {
        k: v for k, v in first.items() if k != "mlflow"
    }


def test_a_change_in_the_registry_is_seen_by_the_next_command(user_home: Path) -> None:
    from mlflow import MlflowClient

    _lookup(user_home)
    client = MlflowClient(f"sqlite:///{user_home / 'mlflow.db'}")
    client.set_model_version_tag("imdb-sentiment", "1", "reviewed_by", "ana")
    tagged = _lookup(user_home)
    client.delete_registered_model_alias("imdb-sentiment", "champion")
    gone = subprocess.run(
        [sys.executable, "-c", _LOOKUP], env=user_env(user_home), capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip

    assert tagged["mlflow"] is True
    assert isinstance(tagged["tags"], dict)
    assert tagged["tags"]["reviewed_by"] == "ana"
    assert gone.returncode != 0
    assert "ModelNotFoundError" in gone.stderr


def test_an_answer_asked_while_the_registry_changed_is_not_kept(
    user_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracking_uri, cache = _use(user_home, monkeypatch)
    before = recall(CHAMPION, tracking_uri, cache, with_reference=False)
    answer = fetch_version(CHAMPION)

    remember(CHAMPION, tracking_uri, cache, answer, "fingerprint of another moment")
    assert recall(CHAMPION, tracking_uri, cache, with_reference=False).answer is None
    remember(CHAMPION, tracking_uri, cache, answer, before.fingerprint)
    assert recall(CHAMPION, tracking_uri, cache, with_reference=False).answer == answer


def test_the_reference_sample_is_remembered_with_the_answer_that_asked_for_it(
    user_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracking_uri, cache = _use(user_home, monkeypatch)
    with_sample = loading.fetched(CHAMPION, with_reference=True)
    loading._FETCHED.clear()

    again = recall(CHAMPION, tracking_uri, cache, with_reference=True).answer
    assert with_sample.reference is not None
    assert again is not None
    assert again.reference is not None
    assert again.reference.equals(with_sample.reference)
    # An answer without the sample does not stand in for one asked with it.
    assert recall(CHAMPION, tracking_uri, cache, with_reference=False).answer is None


def test_model_files_removed_since_are_asked_for_again(
    user_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracking_uri, cache = _use(user_home, monkeypatch)
    found = loading.fetched(CHAMPION)
    loading._FETCHED.clear()
    shutil.rmtree(found.folder)

    assert recall(CHAMPION, tracking_uri, cache, with_reference=False).answer is None
    with pytest.raises(ModelNotFoundError):
        loading.load_version(CHAMPION)


@pytest.mark.parametrize(
    "tracking_uri", ["http://127.0.0.1:9/", "postgresql://localhost/test", "sqlite:///absent.db"]
)
def test_other_registries_are_always_asked(tracking_uri: str, tmp_path: Path) -> None:
    remembered = recall(CHAMPION, tracking_uri, tmp_path, with_reference=False)

    assert remembered.answer is None
    assert remembered.fingerprint is None
