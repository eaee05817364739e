"""The proxy's decisions without I/O: which targets it forwards, which endpoint a URL names,
what the allow-list lets through, and how upstream URLs map to fal's."""

from __future__ import annotations

import pytest

from fal_typed import InvalidArgumentError
from fal_typed._hosts import Hosts
from fal_typed.proxy import DEFAULT_ALLOWED_URLS, FalProxy, anyone
from fal_typed.proxy._endpoints import EndpointPolicy
from fal_typed.proxy._refusal import Refused
from fal_typed.proxy._targets import Upstream, read_target, url_patterns

FAL = Upstream(Hosts())
LOCAL = Upstream(Hosts.local("http://127.0.0.1:8000"))
DEFAULTS = url_patterns(DEFAULT_ALLOWED_URLS)


@pytest.mark.parametrize(
    ("method", "url", "operation"),
    [
        ("POST", "https://queue.fal.run/fal-ai/flux/dev", "submit"),
        ("POST", "https://queue.fal.run/fal-ai/flux/dev?fal_webhook=https%3A%2F%2Fx.io", "submit"),
        ("GET", "https://queue.fal.run/fal-ai/flux/requests/r-1/status?logs=1", "status"),
        ("GET", "https://queue.fal.run/fal-ai/flux/requests/r-1/status/stream", "status_stream"),
        ("GET", "https://queue.fal.run/fal-ai/flux/requests/r-1", "result"),
        ("GET", "https://queue.fal.run/fal-ai/flux/requests/r-1/response", "result"),
        ("PUT", "https://queue.fal.run/fal-ai/flux/requests/r-1/cancel", "cancel"),
        ("POST", "https://fal.run/fal-ai/flux/dev", "run"),
        ("GET", "https://fal.run/fal-ai/flux/dev?prompt=cat", "run"),
        ("POST", "https://fal.run/fal-ai/flux/dev/stream", "stream"),
        ("POST", "https://rest.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3", "storage"),
        ("POST", "https://rest.fal.ai/storage/upload/initiate?storage_type=gcs", "storage"),
        ("POST", "https://rest.fal.ai/storage/auth/token?storage_type=fal-cdn-v3", "cdn_token"),
        ("POST", "https://v3.fal.media/files/upload", "upload"),
        ("POST", "https://v3.fal.media/files/upload/multipart", "upload"),
        ("PUT", "https://v3b.fal.media/files/b/0a1b/x.bin/multipart/u-1/2", "upload"),
        ("POST", "https://v3b.fal.media/files/b/0a1b/x.bin/multipart/u-1/complete", "upload"),
    ],
)
def test_default_patterns_forward_what_fals_clients_send(
    method: str, url: str, operation: str
) -> None:
    target = read_target(url, method, DEFAULTS, FAL)
    assert target.operation == operation
    assert target.upstream_url == url
    assert target.cdn is (operation == "upload")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.fal.ai/v1/models/pricing",  # the platform API: billing, usage, payloads
        "https://rest.fal.ai/tokens/",  # realtime tokens
        "https://rest.fal.ai/storage/upload/initiate?storage_type=other",
        "https://rest.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3&x=1",
        "https://fal.ai/api/openapi/queue/openapi.json",
        "https://v3.fal.media/files/upload?then=elsewhere",
        "https://evil.example/fal.run/x",
        "https://fal.run.evil.example/x",
        "https://evilfal.run/x",
    ],
)
def test_default_patterns_refuse_everything_else(url: str) -> None:
    with pytest.raises(Refused) as refused:
        read_target(url, "POST", DEFAULTS, FAL)
    assert refused.value.status == 403


