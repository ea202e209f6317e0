"""Typed settings, built by :func:`get_settings`: ``defaults.yaml`` (which documents each one) <
``--config FILE`` (``SENTIMENTOPS_CONFIG``) < ``SENTIMENTOPS_<SECTION>__<KEY>`` variables."""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from sentimentops.errors import ConfigError

__all__ = [
    "CONFIG_FILE_ENV",
    "ENV_PREFIX",
    "AlertSettings",
    "CandidateSettings",
    "CloudSettings",
    "DataSettings",
    "DownloadSettings",
    "FeatureSettings",
    "ModelFamily",
    "MonitoringSettings",
    "PipelineSettings",
    "PredictionLogSettings",
    "PreprocessingSettings",
    "RegistrySettings",
    "ScheduleSettings",
    "ServingSettings",
    "Settings",
    "SplitSettings",
    "TfidfSettings",
    "TrackingSettings",
    "TrainingSettings",
    "ValidationSettings",
    "default_config_path",
    "get_settings",
    "load_settings",
    "project_path",
    "source_checkout",
    "unknown_variables",
]

CONFIG_FILE_ENV = "SENTIMENTOPS_CONFIG"
ENV_PREFIX = "SENTIMENTOPS_"
# Our variables that are no setting: the config file, the images of compose and container tests.
NOT_SETTINGS = frozenset({CONFIG_FILE_ENV, "SENTIMENTOPS_IMAGE", "SENTIMENTOPS_TEST_IMAGE"})

log = logging.getLogger(__name__)

Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=1)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]  # what NumPy's generators accept


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)  # a typo in a file fails loudly


class DataSettings(_Section):
    reference_path: Path = Path("data/imdb/imdb_reviews.parquet")
    reference_sha256_path: Path = Path("data/imdb/imdb_reviews.parquet.sha256")
    text_column: str = "review"
    label_column: str = "sentiment"

    @model_validator(mode="after")
    def _text_and_label_differ(self) -> DataSettings:
        if self.text_column == self.label_column:
            raise ValueError(
                f"text_column and label_column must name different columns, both are "
                f"{self.text_column!r}"
            )
        return self

    def reference_files(self) -> tuple[Path, Path]:
        """The reference dataset and its checksum file, each found by :func:`project_path`."""
        return project_path(self.reference_path), project_path(self.reference_sha256_path)


class ValidationSettings(_Section):
    max_text_chars: Annotated[int, Field(gt=0)] = 100_000
    min_label_share: Annotated[float, Field(ge=0.0, le=0.5)] = 0.2
    quarantine_duplicates: bool = False


class SplitSettings(_Section):
    mode: Literal["random", "official"] = "random"
    seed: Seed = 42
    train_fraction: Fraction = 0.7
    validation_fraction: Fraction = 0.1
    test_fraction: Fraction = 0.2
    official_validation_fraction: Fraction = 0.1

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitSettings:
        total = self.train_fraction + self.validation_fraction + self.test_fraction
        if abs(total - 1.0) > 1e-9:
            raise ValueError(
                f"train_fraction + validation_fraction + test_fraction must be 1.0, got {total:g}"
            )
        return self


class PreprocessingSettings(_Section):
    strip_html: bool = True
    normalize_unicode: bool = True
    lowercase: bool = True
    remove_stopwords: bool = False
    keep_punctuation: bool = True


class TfidfSettings(_Section):
    ngram_range: tuple[Count, Count] = (1, 2)
    min_df: Count | Fraction = 2
    max_df: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    sublinear_tf: bool = True
    max_features: Count | None = None

    @model_validator(mode="after")
    def _ngram_range_ordered(self) -> TfidfSettings:
        low, high = self.ngram_range
        if low > high:
            raise ValueError(f"ngram_range must be (low, high) with low <= high, got {low, high}")
        return self


class FeatureSettings(_Section):
    tfidf: TfidfSettings = TfidfSettings()
    nb_weighting: bool = False
    nb_alpha: Positive = 1.0


class DownloadSettings(_Section):
    url: str = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    sha256: str = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
    timeout_seconds: Positive = 60.0


ModelFamily = Literal["logreg", "linear_svm", "random_forest", "nb_logreg"]


class CandidateSettings(_Section):
    """One model family: its feature settings and the hyperparameter grid to search."""

    features: FeatureSettings = FeatureSettings()
    params: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)


class TrainingSettings(_Section):
    models: list[ModelFamily] = ["logreg", "linear_svm", "random_forest", "nb_logreg"]
    search: Literal["grid", "halving"] = "grid"
    cv_folds: Annotated[int, Field(ge=2)] = 2
    n_jobs: int = 2
    seed: Seed = 42
    dask_scheduler: str | None = None
    refit_on_validation: bool = True
    candidates: dict[ModelFamily, CandidateSettings] = Field(default_factory=dict)


