"""The Python runtime through the proxy: ``Client(proxy_url=...)`` makes the same calls fal-js
makes (and the CDN v3 upload flow fal-js does not), with no key on the client side, and the key
never shows in any answer or log line of the proxy."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fal_endpoints import flux_control_lora_canny, flux_dev, flux_schnell
from starlette.requests import Request

from fal_typed import (
    AuthenticationError,
    Client,
    Completed,
    InputValidationError,
    InvalidArgumentError,
    RetryPolicy,
    UploadSettings,
    upload,
    upload_async,
)
from fal_typed.testing import LocalFal

from .conftest import ENDPOINT, KEY_SECRET, PROXY_KEY, ProxyFactory, ServedProxy

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2d3a6a5d50000000049454e44ae426082"
)


@pytest.fixture
def seen_authorization() -> list[str | None]:
    return []


@pytest.fixture
def proxy(
    serve_proxy: ProxyFactory, upstream: LocalFal, seen_authorization: list[str | None]
) -> ServedProxy:
    """A proxy whose app authenticates with its own header, recording any Authorization."""

    async def by_app_token(request: Request) -> str | None:
        seen_authorization.append(request.headers.get("authorization"))
        return "python-app" if request.headers.get("x-app-token") == "t0k3n" else None

    upstream.configure(processing_time=0.05, logs=["loading", "sampling"])
    return serve_proxy(authenticate=by_app_token)


@pytest.fixture
def client(proxy: ServedProxy) -> Iterator[Client]:
    with Client(
        proxy_url=proxy.url,
        proxy_headers={"X-App-Token": "t0k3n"},
        poll_interval=0.02,
        retry=RetryPolicy(base_delay=0.01, max_delay=0.05),
    ) as c:
        yield c


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log line, DEBUG up (the proxy logs each forwarded call at DEBUG)."""
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_key_never_shown(proxy: ServedProxy, caplog: pytest.LogCaptureFixture) -> None:
    returned = proxy.recorder.text()
    assert PROXY_KEY.encode() not in returned and KEY_SECRET.encode() not in returned
    lines = [record.getMessage() for record in caplog.records]
    # The proxy logged each call (the check would prove nothing otherwise).
    assert any(r.name == "fal_typed.proxy" for r in caplog.records)
    assert not [line for line in lines if PROXY_KEY in line or KEY_SECRET in line]


def test_every_call_through_the_proxy(
    client: Client,
    proxy: ServedProxy,
    upstream: LocalFal,
    logs: pytest.LogCaptureFixture,
    seen_authorization: list[str | None],
    tmp_path: Path,
) -> None:
    updates: list[object] = []
    out = flux_dev.subscribe(
        prompt="a cat", with_logs=True, on_queue_update=updates.append, client=client
    )
    assert out.images and isinstance(updates[-1], Completed)
    assert any(log.message == "sampling" for u in updates for log in getattr(u, "logs", []))

    handle = flux_dev.submit(prompt="a dog", priority="low", client=client)
    assert flux_dev.result(handle.request_id, client=client).images
    assert isinstance(flux_dev.status(handle.request_id, with_logs=True, client=client), Completed)

    upstream.configure(ENDPOINT, hold="queue")
    pending = flux_dev.submit(prompt="never mind", client=client)
    flux_dev.cancel(pending.request_id, client=client)
    upstream.configure(ENDPOINT, hold=None)

    assert flux_dev.run(prompt="a bird", client=client).images
    with flux_dev.stream(prompt="a fish", client=client) as events:
        received = list(events)
        assert len(received) >= 2 and events.result().images

    # Uploads: the CDN v3 flow (single POST and multipart) and the initiate + PUT fallback.
    small = upload(PNG, "image/png", client=client)
    assert httpx.get(small, timeout=30).content == PNG
    big = bytes(range(256)) * 64  # 16 KiB in 4 KiB parts
    multipart = upload(
        big, client=client, settings=UploadSettings(multipart_threshold=4096, part_size=4096)
    )
    assert httpx.get(multipart, timeout=30).content == big
    upstream.storage.fail("upload", times=1)
    fallback = upload(
        b"fallback bytes", "text/plain", client=client, settings=UploadSettings(attempts=1)
    )
    assert httpx.get(fallback, timeout=30).content == b"fallback bytes"

    # A local file in the input is uploaded through the proxy, then the call made.
    image = tmp_path / "edges.png"
    image.write_bytes(PNG)
    assert flux_control_lora_canny.run(
        prompt="edges", control_lora_image_url=image, client=client
    ).images

    # Output files are downloaded straight from where they are, as a browser would.
    saved = out.images[0].save(tmp_path / "cat.png")
    assert saved.stat().st_size > 0

    forwarded = [r for r in upstream.requests if r.headers.get("authorization")]
    assert {r.headers["authorization"] for r in forwarded} == {
        "Key <redacted>",
        "Bearer <redacted>",
    }
    assert {r.operation for r in upstream.requests if "authorization" not in r.headers} == {
        "storage.signed_put",
        "cdn.file",
    }
    assert len(upstream.requests_for("storage.token")) == 1  # the proxy's own token, cached
    assert [r.headers.get("x-fal-queue-priority") for r in upstream.requests_for("submit")][
        1
    ] == "low"
    assert upstream.requests_for("cancel", request_id=pending.request_id)
    # Every call the proxy has reported so far was forwarded and answered, none cut short
    # (the 503 is the injected upload failure). The one exception is a status stream: the
    # client leaves it at COMPLETED, which can be before the proxy has relayed its end.
    reported = proxy.calls.wait()
    assert all(c.forwarded for c in reported)
    cut = [c for c in reported if c.status_code == 499]
    assert all(c.target and c.target.endswith("/status/stream?logs=1") for c in cut), cut
    assert 503 in {c.status_code for c in reported}
    # The client sent no Authorization of its own: only the app's header, as configured.
    assert seen_authorization and set(seen_authorization) == {None}
    assert_key_never_shown(proxy, logs)


