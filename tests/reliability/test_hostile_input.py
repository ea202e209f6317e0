"""Hostile inputs (issue #10, item 7): every case of ``corpus/`` driven through the HTTP API
(v1 single, v1 batch, v2 infer), the batch CLI and, where it reads the same files, data
validation. Each gets a clear 4xx or exit code 2, or is rejected row by row with a reason, and
nothing is lost: output rows + rejected rows = input rows, and the prediction log holds exactly
the predictions that were answered.

The corpus's small files are committed; the 10 MB text and the huge batches are made here.
``corpus/README.md`` lists every case and what it probes.
"""

from __future__ import annotations

import codecs
import csv
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner, Result

from sentimentops.batch.sink import rejects_path, summary_path
from sentimentops.cli.main import app
from sentimentops.config import get_settings
from sentimentops.serving.app import create_app
from tests.servers import moto_s3
from tests.serving.conftest import wait_ready

CORPUS = Path(__file__).parent / "corpus"
TEN_MB = 10 * 1024 * 1024
GOOD = "A wonderful, moving film with superb acting."
PREDICTION_ENDPOINTS = ["/v1/predict", "/v1/predict/batch", "/v2/models/{name}/infer"]
# Blank by one definition (sentimentops.features.blank) at every site: U+FEFF is whitespace to
# JavaScript's \s only, U+001C and U+0085 to Python's str.isspace() only, U+3000 to both.
BLANK_BY_EITHER_FLAVOUR = ["\ufeff", "\x1c", "\x85 ", "\u3000"]
runner = CliRunner()


# ---- the API: one real app (model loaded, prediction log written) for the module ----


@pytest.fixture(scope="module")
def api(model_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The API on the small real model, with the default limits of a production server."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SENTIMENTOPS_HOME", str(tmp_path_factory.mktemp("hostile-api")))
        patch.delenv("SENTIMENTOPS_CONFIG", raising=False)  # built before isolated_settings
        patch.setenv("SENTIMENTOPS_SERVING__MODEL_URI", str(model_folder))
        patch.setenv("SENTIMENTOPS_SERVING__RELOAD_INTERVAL_SECONDS", "0")
        patch.setenv("SENTIMENTOPS_PREDICTION_LOG__FLUSH_SECONDS", "0.05")
        get_settings.cache_clear()
        application = create_app(get_settings())
        get_settings.cache_clear()
        with TestClient(application, raise_server_exceptions=False) as client:
            wait_ready(client)
            yield client


def model_name(api: TestClient) -> str:
    return str(api.get("/v1/model").json()["name"])


def url(api: TestClient, endpoint: str) -> str:
    return endpoint.replace("{name}", model_name(api))


def answered(api: TestClient) -> int:
    """Predictions the API has answered: ``sentimentops_predictions_total``, counted before a
    response leaves, so it is exact the moment a request returns."""
    families = text_string_to_metric_families(api.get("/metrics").text)
    return int(
        sum(
            sample.value
            for family in families
            if family.name == "sentimentops_predictions"
            for sample in family.samples
            if sample.name == "sentimentops_predictions_total"
        )
    )


def assert_all_answered_are_logged(api: TestClient) -> None:
    """The prediction log ends up with exactly the predictions answered (its writer is off the
    request path, so wait for it)."""
    store = api.app.state.api.store  # type: ignore[attr-defined]
    expected = answered(api)
    deadline = time.monotonic() + 20
    while store.count_predictions() != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.count_predictions() == expected


@pytest.fixture
def nothing_answered(api: TestClient) -> Iterator[None]:
    """The test's requests are all refused: not one may be scored, counted or logged."""
    before = answered(api)
    yield
    assert answered(api) == before, "a refused request was scored"
    assert_all_answered_are_logged(api)


def assert_refused(response: httpx.Response, status: int, kind: str | None = None) -> str:
    """The stable error shape: ``{"error": {type, message, request_id}}`` on /v1,
    ``{"error": message}`` on /v2 (the Open Inference Protocol's). Returns the message."""
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    body = response.json()
    assert set(body) == {"error"}
    if response.request.url.path.startswith("/v2/"):
        assert isinstance(body["error"], str)
        assert body["error"]
        return str(body["error"])
    error = body["error"]
    assert {"type", "message", "request_id"} <= set(error)
    assert error["request_id"] == response.headers["x-request-id"]
    if kind is not None:
        assert error["type"] == kind
    return str(error["message"])