class TrackingSettings(_Section):
    uri: str | None = None
    experiment: str = "imdb-sentiment"
    timeout_seconds: Positive = 10.0
    artifact_location: str | None = None


class RegistrySettings(_Section):
    model_name: str = "imdb-sentiment"
    significance_level: Fraction = 0.05
    tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.002
    min_compared_rows: Count = 200
    reference_sample_rows: Annotated[int, Field(ge=10)] = 5000
    promotion: Literal["offline", "online"] = "offline"
    online_tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.01
    online_min_labelled: Count = 100


class PredictionLogSettings(_Section):
    """Where served predictions and feedback are logged: the input of ``monitor --from-log``."""

    url: str | None = None
    store_text: bool = True
    queue_size: Count = 10_000
    batch_size: Count = 256
    flush_seconds: Positive = 0.5
    spool_dir: Path | None = None
    # Per server process; a few pages hold the file's own structure.
    spool_max_bytes: Annotated[int, Field(ge=64 * 1024)] = 4 * 1024**3

    def resolved_url(self, home: Path) -> str:
        """``url``, or SQLite at ``home/prediction_log.db`` when unset."""
        return self.url or f"sqlite:///{(home / 'prediction_log.db').resolve()}"

    def resolved_spool_dir(self, home: Path) -> Path:
        """``spool_dir``, or ``home/spool`` when unset."""
        return (self.spool_dir or home / "spool").resolve()


class ServingSettings(_Section):
    """The prediction API (``sentimentops serve``)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    model_uri: str = "models:/imdb-sentiment@champion"
    max_body_bytes: Annotated[int, Field(ge=1024)] = 2 * 1024 * 1024
    max_text_chars: Count = 50_000
    max_batch_size: Count = 64
    request_timeout_seconds: Positive = 10.0
    max_concurrency: Count = 128
    micro_batch_wait_ms: NonNegative = 0.0
    micro_batch_max_size: Count = 64
    reload_interval_seconds: NonNegative = 30.0
    cors_origins: list[str] = Field(default_factory=list)
    expose_docs: bool | None = None  # None: exposed unless an API key guards the API
    # Rollout (docs/serving.md): the challenger scores a share of requests after the answer
    # (shadow), or answers a share of clients itself (canary); both 0: it is not loaded.
    challenger_uri: str = "models:/imdb-sentiment@challenger"
    shadow_share: Share = 0.0
    canary_share: Share = 0.0
    shadow_queue_size: Count = 1000
    shadow_busy_budget: Share = 0.04  # of the time shadow work may take while the champion is busy


class AlertSettings(_Section):
    """When a monitoring run raises an alert (exit code 3, webhook, log)."""

    on_text_drift: bool = True
    descriptor_drift_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    on_prediction_drift: bool = True
    min_accuracy: Fraction = 0.85
    min_labelled_rows: Count = 50
    min_estimated_accuracy: Fraction = 0.85
    max_reject_rate: Share = 0.05
    min_rows: Annotated[int, Field(ge=0)] = 100


class MonitoringSettings(_Section):
    """``sentimentops monitor``: drift, performance, label-free estimate, alerts."""

    reports_dir: str | None = None
    keep_reports: Count = 168
    sample_rows: Annotated[int, Field(ge=100)] = 10_000
    seed: Seed = 42
    text_drift_auc: Annotated[float, Field(gt=0.5, lt=1)] = 0.55
    drift_p_value: Fraction = 0.01
    confidence_level: Fraction = 0.95
    alerts: AlertSettings = AlertSettings()
    webhook_url: str | None = None
    webhook_timeout_seconds: Positive = 5.0
    # The Evidently workspace every run adds its snapshot to (the dashboard over time): a folder
    # (null: $SENTIMENTOPS_HOME/workspace), or the URL of a remote Evidently UI, which wins.
    workspace_dir: str | None = None
    workspace_url: str | None = None
    workspace_timeout_seconds: Positive = 10.0  # a remote workspace's answer, per run
    rollback_on_alert: bool = True


class ScheduleSettings(_Section):
    """Cron schedules (UTC by default) of ``sentimentops pipeline serve``; null: not scheduled."""

    training: str | None = None
    batch: str | None = "0 2 * * *"
    monitoring: str | None = "0 * * * *"
    retraining: str | None = "0 3 * * 0"
    timezone: str = "UTC"


class PipelineSettings(_Section):
    """The Prefect flows: retries, time limits, inputs of the scheduled runs, schedules."""

    retries: Annotated[int, Field(ge=0, le=10)] = 3
    retry_delay_seconds: NonNegative = 2.0
    io_timeout_seconds: Positive = 600.0
    training_timeout_seconds: Positive = 4 * 3600.0
    batch_timeout_seconds: Positive = 6 * 3600.0
    batch_input: str | None = None
    batch_output: str | None = None
    monitoring_window_hours: Positive = 24.0
    retraining_data: str | None = None
    retraining_use_feedback: bool = False
    retraining_sample: Annotated[int, Field(ge=100)] | None = None
    schedules: ScheduleSettings = ScheduleSettings()


class CloudSettings(_Section):
    """AWS edges; endpoint, region and credentials come from the AWS environment."""

    queue_url: str | None = None
    visibility_timeout_seconds: Annotated[int, Field(ge=1, le=43_200)] = 300
    # 0 (short polling) would have an idle worker call SQS in a tight loop.
    wait_seconds: Annotated[int, Field(ge=1, le=20)] = 10
    cloudwatch_metrics: bool = False
    cloudwatch_namespace: str = "SentimentOps"
    lambda_model: str | None = None


# The YAML files of the settings being built; a context variable keeps load_settings re-entrant.
_yaml_files: ContextVar[tuple[Path, ...]] = ContextVar("_yaml_files", default=())


class Settings(BaseSettings):
    """All settings of sentimentops. Build with :func:`get_settings` or :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_parse_none_str="null",  # as in YAML: SENTIMENTOPS_PIPELINE__BATCH_INPUT=null unsets
        extra="forbid",
        frozen=True,
    )

    home: Path = Path(".sentimentops")
    data: DataSettings = DataSettings()
    validation: ValidationSettings = ValidationSettings()
    split: SplitSettings = SplitSettings()
    preprocessing: PreprocessingSettings = PreprocessingSettings()
    features: FeatureSettings = FeatureSettings()
    download: DownloadSettings = DownloadSettings()
    training: TrainingSettings = TrainingSettings()
    tracking: TrackingSettings = TrackingSettings()
    registry: RegistrySettings = RegistrySettings()
    serving: ServingSettings = ServingSettings()
    prediction_log: PredictionLogSettings = PredictionLogSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    pipeline: PipelineSettings = PipelineSettings()
    cloud: CloudSettings = CloudSettings()
    api_key: SecretStr | None = None  # from the environment only: every endpoint but health

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_settings = YamlConfigSettingsSource(
            settings_cls, yaml_file=list(_yaml_files.get()), deep_merge=True
        )
        return (init_settings, env_settings, yaml_settings)

    def state_path(self, *parts: str) -> Path:
        """A path under ``home``, where every run keeps its state (splits, reports, models)."""
        return self.home.joinpath(*parts)