# Paths that read one way here and may read another at fal (or a server in front of it): each
# is refused before the allow-lists judge the path httpx shows.
AMBIGUOUS_PATHS = [
    "fal-ai%2Fflux",  # an encoded slash
    "fal-ai%2fflux",
    "x%5C..%5Cevil",  # an encoded backslash
    "x/%2e%2e/evil",  # encoded dot segments
    "x/.%2E/evil",
    "x\\..\\..\\evil",  # a raw backslash: a WHATWG URL parser reads it as "/"
    "x\\evil",
    "x/..;/..;/evil",  # a dot segment with parameters, read as ".." by servlet containers
    "x/.;/evil",
]
AMBIGUOUS_TARGETS = [
    ("POST", "https://queue.fal.run/fal-ai/flux/{path}"),
    ("GET", "https://queue.fal.run/fal-ai/flux/requests/{path}/status"),
    ("GET", "https://queue.fal.run/fal-ai/flux/requests/{path}"),
    ("POST", "https://fal.run/fal-ai/flux/{path}"),
    ("POST", "https://v3.fal.media/files/{path}/multipart/u-1/complete"),
    ("PUT", "https://v3b.fal.media/files/b/{path}/multipart/u-1/2"),
]


@pytest.mark.parametrize("path", AMBIGUOUS_PATHS)
@pytest.mark.parametrize(("method", "url"), AMBIGUOUS_TARGETS)
def test_a_path_that_may_read_differently_at_fal_is_refused(
    method: str, url: str, path: str
) -> None:
    target = url.format(path=path)
    read_target(url.format(path="x"), method, DEFAULTS, FAL)  # the same URL, plain, is forwarded
    with pytest.raises(Refused) as refused:
        read_target(target, method, DEFAULTS, FAL)
    assert refused.value.status == 400
    assert refused.value.error_type == "proxy_invalid_target"


@pytest.mark.parametrize("url", ["https://fal.run/fal-ai/flux/dev/..x", "https://fal.run/a/b..;/c"])
def test_dots_inside_a_segment_are_plain_text(url: str) -> None:
    assert read_target(url, "POST", DEFAULTS, FAL).upstream_url == url


def test_upstream_maps_fal_urls_both_ways() -> None:
    target = read_target("https://queue.fal.run/fal-ai/flux/dev", "POST", DEFAULTS, LOCAL)
    assert target.upstream_url == "http://127.0.0.1:8000/queue/fal-ai/flux/dev"
    back = read_target(
        "http://127.0.0.1:8000/queue/fal-ai/flux/requests/r-1/status", "GET", DEFAULTS, LOCAL
    )
    assert str(back.url) == "https://queue.fal.run/fal-ai/flux/requests/r-1/status"
    assert back.upstream_url == "http://127.0.0.1:8000/queue/fal-ai/flux/requests/r-1/status"
    part = read_target("http://127.0.0.1:8000/cdn/files/b/k/multipart/u/1", "PUT", DEFAULTS, LOCAL)
    assert str(part.url) == "https://v3.fal.media/files/b/k/multipart/u/1"
    # Another local address is not the upstream: it stays what it is, and is refused.
    with pytest.raises(Refused):
        read_target("http://127.0.0.1:8001/queue/fal-ai/flux/dev", "POST", DEFAULTS, LOCAL)
    with pytest.raises(Refused):
        read_target("http://127.0.0.1:8000/queuex/fal-ai/flux/dev", "POST", DEFAULTS, LOCAL)


@pytest.mark.parametrize(
    "pattern",
    [
        "**",
        "*/**",
        "example.com/**",
        "*.example.com/**",
        "fal.run.evil.io/**",
        "*fal.run/**",
        "https://fal.run/**",
        "127.0.0.1:8000/**",
    ],
)
def test_patterns_that_could_send_the_key_elsewhere_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"fal.s domains|scheme"):
        url_patterns([pattern])
    with pytest.raises(InvalidArgumentError):
        FalProxy(authenticate=anyone, allowed_urls=[pattern], allowed_endpoints=[])


def test_custom_patterns_on_fals_domains_are_allowed() -> None:
    patterns = url_patterns(["api.fal.ai/v1/models/pricing?**", "*.fal.ai/**"])
    target = read_target("https://api.fal.ai/v1/models/pricing?endpoint_id=x", "GET", patterns, FAL)
    assert target.operation == "other"


