"""A sample of the corpus end to end over HTTP: submit, follow the SSE stream, fetch the result,
validate it against the output schema, and download every file it points at."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fal_typed.testing import LocalFal
from fal_typed.testing._endpoints import EndpointCatalog, default_schemas_dir

from .conftest import sse_events, valid_input


def sample_ids(every: int = 75) -> list[str]:
    directory = default_schemas_dir()
    assert directory is not None
    ids = sorted(EndpointCatalog(directory).endpoint_ids)
    return ids[::every]


def files_in(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if isinstance(value.get("url"), str):
            yield value
        for item in value.values():
            yield from files_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from files_in(item)


@pytest.mark.parametrize("endpoint_id", sample_ids())
def test_sampled_endpoint_round_trip(
    local_fal: LocalFal, http: httpx.Client, endpoint_id: str
) -> None:
    schema = local_fal.state.catalog.get(endpoint_id)
    assert schema is not None
    arguments = valid_input(schema)
    assert schema.input_errors(arguments) == []
    submitted = http.post(f"{local_fal.queue_url}/{endpoint_id}", json=arguments)
    assert submitted.status_code == 200
    events = sse_events(http, submitted.json()["status_url"] + "/stream", logs=1)
    assert events[-1]["status"] == "COMPLETED"
    assert events[-1]["error"] is None
    response = http.get(submitted.json()["response_url"])
    assert response.status_code == 200
    output = response.json()
    assert schema.validator.details(schema.output_schema, output) == []
    for file in files_in(output):
        assert file["url"].startswith(local_fal.cdn_url + "/files/")
        download = httpx.get(file["url"])
        assert download.status_code == 200
        if "content_type" in file:
            assert download.headers["content-type"].split(";")[0] == file["content_type"]
        if "file_size" in file:
            assert len(download.content) == file["file_size"]
    # The same input run directly gets the same output: synthesis is deterministic per request.
    assert http.post(f"{local_fal.run_url}/{endpoint_id}", json=arguments).json() == output


def test_invalid_input_for_sampled_endpoints_is_a_422_naming_the_field(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    for endpoint_id in sample_ids(25):
        schema = local_fal.state.catalog.get(endpoint_id)
        assert schema is not None
        arguments = valid_input(schema)
        required = schema.input_schema.get("required", [])
        if not required:
            continue
        del arguments[required[0]]
        response = http.post(f"{local_fal.run_url}/{endpoint_id}", json=arguments)
        assert response.status_code == 422, endpoint_id
        assert ["body", required[0]] in [entry["loc"] for entry in response.json()["detail"]]