def source_checkout() -> Path | None:
    """The project folder when the package runs from a source checkout; None for a wheel."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def project_path(path: Path) -> Path:
    """``path`` when absolute or present here, else that path in the source checkout if there:
    the vendored ``data/imdb/`` is found from any working directory."""
    checkout = source_checkout()
    if path.is_absolute() or path.exists() or checkout is None or not (checkout / path).exists():
        return path
    return checkout / path


def default_config_path() -> Path:
    """The default YAML shipped inside the package."""
    return Path(str(files("sentimentops").joinpath("defaults.yaml")))


def load_settings(config_file: Path | None = None) -> Settings:
    """Settings from the defaults, ``config_file`` and the environment. Raises ConfigError for a
    missing or non-YAML file or invalid values, naming each setting and its variable."""
    yaml_files = [default_config_path()]
    if config_file is not None:
        yaml_files.append(_checked_config_file(config_file))
    _warn_of_unknown_variables(os.environ)
    token = _yaml_files.set(tuple(yaml_files))
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(_describe_validation_error(error, config_file)) from None
    finally:
        _yaml_files.reset(token)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, built once from ``SENTIMENTOPS_CONFIG`` (a file, if set).
    The CLI's ``--config`` sets that variable and calls ``get_settings.cache_clear()``."""
    config_file = os.environ.get(CONFIG_FILE_ENV)
    return load_settings(Path(config_file) if config_file else None)


def _checked_config_file(path: Path) -> Path:
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist. Pass an existing YAML file.")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"Config file {path} is not valid YAML: {error}") from None
    if content is not None and not isinstance(content, dict):
        raise ConfigError(
            f"Config file {path} must hold a mapping of sections (data:, split:, ...), "
            f"not a {type(content).__name__}."
        )
    if secret := _secret_in(content or {}):
        raise ConfigError(
            f"Config file {path} holds a secret ({secret}): secrets come only from the "
            "environment (SENTIMENTOPS_API_KEY, or the URL in SENTIMENTOPS_<SECTION>__URL), never "
            "from a file, which gets committed, copied and shown."
        )
    return path


