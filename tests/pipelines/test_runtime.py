"""Task options shared by the flows, on real flow runs: what is retried and what is not."""

from __future__ import annotations

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from sentimentops.config import get_settings
from sentimentops.errors import BadInputError, RejectLimitExceededError, StorageUnavailableError
from sentimentops.pipelines.runtime import io_task_options

attempted: list[str] = []
ERRORS = {
    "bad input": BadInputError("The input has no review column: name it with --text-column."),
    "storage": StorageUnavailableError("The object store failed: retry."),
    "rejects": RejectLimitExceededError("30 of 100 rows rejected, above --max-reject-rate."),
}


@task(cache_policy=NO_CACHE)
def failing(kind: str) -> None:
    attempted.append(kind)
    raise ERRORS[kind]


@flow
def run_failing(kind: str) -> None:
    failing.with_options(**io_task_options(get_settings()))(kind)


@pytest.mark.parametrize(
    ("kind", "error", "attempts"),
    [
        ("bad input", BadInputError, 1),
        ("rejects", RejectLimitExceededError, 1),
        ("storage", StorageUnavailableError, None),
    ],
)
def test_bad_input_is_not_retried_and_an_unavailable_store_is(
    kind: str, error: type[Exception], attempts: int | None
) -> None:
    retries = get_settings().pipeline.retries
    assert retries >= 1
    attempted.clear()

    with pytest.raises(error):
        run_failing(kind)

    assert attempted == [kind] * (attempts or retries + 1)
