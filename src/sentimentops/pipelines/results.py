"""Cached task results stored with skops and the project's trusted types, never pickle; a record
this serializer did not write is removed unread (docs/decisions.md, Training)."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from prefect.serializers import D, Serializer  # D: Prefect's own type variable, see below
from pydantic import Field

__all__ = ["SKOPS_SERIALIZER", "SkopsResultSerializer", "trusted_cache_key"]

log = logging.getLogger(__name__)

SKOPS_SERIALIZER = "sentimentops-skops"

_DATACLASS = "__dataclass__"
_REFERENCE = "__same_as__"  # a dataclass already stored (TrainingResult.chosen is a candidate)
_FRAME = "__parquet__"
_FRAME_COLUMNS = "__frame_columns__"  # a frame Parquet cannot hold (cv_results: dict cells)


def _result_classes() -> dict[str, type]:
    """The dataclasses a cached result may hold, by name: nothing else is rebuilt."""
    from sentimentops.batch.sink import BatchSummary
    from sentimentops.data.split import DatasetSplits
    from sentimentops.models.train import CandidateResult, TrainingResult

    classes: list[type] = [BatchSummary, CandidateResult, DatasetSplits, TrainingResult]
    return {cls.__name__: cls for cls in classes}


# Parametrised with Prefect's own type variable, as its serializers are: any other parameter
# (Serializer[Any]) makes pydantic create a subclass that registers as a nameless serializer.
class SkopsResultSerializer(Serializer[D]):
    """Prefect result serializer: skops with the trusted types, for the cached tasks."""

    type: str = Field(default=SKOPS_SERIALIZER, frozen=True)

    def dumps(self, obj: D) -> bytes:
        from sentimentops.tracking.flavor import import_skops

        skops_io = import_skops()
        # Base64, as Prefect's own pickle serializer: the blob is embedded in a JSON record.
        return base64.b64encode(skops_io.dumps(_Encoder().encode(obj)))

    def loads(self, blob: bytes) -> D:
        from sentimentops.tracking.flavor import SKOPS_TRUSTED_TYPES, import_skops

        tree = import_skops().loads(base64.b64decode(blob), trusted=SKOPS_TRUSTED_TYPES)
        result: D = _Decoder(_result_classes()).decode(tree)
        return result


def trusted_cache_key(key: str, storage: Path) -> str:
    """``key``, once any record under it :class:`SkopsResultSerializer` did not write is removed
    (Prefect then runs the task again); for cache-key functions, before Prefect looks it up."""
    record = storage / key
    if record.is_file() and not _written_by_us(record.read_bytes()):
        log.warning("cached result %s was not written by sentimentops: removed, not read", record)
        record.unlink()
    return key


def _written_by_us(content: bytes) -> bool:
    """Whether a result record names this serializer; nothing in it is deserialised."""
    try:
        return bool(json.loads(content)["metadata"]["serializer"]["type"] == SKOPS_SERIALIZER)
    except (ValueError, KeyError, TypeError):
        return False


class _Encoder:
    def __init__(self) -> None:
        self.seen: dict[int, int] = {}  # id of a stored dataclass -> its number

    def encode(self, value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._dataclass(value)
        if isinstance(value, pd.DataFrame):
            return _frame(value)
        if isinstance(value, dict):
            return {key: self.encode(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            items = [self.encode(item) for item in value]
            return items if isinstance(value, list) else tuple(items)
        return value  # numbers, text, bytes, arrays and models: skops's own business

    def _dataclass(self, value: Any) -> dict[str, Any]:
        if id(value) in self.seen:
            return {_REFERENCE: self.seen[id(value)]}
        self.seen[id(value)] = len(self.seen)
        fields = {
            field.name: self.encode(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
        return {_DATACLASS: type(value).__name__, "fields": fields}


def _frame(frame: pd.DataFrame) -> dict[str, Any]:
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer)
    except (ValueError, TypeError, NotImplementedError):  # pyarrow's Arrow*Error subclass these
        # Cells Parquet has no type for (dicts of parameters): column by column instead.
        columns = {str(name): list(frame[name]) for name in frame.columns}
        return {_FRAME_COLUMNS: columns, "index": list(frame.index)}
    return {_FRAME: buffer.getvalue()}


class _Decoder:
    def __init__(self, classes: dict[str, type]) -> None:
        self.classes = classes
        self.built: list[Any] = []

    def decode(self, value: Any) -> Any:
        if isinstance(value, dict):
            return self._dict(value)
        if isinstance(value, list):
            return [self.decode(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.decode(item) for item in value)
        return value

    def _dict(self, value: dict[str, Any]) -> Any:
        if _FRAME in value:
            return pd.read_parquet(io.BytesIO(value[_FRAME]))
        if _FRAME_COLUMNS in value:
            return pd.DataFrame(value[_FRAME_COLUMNS], index=value["index"])
        if _REFERENCE in value:
            return self.built[value[_REFERENCE]]
        if _DATACLASS in value:
            return self._dataclass(value)
        return {key: self.decode(item) for key, item in value.items()}

    def _dataclass(self, value: dict[str, Any]) -> Any:
        cls = self.classes.get(value[_DATACLASS])
        if cls is None:
            raise TypeError(f"a cached result names {value[_DATACLASS]!r}, not a result class")
        slot = len(self.built)
        self.built.append(None)  # numbered in encoding order, before its fields
        fields = {name: self.decode(item) for name, item in value["fields"].items()}
        self.built[slot] = cls(**fields)
        return self.built[slot]