def body_for(endpoint: str, texts: list[Any]) -> dict[str, Any]:
    """The request body that sends ``texts`` to ``endpoint``."""
    if endpoint == "/v1/predict":
        return {"text": texts[0]}
    if endpoint == "/v1/predict/batch":
        return {"texts": texts}
    return {"inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}]}


# The status each endpoint answers a text it refuses: 422 from the v1 request schema, 400 from
# the v2 handler (the protocol's tensors are checked after parsing, as KServe does).
TEXT_REFUSED = {"/v1/predict": 422, "/v1/predict/batch": 422, "/v2/models/{name}/infer": 400}


@pytest.mark.usefixtures("nothing_answered")
@pytest.mark.parametrize("endpoint", PREDICTION_ENDPOINTS)
@pytest.mark.parametrize(
    "text", ["", " ", "   \t\n ", "\u00a0\u3000\u2028", *BLANK_BY_EITHER_FLAVOUR], ids=repr
)
def test_empty_and_whitespace_texts_are_refused(api: TestClient, endpoint: str, text: str) -> None:
    response = api.post(url(api, endpoint), json=body_for(endpoint, [text]))
    assert_refused(response, TEXT_REFUSED[endpoint])


@pytest.mark.usefixtures("nothing_answered")
@pytest.mark.parametrize("endpoint", ["/v1/predict/batch", "/v2/models/{name}/infer"])
def test_a_whitespace_text_in_a_batch_refuses_the_whole_request(
    api: TestClient, endpoint: str
) -> None:
    response = api.post(url(api, endpoint), json=body_for(endpoint, [GOOD, "  ", GOOD]))
    message = assert_refused(response, TEXT_REFUSED[endpoint])
    assert "1" in message  # the offending item is named (texts.1 / input element 1)


@pytest.mark.usefixtures("nothing_answered")
@pytest.mark.parametrize("endpoint", PREDICTION_ENDPOINTS)
def test_a_ten_megabyte_text_is_413_declared_or_streamed(api: TestClient, endpoint: str) -> None:
    huge = "x" * TEN_MB
    declared = api.post(url(api, endpoint), json=body_for(endpoint, [huge]))
    assert_refused(declared, 413, "payload_too_large")
    content = json.dumps(body_for(endpoint, [huge])).encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for start in range(0, len(content), 1 << 20):
            yield content[start : start + (1 << 20)]

    streamed = api.post(
        url(api, endpoint), content=chunks(), headers={"content-type": "application/json"}
    )
    assert_refused(streamed, 413, "payload_too_large")


@pytest.mark.usefixtures("nothing_answered")
@pytest.mark.parametrize("endpoint", PREDICTION_ENDPOINTS)
def test_a_text_over_the_character_limit_is_refused(api: TestClient, endpoint: str) -> None:
    too_long = "a fine film " * 5_000  # 60,000 characters: under the body limit, over 50,000
    response = api.post(url(api, endpoint), json=body_for(endpoint, [too_long]))
    assert_refused(response, TEXT_REFUSED[endpoint])


@pytest.mark.usefixtures("nothing_answered")
@pytest.mark.parametrize("endpoint", PREDICTION_ENDPOINTS)
def test_invalid_utf8_and_raw_nul_bodies_are_refused(api: TestClient, endpoint: str) -> None:
    headers = {"content-type": "application/json"}
    undecodable = api.post(url(api, endpoint), content=b'{"text": "\xff\xfe"}', headers=headers)
    assert_refused(undecodable, 400)
    # A raw NUL inside a JSON string is a control character JSON forbids: not JSON, so 400.
    raw_nul = api.post(url(api, endpoint), content=b'{"text": "a\x00b"}', headers=headers)
    assert_refused(raw_nul, 400)


def test_an_escaped_nul_is_a_valid_json_string_and_is_scored_and_logged(api: TestClient) -> None:
    """``"\\u0000"`` is legal JSON: the text is scored, and logged with the NUL replaced (the
    database refuses NULs); its length and hash describe the text as received."""
    before = answered(api)
    response = api.post("/v1/predict", json={"text": GOOD + "\x00"})
    assert response.status_code == 200, response.text
    assert answered(api) == before + 1
    assert_all_answered_are_logged(api)


@pytest.mark.usefixtures("nothing_answered")
@pytest.mark.parametrize("endpoint", PREDICTION_ENDPOINTS)
def test_deeply_nested_json_is_refused_not_a_crash(api: TestClient, endpoint: str) -> None:
    deep = (CORPUS / "deeply_nested.json").read_bytes()  # 5,000 levels of [[[...]]]
    response = api.post(
        url(api, endpoint), content=deep, headers={"content-type": "application/json"}
    )
    assert_refused(response, 400)


@pytest.mark.usefixtures("nothing_answered")
def test_v2_data_nested_past_the_protocol_depth_is_400(api: TestClient) -> None:
    data: list[Any] = [GOOD]
    for _ in range(12):
        data = [data]
    body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": data}]}
    message = assert_refused(api.post(url(api, "/v2/models/{name}/infer"), json=body), 400)
    assert "nested deeper" in message


# endpoint -> [{"status": expected, "body": ...}]: v1 refuses a wrong type with 422 from its
# request schema; v2 with 422 for the tensor's declared form, 400 for elements that are not texts.
WRONG_TYPES: dict[str, list[dict[str, Any]]] = json.loads((CORPUS / "wrong_types.json").read_text())


@pytest.mark.usefixtures("nothing_answered")
@pytest.mark.parametrize(
    ("endpoint", "status", "body"),
    [
        (endpoint, case["status"], case["body"])
        for endpoint, cases in WRONG_TYPES.items()
        for case in cases
    ],
    ids=lambda value: value if isinstance(value, str | int) else json.dumps(value)[:40],
)
def test_wrong_types_are_refused(api: TestClient, endpoint: str, status: int, body: Any) -> None:
    # Serialised here: httpx sends json=None as an empty body, not as the JSON null it means.
    response = api.post(
        url(api, endpoint), content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert_refused(response, status, "validation_error" if endpoint.startswith("/v1") else None)


@pytest.mark.usefixtures("nothing_answered")
@pytest.mark.parametrize("endpoint", ["/v1/predict/batch", "/v2/models/{name}/infer"])
@pytest.mark.parametrize("size", [65, 100_000])
def test_a_batch_over_the_limit_is_refused_whole(api: TestClient, endpoint: str, size: int) -> None:
    response = api.post(url(api, endpoint), json=body_for(endpoint, ["ok"] * size))
    assert_refused(response, TEXT_REFUSED[endpoint])


def test_a_full_batch_is_scored_and_logged_whole(api: TestClient) -> None:
    before = answered(api)
    texts = [f"{GOOD} ({index})" for index in range(64)]
    response = api.post("/v1/predict/batch", json={"texts": texts})
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 64
    assert answered(api) == before + 64
    assert_all_answered_are_logged(api)


@pytest.mark.usefixtures("nothing_answered")
@pytest.mark.parametrize(
    "path",
    [
        "/v2/models/..%2F..%2Fetc%2Fpasswd/ready",
        "/v2/models/..%2F..%2Fetc%2Fpasswd/infer",
        "/v2/models/%2E%2E/infer",
    ],
)
def test_path_traversal_in_model_names_is_404(api: TestClient, path: str) -> None:
    body = body_for("/v2/models/{name}/infer", [GOOD])
    response = api.post(path, json=body) if path.endswith("infer") else api.get(path)
    assert_refused(response, 404)


# ---- the batch CLI: exit 2, or every bad row rejected with its reason ----


def predict(source: Path | str, output: Path | str, model: Path, *options: str) -> Result:
    return runner.invoke(
        app, ["predict", str(source), str(output), "--model", str(model), *options]
    )


def csv_rows(path: Path) -> list[dict[str, str]]:
    """Rows as a spreadsheet or any CSV reader sees them (the csv module, newline='')."""
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def write_reviews(path: Path, texts: list[str]) -> None:
    """A CSV of ``id,review`` with ids from 1, quoted as any CSV writer would."""
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "review"])
        writer.writerows(enumerate(texts, start=1))


