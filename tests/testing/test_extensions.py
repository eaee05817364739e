"""The feature modules as wired into the server: completion hooks, webhook delivery, storage,
``/stream`` and fal.ai's schema URLs, each at its fal path, named in the request log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from fal_typed.testing import CompletedRequest, Failure, LocalFal

from .conftest import FLUX, submit, wait_completed

CHECKOUT_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


class Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Receiver.bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_completion_hooks_see_every_outcome(local_fal: LocalFal, http: httpx.Client) -> None:
    seen: list[CompletedRequest] = []
    both = threading.Event()

    def hook(event: CompletedRequest) -> None:
        seen.append(event)
        if len(seen) == 2:
            both.set()

    local_fal.state.completion_hooks.append(hook)
    try:
        ok = submit(http, local_fal, params={"fal_webhook": "http://127.0.0.1:9/a"})
        wait_completed(http, ok["status_url"])
        local_fal.configure(failure=Failure(503, "busy"))
        failed = submit(http, local_fal)
        wait_completed(http, failed["status_url"])
        assert both.wait(10)  # hooks run as tasks right after completion
    finally:
        local_fal.state.completion_hooks.remove(hook)
    by_id = {event.request_id: event for event in seen}
    assert by_id[ok["request_id"]].ok
    assert by_id[ok["request_id"]].webhook_url == "http://127.0.0.1:9/a"
    assert by_id[ok["request_id"]].payload == http.get(ok["response_url"]).json()
    assert by_id[failed["request_id"]].status_code == 503
    assert by_id[failed["request_id"]].error == "busy"
    assert by_id[failed["request_id"]].webhook_url is None


def test_a_fal_webhook_submit_is_delivered_signed(
    local_fal: LocalFal, http: httpx.Client, receiver: str
) -> None:
    submitted = submit(http, local_fal, params={"fal_webhook": receiver})
    attempts = local_fal.webhooks.wait_for(submitted["request_id"], timeout=20)
    assert [a.ok for a in attempts] == [True]
    assert {"X-Fal-Webhook-Signature", "X-Fal-Webhook-Timestamp"} <= set(attempts[0].headers)
    delivered = json.loads(Receiver.bodies[0])
    assert delivered["request_id"] == submitted["request_id"]
    assert delivered["status"] == "OK"
    assert delivered["payload"] == http.get(submitted["response_url"]).json()
    jwks = http.get(f"{local_fal.rest_url}/.well-known/jwks.json").json()
    assert jwks == local_fal.webhooks.jwks()


def test_storage_upload_is_served_from_the_cdn(local_fal: LocalFal, http: httpx.Client) -> None:
    token = http.post(
        f"{local_fal.rest_url}/storage/auth/token", params={"storage_type": "fal-cdn-v3"}, json={}
    )
    assert token.status_code == 200
    credentials = token.json()
    uploaded = httpx.post(
        f"{local_fal.cdn_url}/files/upload",
        content=b"hello bytes",
        headers={
            "Authorization": f"{credentials['token_type']} {credentials['token']}",
            "Content-Type": "text/plain",
        },
    )
    assert uploaded.status_code == 200
    url = uploaded.json()["access_url"]
    assert httpx.get(url).content == b"hello bytes"
    operations = [entry.operation for entry in local_fal.requests]
    assert operations[:2] == ["storage.token", "storage.upload"]


def test_stream_route_precedes_the_run_route(local_fal: LocalFal, http: httpx.Client) -> None:
    with http.stream(
        "POST", f"{local_fal.run_url}/{FLUX}/stream", json={"prompt": "a cat"}
    ) as response:
        assert response.status_code == 200
        events = [
            json.loads(line[5:]) for line in response.iter_lines() if line.startswith("data:")
        ]
    assert events
    schema = local_fal.state.catalog.get(FLUX)
    assert schema is not None
    assert schema.validator.details(schema.output_schema, events[-1]) == []
    assert [entry.operation for entry in local_fal.requests] == ["stream"]


def test_schema_documents_are_served_byte_for_byte(local_fal: LocalFal, http: httpx.Client) -> None:
    response = http.get(
        f"{local_fal.base_url}/fal/api/openapi/queue/openapi.json", params={"endpoint_id": FLUX}
    )
    assert response.status_code == 200
    assert response.content == (CHECKOUT_SCHEMAS / "fal-ai__flux__dev.json").read_bytes()
    assert local_fal.schema_documents.schemas_dir == CHECKOUT_SCHEMAS


def test_reset_resets_the_feature_modules(local_fal: LocalFal) -> None:
    local_fal.webhooks.configure(deliver_twice=True)
    local_fal.streams.configure(partial_events=7)
    local_fal.reset()
    assert local_fal.webhooks.settings.deliver_twice is False
    assert local_fal.streams.settings.partial_events != 7