@pytest.mark.parametrize(
    ("allowed", "path", "expected"),
    [
        (None, "fal-ai/flux/dev", ("fal-ai/flux/dev", "")),
        (None, "fal-ai/flux/dev/stream", ("fal-ai/flux/dev", "stream")),  # a generated id
        (None, "my-org/my-app/some/route", ("my-org/my-app/some/route", "")),  # unknown
        (["my-org/my-app"], "my-org/my-app/some/route", ("my-org/my-app", "some/route")),
        (None, "workflows/me/wf/run", ("workflows/me/wf/run", "")),
    ],
)
def test_the_endpoint_a_path_names(
    allowed: list[str] | None, path: str, expected: tuple[str, str]
) -> None:
    assert EndpointPolicy(allowed, validate=True).endpoint_of(path) == expected


@pytest.mark.parametrize(
    ("allowed", "url", "ok"),
    [
        (["fal-ai/flux/dev"], "https://queue.fal.run/fal-ai/flux/dev", True),
        (["fal-ai/flux/dev"], "https://fal.run/fal-ai/flux/dev/stream", True),
        (["fal-ai/flux/dev"], "https://fal.run/fal-ai/flux/schnell", False),
        (["fal-ai/flux/dev"], "https://fal.run/fal-ai/flux", False),
        (["fal-ai/flux"], "https://fal.run/fal-ai/flux/dev", False),  # another endpoint
        (["fal-ai/flux/*"], "https://fal.run/fal-ai/flux/schnell", True),
        (["fal-ai/flux/*"], "https://fal.run/fal-ai/flux-pro/v1.1", False),
        (["fal-ai/**"], "https://fal.run/fal-ai/flux-pro/v1.1", True),
        (["fal-ai/flux/dev"], "https://queue.fal.run/fal-ai/flux/requests/r/status", True),
        (["fal-ai/flux/dev"], "https://queue.fal.run/fal-ai/other/requests/r/status", False),
        (["fal-ai/*/dev"], "https://queue.fal.run/fal-ai/flux/requests/r", True),
        ([], "https://fal.run/fal-ai/flux/dev", False),  # an empty list allows nothing
    ],
)
def test_the_endpoint_allow_list(allowed: list[str], url: str, ok: bool) -> None:
    method = "GET" if "/requests/" in url else "POST"
    target = read_target(url, method, DEFAULTS, FAL)
    policy = EndpointPolicy(allowed, validate=True)
    if ok:
        policy.check(target)
    else:
        with pytest.raises(Refused) as refused:
            policy.check(target)
        assert refused.value.status == 403


def test_inputs_are_validated_only_where_the_model_applies() -> None:
    policy = EndpointPolicy(None, validate=True)
    assert policy.check_input("fal-ai/flux/dev", "", b'{"prompt": "a cat"}') == {"prompt": "a cat"}
    with pytest.raises(Refused) as refused:
        policy.check_input("fal-ai/flux/dev", "stream", b'{"prompt": "a cat", "nope": 1}')
    assert refused.value.status == 422
    assert refused.value.response().body.startswith(b'{"detail":[{"loc":["body","nope"]')
    # An app's own sub-route, an unknown endpoint, or validation off: forwarded as it is.
    assert policy.check_input("fal-ai/flux/dev", "other", b'{"x": 1}') == {"x": 1}
    assert policy.check_input("my-org/my-app", "", b"not json") is None
    off = EndpointPolicy(None, validate=False)
    assert off.check_input("fal-ai/flux/dev", "", b'{"nope": 1}') == {"nope": 1}


def test_bad_allow_lists_are_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        EndpointPolicy("fal-ai/flux/dev", validate=True)  # pyright: ignore[reportArgumentType]
    with pytest.raises(InvalidArgumentError):
        EndpointPolicy(["", "fal-ai/flux/dev"], validate=True)
    with pytest.raises(InvalidArgumentError):
        url_patterns("fal.run/**")  # pyright: ignore[reportArgumentType]
