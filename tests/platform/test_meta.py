"""``/meta``: fal's webhook source ranges, and checking a delivery's sender against them
(:class:`fal_typed.webhooks.WebhookSenders`, cached with a TTL)."""

from __future__ import annotations

import ipaddress
import logging

import pytest

from fal_typed import Client, FalConnectionError, ServerError
from fal_typed.platform import Platform
from fal_typed.platform.models import GetMetaResponse
from fal_typed.testing import Fault, LocalFal
from fal_typed.webhooks import WebhookSenders

from .conftest import platform_requests

FAL_RANGES = ["34.123.59.101/32", "35.239.83.0/24", "2600:1900::/28"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_meta_answers_the_webhook_ip_ranges(local_fal: LocalFal, platform: Platform) -> None:
    local_fal.platform.configure(webhook_ip_ranges=FAL_RANGES)
    meta = platform.get_meta()
    assert meta == GetMetaResponse(webhook_ip_ranges=FAL_RANGES)


def test_senders_inside_the_ranges_are_allowed_and_the_ranges_are_fetched_once(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.platform.configure(webhook_ip_ranges=FAL_RANGES)
    senders = WebhookSenders(client=client)
    assert senders.allows("34.123.59.101")
    assert senders.allows("35.239.83.250")
    assert senders.allows(ipaddress.ip_address("2600:1900::1"))
    assert senders.allows("::ffff:34.123.59.101")  # an IPv4 client seen by a dual-stack server
    assert not senders.allows("34.123.59.102")
    assert not senders.allows("8.8.8.8")
    assert not senders.allows("not an address")
    assert senders.fetches == 1
    (request,) = platform_requests(local_fal, "meta")
    assert "authorization" not in request.headers  # /meta is public: the key stays home


def test_the_ranges_are_fetched_again_after_the_ttl(local_fal: LocalFal, client: Client) -> None:
    clock = FakeClock()
    senders = WebhookSenders(client=client, ttl=60, clock=clock)
    assert senders.allows("127.0.0.1")  # the local server's own deliveries
    local_fal.platform.configure(webhook_ip_ranges=FAL_RANGES)
    clock.now += 59
    assert senders.allows("127.0.0.1")  # still the cached ranges
    clock.now += 2
    assert not senders.allows("127.0.0.1") and senders.allows("34.123.59.101")
    assert senders.fetches == 2


def test_a_failed_refresh_keeps_the_known_ranges(
    local_fal: LocalFal, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    local_fal.platform.configure(webhook_ip_ranges=FAL_RANGES)
    senders = WebhookSenders(client=client, ttl=60, clock=clock)
    assert senders.allows("34.123.59.101")
    clock.now += 61
    local_fal.inject(Fault.server_error(503), on="platform.meta")
    with caplog.at_level(logging.WARNING, logger="fal_typed"):
        assert senders.allows("34.123.59.101")
    assert "keeping the known webhook IP ranges" in caplog.text
    clock.now += 30
    assert senders.allows("34.123.59.101") and senders.fetches == 2  # no refetch per delivery
    clock.now += 31
    assert senders.allows("34.123.59.101") and senders.fetches == 3


def test_with_no_ranges_known_a_failure_is_raised(local_fal: LocalFal, client: Client) -> None:
    local_fal.inject(Fault.server_error(503), on="platform.meta")
    with pytest.raises(ServerError):
        WebhookSenders(client=client).allows("127.0.0.1")
    unreachable = WebhookSenders(api_url="http://127.0.0.1:9")
    with pytest.raises(FalConnectionError):
        unreachable.allows("127.0.0.1")


def test_fixed_ranges_are_never_fetched(local_fal: LocalFal) -> None:
    senders = WebhookSenders(ranges=["10.0.0.0/8"], ttl=0)
    assert senders.allows("10.1.2.3") and not senders.allows("11.1.2.3")
    assert senders.fetches == 0 and local_fal.requests == []


async def test_the_async_check(local_fal: LocalFal, client: Client) -> None:
    local_fal.platform.configure(webhook_ip_ranges=FAL_RANGES)
    senders = WebhookSenders(client=client)
    assert await senders.allows_async("35.239.83.1")
    assert not await senders.allows_async("127.0.0.1")
    assert senders.fetches == 1
