"""The Open Inference Protocol (KServe V2) subset, as a KServe/Triton HTTP client uses it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.serving.conftest import logged_request_ids

POSITIVE = "A wonderful, moving film with superb acting. I loved every minute of it."
NEGATIVE = "Dull, tedious and badly acted. The worst film I have seen this year, awful."


def tensor(data: list[object], shape: list[int]) -> dict[str, object]:
    return {"inputs": [{"name": "text", "shape": shape, "datatype": "BYTES", "data": data}]}


def test_health_metadata_and_readiness(client: TestClient) -> None:
    # Each probe answers its own field only, as the protocol defines them.
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    metadata = client.get("/v2/models/imdb-logreg").json()
    assert metadata["name"] == "imdb-logreg"
    assert metadata["versions"] == ["local"]
    assert metadata["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert [output["name"] for output in metadata["outputs"]] == ["label", "score"]
    assert client.get("/v2/models/imdb-logreg/ready").json() == {
        "name": "imdb-logreg",
        "ready": True,
    }


def test_infer_returns_label_and_score_tensors_in_order(client: TestClient) -> None:
    response = client.post(
        "/v2/models/imdb-logreg/infer", json={"id": "req-7"} | tensor([POSITIVE, NEGATIVE], [2])
    )

    assert response.status_code == 200
    body = response.json()
    assert body["model_name"] == "imdb-logreg"
    assert body["model_version"] == "local"
    assert body["id"] == "req-7"
    outputs = {output["name"]: output for output in body["outputs"]}
    assert outputs["label"] == {
        "name": "label",
        "shape": [2],
        "datatype": "BYTES",
        "data": ["positive", "negative"],
    }
    assert outputs["score"]["datatype"] == "FP64"
    v1 = client.post("/v1/predict", json={"text": POSITIVE}).json()
    assert abs(outputs["score"]["data"][0] - v1["score"]) < 1e-9


def test_infer_accepts_a_column_shape_and_a_chosen_output(client: TestClient) -> None:
    body = tensor([[POSITIVE], [NEGATIVE]], [2, 1]) | {"outputs": [{"name": "score"}]}

    response = client.post("/v2/models/imdb-logreg/infer", json=body)

    assert response.status_code == 200
    assert [output["name"] for output in response.json()["outputs"]] == ["score"]


def test_infer_errors_use_the_v2_error_shape(client: TestClient) -> None:
    cases = [
        ("/v2/models/other/infer", tensor([POSITIVE], [1]), 404),
        ("/v2/models/imdb-logreg/infer", tensor([POSITIVE, NEGATIVE], [3]), 400),
        ("/v2/models/imdb-logreg/infer", tensor([42], [1]), 400),
        ("/v2/models/imdb-logreg/infer", tensor([""], [1]), 400),
        ("/v2/models/imdb-logreg/infer", {"inputs": []}, 422),
        (
            "/v2/models/imdb-logreg/infer",
            tensor([POSITIVE], [1]) | {"outputs": [{"name": "logits"}]},
            400,
        ),
    ]
    for path, body, status in cases:
        response = client.post(path, json=body)
        assert response.status_code == status, (body, response.text)
        assert set(response.json()) == {"error"}
        assert isinstance(response.json()["error"], str)


def test_deeply_nested_data_is_refused_without_recursion(client: TestClient) -> None:
    nested: list[object] = [POSITIVE]
    for _ in range(50):
        nested = [nested]

    response = client.post("/v2/models/imdb-logreg/infer", json=tensor(nested, [1]))

    assert response.status_code in (400, 422)
    assert "error" in response.json()


def test_ragged_nested_data_is_a_bad_input_tensor(client: TestClient) -> None:
    """Before the fix: both were flattened to 4 texts and answered 200 with 4 outputs."""
    too_many_rows = [[POSITIVE, "x"], [NEGATIVE], "y"]
    uneven_rows = [[POSITIVE, "x", "z"], [NEGATIVE]]

    for data, problem in [
        (too_many_rows, "data has 3 elements, not 2"),
        (uneven_rows, "data[0] has 3 elements, not 2"),
    ]:
        response = client.post("/v2/models/imdb-logreg/infer", json=tensor(data, [2, 2]))

        assert response.status_code == 400, response.text
        assert set(response.json()) == {"error"}
        assert "does not match shape [2, 2]" in response.json()["error"]
        assert problem in response.json()["error"]


def test_flat_data_of_as_many_texts_as_the_shape_holds_is_accepted(client: TestClient) -> None:
    response = client.post(
        "/v2/models/imdb-logreg/infer", json=tensor([POSITIVE, NEGATIVE] * 2, [2, 2])
    )

    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["shape"] == [4]


def test_a_refused_request_leaves_nothing_in_the_log(client: TestClient) -> None:
    body = tensor([POSITIVE], [1]) | {"outputs": [{"name": "logits"}], "id": "refused-1"}
    assert client.post("/v2/models/imdb-logreg/infer", json=body).status_code == 400
    accepted = client.post(
        "/v2/models/imdb-logreg/infer", json=tensor([POSITIVE], [1]) | {"id": "ok-1"}
    )
    assert accepted.status_code == 200
    assert logged_request_ids(client) == ["ok-1.0"]


def test_an_id_that_could_not_be_a_request_id_is_refused(client: TestClient) -> None:
    response = client.post(
        "/v2/models/imdb-logreg/infer", json=tensor([POSITIVE], [1]) | {"id": "x" * 300}
    )
    assert response.status_code == 422


def test_a_text_with_nothing_left_after_cleaning_is_a_bad_input_tensor(client: TestClient) -> None:
    response = client.post(
        "/v2/models/imdb-logreg/infer", json=tensor([POSITIVE, "<br />&nbsp;"], [2])
    )

    assert response.status_code == 400, response.text
    assert "position 1 has nothing left to score after cleaning" in response.json()["error"]


def test_a_shape_of_huge_dimensions_is_refused_at_once(client: TestClient) -> None:
    """Before the fix: [10**300] * 15 was a 500 (the product's 4,500 digits could not be
    printed), and a body of 100,000 huge dimensions held the event loop for seconds."""
    many_huge = tensor([POSITIVE], [2**63 - 1] * 100_000)
    few_huge = tensor([POSITIVE], [10**300] * 3)
    with_zero = tensor([POSITIVE], [10**300, 0])

    too_many = client.post("/v2/models/imdb-logreg/infer", json=many_huge)

    assert too_many.status_code == 422, too_many.text  # the schema allows 8 dimensions
    refused = client.post("/v2/models/imdb-logreg/infer", json=few_huge)
    assert refused.status_code == 400
    assert "input shape holds over" in refused.json()["error"]
    empty = client.post("/v2/models/imdb-logreg/infer", json=with_zero)
    assert empty.status_code == 400
    assert "holds 0 texts, got 1" in empty.json()["error"]