def rejects_of(output: Path) -> Path:
    return rejects_path(output)


def summary_of(output: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(summary_path(output).read_text())
    return summary


def assert_nothing_lost(output: Path, rows_in: int) -> tuple[list[dict[str, str]], dict[int, str]]:
    """Every input row is in the output or the rejects, once; returns (output rows, reasons by
    row number)."""
    scored = csv_rows(output)
    rejects = csv_rows(rejects_of(output))
    summary = summary_of(output)
    assert summary["rows_in"] == rows_in
    assert (summary["predicted"], summary["rejected"]) == (len(scored), len(rejects))
    assert len(scored) + len(rejects) == rows_in
    reasons = {int(row["row_number"]): row["reason"] for row in rejects}
    assert len(reasons) == len(rejects), "a row was rejected twice"
    return scored, reasons


# (corpus file, records in it, the reason of each rejected record by its row number)
ROW_CASES: list[tuple[str, int, dict[int, str]]] = [
    ("whitespace.csv", 4, {1: "empty text", 2: "empty text", 3: "empty text"}),
    ("invalid_utf8.csv", 3, {2: "undecodable bytes (not UTF-8)"}),
    ("nul_bytes.csv", 3, {2: "NUL byte in row"}),
    (
        "broken_quoting.csv",
        6,
        {
            2: "malformed CSV line (',' expected after '\"')",
            3: "malformed CSV line: expected 2 fields, got 4",
            4: "malformed CSV line: expected 2 fields, got 1",
            6: "malformed CSV line (unexpected end of data)",
        },
    ),
    ("deeply_nested.jsonl", 3, {2: "invalid JSON (nested too deeply)"}),
    (
        "wrong_types.jsonl",
        10,
        {
            2: "text is not a string (got int)",
            3: "text is not a string (got bool)",
            4: "missing text",
            5: "text is not a string (got dict)",
            6: "text is not a string (got list)",
            7: "text is not a string (got float)",
            9: "JSON line is not an object",
            10: "JSON line is not an object",
        },
    ),
    ("formula_injection.csv", 9, {8: "missing text"}),
]


@pytest.mark.parametrize(("name", "rows_in", "reasons"), ROW_CASES, ids=[c[0] for c in ROW_CASES])
def test_bad_rows_are_rejected_with_their_reason_and_nothing_is_lost(
    model_folder: Path, tmp_path: Path, name: str, rows_in: int, reasons: dict[int, str]
) -> None:
    output = tmp_path / "scored.csv"
    result = predict(CORPUS / name, output, model_folder)
    assert result.exit_code == 0, result.output
    _, rejected = assert_nothing_lost(output, rows_in)
    assert rejected == reasons


@pytest.mark.parametrize("text", BLANK_BY_EITHER_FLAVOUR, ids=repr)
def test_batch_rejects_a_blank_text_as_empty(model_folder: Path, tmp_path: Path, text: str) -> None:
    source = tmp_path / "reviews.jsonl"
    rows = [{"id": 1, "review": text}, {"id": 2, "review": GOOD}]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    output = tmp_path / "scored.csv"
    result = predict(source, output, model_folder)
    assert result.exit_code == 0, result.output
    scored, reasons = assert_nothing_lost(output, 2)
    assert reasons == {1: "empty text"}
    assert [row["id"] for row in scored] == ["2"]


def test_a_ten_megabyte_review_is_rejected_and_its_neighbours_scored(
    model_folder: Path, tmp_path: Path
) -> None:
    source = tmp_path / "long.csv"
    write_reviews(source, [GOOD, "a" * TEN_MB, GOOD])
    output = tmp_path / "scored.csv"
    result = predict(source, output, model_folder)
    assert result.exit_code == 0, result.output
    scored, reasons = assert_nothing_lost(output, 3)
    assert [row["id"] for row in scored] == ["1", "3"]
    assert reasons == {2: "text longer than 100,000 characters"}
    (reject,) = csv_rows(rejects_of(output))
    assert len(reject["raw"]) == 200  # a preview, not the 10 MB


def test_a_huge_file_is_scored_in_chunks_with_every_row_accounted_for(
    model_folder: Path, tmp_path: Path
) -> None:
    source = tmp_path / "huge.csv"
    write_reviews(source, ["   " if index % 1000 == 0 else GOOD for index in range(1, 20_001)])
    output = tmp_path / "scored.jsonl"
    result = predict(source, output, model_folder, "--chunk-size", "1000")
    assert result.exit_code == 0, result.output
    summary = summary_of(output)
    assert (summary["rows_in"], summary["predicted"], summary["rejected"]) == (20_000, 19_980, 20)
    ids = [json.loads(line)["id"] for line in output.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 19_980
    rejected = {int(row["id"]) for row in csv_rows(rejects_of(output))}
    assert rejected == set(range(1000, 20_001, 1000))
    assert rejected.isdisjoint(map(int, ids))


def test_an_empty_file_exits_2_and_writes_nothing(model_folder: Path, tmp_path: Path) -> None:
    output = tmp_path / "scored.csv"
    result = predict(CORPUS / "empty.csv", output, model_folder)
    assert result.exit_code == 2, result.output
    assert "is empty" in result.output
    assert "Traceback" not in result.output
    assert not output.exists()


# ---- CSV formula injection: no cell of a CSV output opens as a live formula ----

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def live_formulas(rows: list[dict[str, str]]) -> list[str]:
    """Cells a spreadsheet would evaluate: starting with a formula sign and not a number."""
    found = []
    for row in rows:
        for cell in row.values():
            if cell and cell.startswith(FORMULA_STARTS):
                try:
                    float(cell)
                except ValueError:
                    found.append(cell)
    return found


def test_formulas_in_ids_and_rejected_rows_are_defused_in_csv_outputs(
    model_folder: Path, tmp_path: Path
) -> None:
    output = tmp_path / "scored.csv"
    assert predict(CORPUS / "formula_injection.csv", output, model_folder).exit_code == 0
    scored, _ = assert_nothing_lost(output, 9)  # the \r inside an id did not split its row
    rejects = csv_rows(rejects_of(output))
    assert live_formulas(scored) == []
    assert live_formulas(rejects) == []
    assert [row["id"] for row in scored] == [
        '\'=HYPERLINK("http://evil.example","click")',
        "'+cmd|' /C calc'!A0",
        "'-2+3",
        "'@SUM(A1:A9)",
        "'\t=1+1",
        "'\r=1+1",
        "-7",  # a number: kept as it is
        "9",
    ]
    assert rejects[0]["id"] == "'=1+1"
    assert rejects[0]["raw"].startswith("'=1+1")
    # Monitoring joins a batch output to its input by id: a defused id still finds its text.
    from sentimentops.monitoring.current import current_from_batch

    joined = current_from_batch(CORPUS / "formula_injection.csv", output, id_column="id")
    assert len(joined.frame) == len(scored) == 8


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_jsonl_and_parquet_outputs_keep_ids_verbatim(
    model_folder: Path, tmp_path: Path, suffix: str
) -> None:
    import pandas as pd

    output = tmp_path / f"scored{suffix}"
    assert predict(CORPUS / "formula_injection.csv", output, model_folder).exit_code == 0
    frame = (
        pd.read_json(output, lines=True, dtype=False)
        if suffix == ".jsonl"
        else (pd.read_parquet(output))
    )
    assert frame["id"].tolist()[:2] == [
        '=HYPERLINK("http://evil.example","click")',
        "+cmd|' /C calc'!A0",
    ]


def test_data_validate_defuses_formulas_in_its_quarantine_file(tmp_path: Path) -> None:
    quarantine = tmp_path / "quarantine.csv"
    result = runner.invoke(
        app,
        [
            "data",
            "validate",
            str(CORPUS / "formula_injection.csv"),
            "--quarantine",
            str(quarantine),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = csv_rows(quarantine)
    assert live_formulas(rows) == []
    by_row = {row["row_number"]: row for row in rows}
    assert set(by_row) == {"8", "9"}  # the missing review and the formula label
    assert by_row["8"]["value"] == ""  # missing, not "nan"
    assert by_row["9"]["value"] == '\'=HYPERLINK("http://evil.example","label")'


# ---- data validation: the files it cannot read whole are refused with exit 2 and a reason ----


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", "is empty"),
    ],
)
def test_data_validate_refuses_unreadable_files_with_exit_2(name: str, message: str) -> None:
    result = runner.invoke(app, ["data", "validate", str(CORPUS / name), "--no-labels"])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


# Rows predict rejects as unreadable (ROW_CASES) were refused whole by validate; now quarantined.
UNREADABLE_ROW_CASES: list[tuple[str, int, dict[int, str]]] = [
    ("invalid_utf8.csv", 3, {2: "undecodable bytes (not UTF-8)"}),
    ("nul_bytes.csv", 3, {2: "NUL byte in row"}),
    (
        "broken_quoting.csv",
        6,
        {
            2: "malformed CSV line (',' expected after '\"')",
            3: "malformed CSV line: expected 2 fields, got 4",
            4: "malformed CSV line: expected 2 fields, got 1",
            6: "malformed CSV line (unexpected end of data)",
        },
    ),
    ("deeply_nested.jsonl", 3, {2: "invalid JSON (nested too deeply)"}),
    (
        "wrong_types.jsonl",
        10,
        {
            **dict.fromkeys((2, 3, 5, 6, 7), "text is not a string"),
            4: "missing value",
            9: "JSON line is not an object",
            10: "JSON line is not an object",
        },
    ),
]


@pytest.mark.parametrize(
    ("name", "rows", "reasons"), UNREADABLE_ROW_CASES, ids=[c[0] for c in UNREADABLE_ROW_CASES]
)
def test_data_validate_quarantines_the_rows_it_cannot_read_and_validates_the_rest(
    tmp_path: Path, name: str, rows: int, reasons: dict[int, str]
) -> None:
    quarantine, report = tmp_path / "quarantine.csv", tmp_path / "report.json"
    outputs = ["--quarantine", str(quarantine), "--report", str(report)]
    result = runner.invoke(app, ["data", "validate", str(CORPUS / name), "--no-labels", *outputs])
    assert result.exit_code == 0, result.output
    quarantined = {int(row["row_number"]): row["reason"] for row in csv_rows(quarantine)}
    assert quarantined == reasons
    counts = json.loads(report.read_text())
    assert (counts["rows"], counts["valid_rows"]) == (rows, rows - len(reasons))


@pytest.mark.parametrize("text", BLANK_BY_EITHER_FLAVOUR, ids=repr)
def test_data_validate_refuses_a_file_of_blank_text_as_empty(tmp_path: Path, text: str) -> None:
    source = tmp_path / "blank.csv"
    source.write_bytes(codecs.BOM_UTF8 + text.encode())  # the BOM is read as a BOM, not text
    result = runner.invoke(app, ["data", "validate", str(source), "--no-labels"])
    assert result.exit_code == 2, result.output
    assert "is empty" in result.output


@pytest.mark.parametrize(
    ("rows", "reasons"),
    [
        (
            [{"review": 42}, {"review": {"a": 1}}, {"review": GOOD}],
            {1: "text is not a string", 2: "text is not a string"},
        ),
        (
            [{"review": "a\u0000b"}, {"review": " \t "}, {"review": GOOD}],
            {1: "NUL byte in text", 2: "text is empty or whitespace only"},
        ),
        (
            [{"review": "a " * 60_000}, {"review": GOOD}],
            {1: "text is longer than the maximum length"},
        ),
        (
            [{"review": text} for text in BLANK_BY_EITHER_FLAVOUR] + [{"review": GOOD}],
            dict.fromkeys(range(1, 5), "text is empty or whitespace only"),
        ),
    ],
    ids=["wrong types", "nul and whitespace", "too long", "blank by either flavour"],
)
def test_data_validate_quarantines_bad_rows_with_a_reason(
    tmp_path: Path, rows: list[dict[str, Any]], reasons: dict[int, str]
) -> None:
    source = tmp_path / "reviews.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    quarantine, report = tmp_path / "quarantine.csv", tmp_path / "report.json"
    outputs = ["--quarantine", str(quarantine), "--report", str(report)]
    result = runner.invoke(app, ["data", "validate", str(source), "--no-labels", *outputs])
    assert result.exit_code == 0, result.output
    quarantined = {int(row["row_number"]): row["reason"] for row in csv_rows(quarantine)}
    assert quarantined == reasons
    counts = json.loads(report.read_text())
    assert (counts["rows"], counts["valid_rows"]) == (len(rows), len(rows) - len(reasons))


# ---- path traversal: keys and derived names that would leave their root ----


@pytest.mark.parametrize(
    ("source", "output"),
    [
        ("s3://data/in/../secrets/keys.csv", "{tmp}/scored.csv"),
        ("{corpus}/whitespace.csv", "s3://outputs/jobs/../billing/scored.csv"),
        ("{corpus}/whitespace.csv", "s3://outputs/./scored.csv"),
    ],
)
def test_s3_keys_with_dot_segments_exit_2_before_anything_is_read(
    model_folder: Path, tmp_path: Path, source: str, output: str
) -> None:
    fill: Callable[[str], str] = lambda text: text.format(tmp=tmp_path, corpus=CORPUS)  # noqa: E731
    result = predict(fill(source), fill(output), model_folder)
    assert result.exit_code == 2, result.output
    assert "'.' or '..' segment" in " ".join(result.output.split())
    assert list(tmp_path.iterdir()) == []


def test_data_validate_refuses_an_s3_key_with_dot_segments() -> None:
    result = runner.invoke(app, ["data", "validate", "s3://data/in/../other/reviews.csv"])
    assert result.exit_code == 2, result.output
    assert "'..' segment" in result.output


def test_a_users_own_relative_path_with_dot_dot_still_works(
    model_folder: Path, tmp_path: Path
) -> None:
    """The CLI user owns their filesystem: ``..`` in a local path is theirs to write."""
    (tmp_path / "work").mkdir()
    output = tmp_path / "work" / ".." / "scored.csv"
    result = predict(CORPUS / "whitespace.csv", output, model_folder)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "scored.csv").exists()


JOBS = [line for line in (CORPUS / "traversal_jobs.jsonl").read_text().splitlines() if line]


@pytest.mark.parametrize("body", JOBS)
def test_sqs_jobs_naming_local_paths_or_dot_segments_are_refused(body: str) -> None:
    from sentimentops.cloud.sqs_worker import BatchJob
    from sentimentops.errors import UnsafeLocationError

    with pytest.raises(UnsafeLocationError) as refused:
        BatchJob.from_message(body)
    assert UnsafeLocationError.exit_code == 2
    assert json.loads(body)["input"] in str(refused.value) or (
        json.loads(body)["output"] in str(refused.value)
    )


def test_the_lambda_refuses_a_model_prefix_with_a_key_that_escapes_its_folder(
    model_folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A model prefix on S3 holding ``v1/../../../escaped.txt`` (S3 keeps such keys literally):
    downloading it to /tmp must not write outside the model's folder."""
    from sentimentops.cloud import lambda_handler

    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # the Lambda's /tmp, for this test
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    assert tempfile.gettempdir() == str(tmp_path / "tmp")
    with moto_s3(monkeypatch):
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="models")
        for path in model_folder.iterdir():
            s3.upload_file(str(path), "models", f"imdb/v1/{path.name}")
        s3.put_object(Bucket="models", Key="imdb/v1/../../../escaped.txt", Body=b"owned")
        monkeypatch.setenv("SENTIMENTOPS_CLOUD__LAMBDA_MODEL", "s3://models/imdb/v1/")
        get_settings.cache_clear()
        lambda_handler._LOADED.clear()
        event = {
            "rawPath": "/v1/predict",
            "requestContext": {"requestId": "req-1", "http": {"method": "POST"}},
            "body": json.dumps({"text": GOOD}),
            "isBase64Encoded": False,
        }
        response = lambda_handler.handler(event)
    assert response["statusCode"] == 500
    error = json.loads(response["body"])["error"]
    assert "would be written outside" in error["message"]
    assert [path.name for path in tmp_path.rglob("escaped.txt")] == []
    assert lambda_handler._LOADED == {}