async def test_every_call_through_the_proxy_async(
    client: Client, proxy: ServedProxy, upstream: LocalFal, logs: pytest.LogCaptureFixture
) -> None:
    outs = await asyncio.gather(
        *(flux_dev.subscribe_async(prompt=f"cat #{i}", client=client) for i in range(3))
    )
    assert all(out.images for out in outs)
    handle = await flux_dev.submit_async(prompt="a dog", client=client)
    assert (await flux_dev.result_async(handle.request_id, client=client)).images
    assert (await flux_dev.run_async(prompt="a bird", client=client)).images
    async with flux_dev.stream_async(prompt="a fish", client=client) as events:
        received = [event async for event in events]
        assert received and (await events.result()).images
    url = await upload_async(PNG, "image/png", client=client)
    assert httpx.get(url, timeout=30).content == PNG
    assert len(upstream.requests_for("submit")) == 4
    assert_key_never_shown(proxy, logs)


def test_the_proxys_refusals_are_typed_errors(
    client: Client, proxy: ServedProxy, upstream: LocalFal
) -> None:
    with pytest.raises(AuthenticationError) as refused:
        flux_schnell.run(prompt="a cat", client=client)
    assert refused.value.status_code == 403
    assert refused.value.error_type == "proxy_endpoint_not_allowed"
    with pytest.raises(InputValidationError):  # caught before anything is sent
        flux_dev.run(prompt=42, client=client)  # pyright: ignore[reportArgumentType]
    stranger = Client(proxy_url=proxy.url)  # without the app's header
    with pytest.raises(AuthenticationError) as unauthenticated:
        flux_dev.run(prompt="a cat", client=stranger)
    assert unauthenticated.value.status_code == 401
    assert upstream.requests == []


def test_a_configured_authorization_header_goes_to_the_proxy(
    serve_proxy: ProxyFactory, upstream: LocalFal
) -> None:
    served = serve_proxy()  # the test sessions: "Authorization: Bearer session-alice"
    with Client(
        proxy_url=served.url, proxy_headers={"Authorization": "Bearer session-alice"}
    ) as client:
        assert flux_dev.run(prompt="a cat", client=client).images
    [record] = served.calls.wait()
    assert record.caller == "alice"
    [run] = upstream.requests_for("run")
    assert run.headers["authorization"] == "Key <redacted>"  # the proxy's key, not the session


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"key": "my-key:secret"}, "holds no key"),
        ({"http_client": httpx.Client()}, "cannot re-route"),
        ({"async_http_client": httpx.AsyncClient()}, "cannot re-route"),
        ({"proxy_url": "ftp://proxy"}, r"absolute http\(s\) URL"),
        ({"proxy_url": ""}, "non-empty"),
        ({"proxy_url": None, "proxy_headers": {"A": "b"}}, "needs proxy_url"),
        ({"proxy_headers": {"x-fal-target-url": "x"}}, "must not set"),
    ],
)
def test_bad_proxy_options_are_refused(options: dict[str, Any], message: str) -> None:
    settings: dict[str, Any] = {"proxy_url": "https://app.example.com/api/fal/proxy", **options}
    with pytest.raises(InvalidArgumentError, match=message):
        Client(**settings)


def test_repr_shows_the_proxy_and_no_header_value() -> None:
    client = Client(
        proxy_url="https://app.example.com/api/fal/proxy",
        proxy_headers={"Authorization": "Bearer very-secret-session"},
    )
    assert client.proxy_url == "https://app.example.com/api/fal/proxy"
    assert client.proxy_url in repr(client) and "very-secret-session" not in repr(client)
    assert Client().proxy_url is None
    assert client.backup_hosts == {}  # failing over to fal's backup domains would skip the proxy