def _secret_in(content: dict[str, Any], where: str = "") -> str | None:
    """The dotted name of a config file's first secret (the API key, a URL with a password)."""
    for key, value in content.items():
        name = f"{where}{key}"
        if str(key).lower() == "api_key" and value is not None:
            return name
        if isinstance(value, dict) and (found := _secret_in(value, f"{name}.")):
            return found
        if isinstance(value, str) and "://" in value and _has_password(value):
            return f"{name}: a URL with a password"
    return None


def _has_password(url: str) -> bool:
    try:
        return urlsplit(url).password is not None
    except ValueError:  # not a URL after all (a bad port, say): pydantic judges the value
        return False


def _describe_validation_error(error: ValidationError, config_file: Path | None) -> str:
    where = f"the defaults, {config_file}" if config_file else "the defaults"
    lines = [f"Invalid settings (from {where} and the environment):"]
    for problem in error.errors():
        location = [str(part) for part in problem["loc"]]
        env_name = _variable_of(location)
        if problem["type"] == "extra_forbidden":
            lines.append(f"  - {_unknown_key(location, env_name, config_file)}")
            continue
        given = problem.get("input")
        shown = "" if isinstance(given, dict) else f"got {given!r}; "
        lines.append(
            f"  - {'.'.join(location)}: {problem['msg']} ({shown}override with {env_name})"
        )
    return "\n".join(lines)


def _unknown_key(location: list[str], env_name: str, config_file: Path | None) -> str:
    """A key that is no setting: where it was given, and the closest real setting there."""
    from_environment = any(name.upper() == env_name for name in os.environ)
    where = (
        f"the environment variable {env_name}"
        if from_environment or config_file is None
        else str(config_file)
    )
    fields = _fields_under(location[:-1])
    if close := difflib.get_close_matches(location[-1], fields, n=1):
        suggested = [*location[:-1], close[0]]
        hint = f"did you mean {'.'.join(suggested)}"
        hint += f" ({_variable_of(suggested)})?" if from_environment else "?"
    else:
        parent = ".".join(location[:-1]) or "the top level"
        hint = f"the settings of {parent} are {', '.join(fields)}."
    return f"{'.'.join(location)} (in {where}) is not a setting: {hint}"


def _variable_of(location: Sequence[str]) -> str:
    """The environment variable of a setting: split.seed -> SENTIMENTOPS_SPLIT__SEED."""
    return ENV_PREFIX + "__".join(part.upper() for part in location)


def _fields_under(location: Sequence[str]) -> list[str]:
    """The settings directly under a dotted location (none if it is no section); a keyed
    section (the candidates by family) is stepped through by its key."""
    model: type[BaseModel] = Settings
    parts = list(location)
    while parts:
        field = model.model_fields.get(parts.pop(0))
        section = _section_of(field.annotation) if field is not None else None
        if section is None or (section[1] and not parts):
            return []
        model = section[0]
        if section[1]:
            parts.pop(0)
    return list(model.model_fields)


def _section_of(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """The section type of a field, and whether it is keyed (``dict[str, Section]``)."""
    keyed = get_origin(annotation) is dict
    model = get_args(annotation)[1] if keyed else annotation
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model, keyed
    return None


def _setting_names(model: type[BaseModel] = Settings, prefix: str = "") -> Iterator[str]:
    """The dotted name of every setting; a keyed section (the candidates) is one name."""
    for name, field in model.model_fields.items():
        section = _section_of(field.annotation)
        if section is not None and not section[1]:
            yield from _setting_names(section[0], f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def unknown_variables(environ: Mapping[str, str]) -> dict[str, str | None]:
    """The ``SENTIMENTOPS_*`` variables no setting reads, each with the closest setting's dotted
    name (or None). Those under a real section are left out: settings refuse them."""
    names = list(_setting_names())
    unknown: dict[str, str | None] = {}
    for variable in environ:
        upper = variable.upper()
        if not upper.startswith(ENV_PREFIX) or upper in NOT_SETTINGS:
            continue
        rest = upper.removeprefix(ENV_PREFIX).lower()
        if rest.split("__")[0] not in Settings.model_fields:
            close = difflib.get_close_matches(rest.replace("__", "."), names, n=1)
            unknown[variable] = close[0] if close else None
    return unknown


_warned: set[str] = set()


def _warn_of_unknown_variables(environ: Mapping[str, str]) -> None:
    """Log each unknown ``SENTIMENTOPS_*`` variable once per process: a misspelt override would
    otherwise be ignored without a word (a user's mistake, so logged, not ``warnings.warn``)."""
    for variable, closest in unknown_variables(environ).items():
        if variable in _warned:
            continue
        _warned.add(variable)
        hint = (
            f"did you mean {_variable_of(closest.split('.'))} ({closest})?"
            if closest
            else "every setting is in the packaged defaults.yaml (SENTIMENTOPS_<SECTION>__<KEY>)."
        )
        log.warning("%s is not a sentimentops setting and is ignored: %s", variable, hint)
