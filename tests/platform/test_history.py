"""The request history: every request of an endpoint with its input and output, page by page,
as fal's index shows it (after a delay), and deleting a request's payloads."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from fal_typed import Client, NotFoundError
from fal_typed.platform import AsyncPlatform, Platform
from fal_typed.platform.models import ListRequestsByEndpointItem, ListRequestsByEndpointResponse
from fal_typed.testing import LocalFal

from .conftest import FLUX, flux_body, platform_requests, run_flux


def test_the_history_lists_every_request_with_its_payloads_page_by_page(
    local_fal: LocalFal, client: Client, platform: Platform
) -> None:
    prompts = [f"cat {n}" for n in range(5)]
    ids = run_flux(client, *prompts)
    items = list(
        platform.iter_list_requests_by_endpoint(endpoint_id=FLUX, expand=["payloads"], limit=2)
    )
    assert all(isinstance(item, ListRequestsByEndpointItem) for item in items)
    assert sorted(item.request_id for item in items) == sorted(ids)
    by_id = {item.request_id: item for item in items}
    for request_id, prompt in zip(ids, prompts, strict=True):
        item = by_id[request_id]
        assert item.json_input == flux_body(prompt)  # exactly what was sent
        assert item.json_output is not None and item.json_output["images"]
        assert item.status_code == 200 and item.endpoint_id == FLUX
        assert item.ended_at is not None and item.duration is not None
    # Newest first, 2 per page: three pages, the later ones asked with the cursor given.
    pages = platform_requests(local_fal, "requests")
    assert [("cursor" in r.query) for r in pages] == [False, True, True]
    assert [item.request_id for item in items] == ids[::-1]


def test_pages_are_the_documented_model_and_end_where_the_server_says(
    client: Client, platform: Platform
) -> None:
    run_flux(client, "a", "b", "c")
    pages = list(platform.iter_list_requests_by_endpoint_pages(endpoint_id=FLUX, limit=2))
    assert all(isinstance(page, ListRequestsByEndpointResponse) for page in pages)
    assert [len(page.items) for page in pages] == [2, 1]
    assert [page.has_more for page in pages] == [True, False]
    # Without expand=payloads there are none.
    assert all(item.json_input is None for page in pages for item in page.items)


def test_filters_by_status_request_id_and_window(client: Client, platform: Platform) -> None:
    first, second = run_flux(client, "one", "two")
    only = platform.list_requests_by_endpoint(endpoint_id=FLUX, request_id=second)
    assert [item.request_id for item in only.items] == [second]
    assert platform.list_requests_by_endpoint(endpoint_id=FLUX, status="error").items == []
    past = platform.list_requests_by_endpoint(
        endpoint_id=FLUX, start="2020-01-01", end="2020-01-02T00:00:00Z"
    )
    assert past.items == []
    assert first != second


def test_a_request_appears_in_the_history_only_after_the_index_caught_up(
    local_fal: LocalFal, client: Client, platform: Platform
) -> None:
    local_fal.platform.configure(history_delay=0.6)
    (request_id,) = run_flux(client, "late")
    started = time.monotonic()
    assert platform.list_requests_by_endpoint(endpoint_id=FLUX).items == []
    while not (found := platform.list_requests_by_endpoint(endpoint_id=FLUX).items):
        assert time.monotonic() - started < 5
        time.sleep(0.05)
    assert [item.request_id for item in found] == [request_id]
    assert time.monotonic() - started >= 0.3  # it did lag


def test_deleting_payloads_forgets_them_and_deletes_the_output_files(
    local_fal: LocalFal, client: Client, platform: Platform
) -> None:
    (request_id,) = run_flux(client, "to forget")
    before = platform.list_requests_by_endpoint(
        endpoint_id=FLUX, request_id=request_id, expand=["payloads"]
    ).items[0]
    urls = [image["url"] for image in before.json_output["images"]]
    assert httpx.get(urls[0]).status_code == 200
    key = str(uuid.uuid4())
    answer = platform.delete_request_payloads(request_id=request_id, idempotency_key=key)
    assert [result.link for result in answer.cdn_delete_results] == urls
    assert all(result.exception is None for result in answer.cdn_delete_results)
    assert httpx.get(urls[0]).status_code == 404
    after = platform.list_requests_by_endpoint(
        endpoint_id=FLUX, request_id=request_id, expand=["payloads"]
    ).items[0]
    assert (after.json_input, after.json_output) == (None, None)
    # The same key answers the first answer again (fal caches it for 10 minutes).
    again = platform.delete_request_payloads(request_id=request_id, idempotency_key=key)
    assert again == answer
    (sent, _) = platform_requests(local_fal, "delete_payloads")
    assert sent.headers["idempotency-key"] == key


def test_deleting_the_payloads_of_an_unknown_request_is_not_found(platform: Platform) -> None:
    with pytest.raises(NotFoundError, match="Request not found"):
        platform.delete_request_payloads(request_id=str(uuid.uuid4()))


async def test_the_async_client_pages_the_same_way(client: Client) -> None:
    ids = run_flux(client, "x", "y", "z")
    platform = AsyncPlatform(client)
    seen = [
        item.request_id
        async for item in platform.iter_list_requests_by_endpoint(
            endpoint_id=FLUX, limit=1, expand="payloads"
        )
    ]
    assert seen == ids[::-1]
