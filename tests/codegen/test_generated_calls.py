"""Generated calls against the local fal server, over real sockets.

Every endpoint of the corpus is called through its generated module with an input built from its
own schema (examples and defaults): the local server validates that body against the document
and answers with an output synthesised from the output schema, which must parse into the
module's ``Output``. A sample also goes through the queue, the async twins and streaming.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from codegen_helpers import Endpoint, corpus, every_nth, planned, valid_input

from fal_typed import Client, Completed, InputValidationError
from fal_typed.testing import LocalFal

ENDPOINTS = corpus()
QUEUE_SAMPLE = every_nth(ENDPOINTS, 12)


def keywords(endpoint: Endpoint) -> dict[str, Any]:
    """The valid input as keyword arguments of the generated calls."""
    values = valid_input(endpoint)
    return {
        field.keyword: values[field.name]
        for field in planned(endpoint).fields
        if field.name in values
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.module)
def test_run_returns_the_typed_output(endpoint: Endpoint, local_fal_client: Client) -> None:
    module = endpoint.load()
    if endpoint.endpoint_id.endswith("/stream"):  # a streaming app answers server-sent events
        with module.stream(**keywords(endpoint), client=local_fal_client) as stream:
            out = stream.result()
    else:
        out = module.run(**keywords(endpoint), client=local_fal_client)
    assert isinstance(out, module.Output)


@pytest.mark.parametrize("endpoint", QUEUE_SAMPLE, ids=lambda e: e.module)
def test_queue_calls_by_keywords_and_by_input_instance(
    endpoint: Endpoint, local_fal: LocalFal, local_fal_client: Client
) -> None:
    module = endpoint.load()
    values = keywords(endpoint)
    out = module.subscribe(**values, client=local_fal_client)
    assert isinstance(out, module.Output)

    handle = module.submit(module.Input(**values), client=local_fal_client)
    assert isinstance(module.result(handle.request_id, client=local_fal_client), module.Output)
    assert isinstance(module.status(handle.request_id, client=local_fal_client), Completed)
    assert isinstance(
        module.handle(handle.request_id, client=local_fal_client).result(), module.Output
    )
    assert len(local_fal.requests_for("submit", endpoint_id=endpoint.endpoint_id)) == 2


def test_stream_yields_events_then_the_typed_output(local_fal_client: Client) -> None:
    from fal_endpoints import flux_lora_stream

    with flux_lora_stream.stream(prompt="a cat", client=local_fal_client) as stream:
        events = list(stream)
        out = stream.result()
    assert events and isinstance(out, flux_lora_stream.Output) and out.images


@pytest.mark.parametrize("endpoint", QUEUE_SAMPLE[:4], ids=lambda e: e.module)
async def test_async_twins(endpoint: Endpoint, local_fal: LocalFal) -> None:
    module = endpoint.load()
    with local_fal.client() as client:
        out = await module.subscribe_async(**keywords(endpoint), client=client)
        assert isinstance(out, module.Output)
        assert isinstance(
            await module.run_async(**keywords(endpoint), client=client), module.Output
        )
        handle = await module.submit_async(**keywords(endpoint), client=client)
        assert isinstance(
            await module.result_async(handle.request_id, client=client), module.Output
        )


def test_extra_body_reaches_the_server_unvalidated(
    local_fal: LocalFal, local_fal_client: Client
) -> None:
    from fal_endpoints import flux_dev

    flux_dev.run(prompt="a cat", extra_body={"added_later": 1}, client=local_fal_client)
    (request,) = local_fal.requests_for("run", endpoint_id="fal-ai/flux/dev")
    assert json.loads(request.body) == {"prompt": "a cat", "added_later": 1}


def test_bad_input_is_rejected_before_any_request(
    local_fal: LocalFal, local_fal_client: Client
) -> None:
    from fal_endpoints import flux_dev

    with pytest.raises(InputValidationError, match="num_images"):
        flux_dev.subscribe(prompt="a cat", num_images=99, client=local_fal_client)
    assert local_fal.requests == []
