"""URL rules of PROTOCOL.md section 1, table-driven: submit/run use the full id, by-id calls the app root."""

from __future__ import annotations

import types
import uuid
from collections.abc import Iterator
from typing import cast

import pytest
from fal_endpoints import flux_dev

from fal_typed import InvalidArgumentError
from fal_typed._urls import (  # pyright: ignore[reportPrivateUsage]
    _app_bases,
    _endpoint_bases,
    _parse,
    endpoint_url,
    parse_endpoint_id,
    request_url,
)
from fal_typed.testing import LocalFal


@pytest.fixture(autouse=True)
def parsed_afresh() -> Iterator[None]:
    """Each test parses and joins its ids itself: an id cached by an earlier test (or process)
    would let the grammar, or the joining, go untested."""
    for cache in (_parse, _endpoint_bases, _app_bases):
        cache.cache_clear()
    yield
    for cache in (_parse, _endpoint_bases, _app_bases):
        cache.cache_clear()


Q = "https://queue.fal.run"
PREFIXED = "http://127.0.0.1:8000/queue"

# (endpoint id, submit URL path, app root)
CASES = [
    ("fal-ai/flux/dev", "fal-ai/flux/dev", "fal-ai/flux"),
    ("fal-ai/fast-sdxl", "fal-ai/fast-sdxl", "fal-ai/fast-sdxl"),
    ("fal-ai/flux-pro/kontext/max/multi", "fal-ai/flux-pro/kontext/max/multi", "fal-ai/flux-pro"),
    (
        "bytedance/seedream/v4/text-to-image",
        "bytedance/seedream/v4/text-to-image",
        "bytedance/seedream",
    ),
    (
        "workflows/fal-ai/sdxl-sticker",
        "workflows/fal-ai/sdxl-sticker",
        "workflows/fal-ai/sdxl-sticker",
    ),
    (
        "workflows/someone/my-flow/sub/path",
        "workflows/someone/my-flow/sub/path",
        "workflows/someone/my-flow",
    ),
    ("comfy/someone/workflow", "comfy/someone/workflow", "comfy/someone/workflow"),
    ("comfy/someone/workflow/extra", "comfy/someone/workflow/extra", "comfy/someone/workflow"),
    ("12345-my-app", "12345/my-app", "12345/my-app"),
    ("CassetteAI/music-generator", "CassetteAI/music-generator", "CassetteAI/music-generator"),
    ("/fal-ai/flux/dev/", "fal-ai/flux/dev", "fal-ai/flux"),
]


@pytest.mark.parametrize(("endpoint_id", "full", "root"), CASES)
def test_submit_uses_full_id_and_by_id_calls_the_app_root(
    endpoint_id: str, full: str, root: str
) -> None:
    assert endpoint_url(Q, endpoint_id) == f"{Q}/{full}"
    assert request_url(Q, endpoint_id, "abc-123") == f"{Q}/{root}/requests/abc-123"
    assert request_url(Q, endpoint_id, "abc-123", "status") == f"{Q}/{root}/requests/abc-123/status"
    assert (
        request_url(Q, endpoint_id, "abc-123", "status/stream")
        == f"{Q}/{root}/requests/abc-123/status/stream"
    )
    assert request_url(Q, endpoint_id, "abc-123", "cancel") == f"{Q}/{root}/requests/abc-123/cancel"


@pytest.mark.parametrize(("endpoint_id", "full", "root"), CASES)
def test_base_urls_keep_their_path_prefix(endpoint_id: str, full: str, root: str) -> None:
    assert endpoint_url(PREFIXED + "/", endpoint_id) == f"{PREFIXED}/{full}"
    assert request_url(PREFIXED, endpoint_id, "r") == f"{PREFIXED}/{root}/requests/r"


def test_extra_path_is_appended_to_the_full_id() -> None:
    assert (
        endpoint_url("https://fal.run", "fal-ai/flux/dev", "/stream")
        == "https://fal.run/fal-ai/flux/dev/stream"
    )
    assert (
        endpoint_url("https://fal.run", "fal-ai/flux/dev", "a/b")
        == "https://fal.run/fal-ai/flux/dev/a/b"
    )


def test_parsed_parts() -> None:
    ref = parse_endpoint_id("workflows/someone/my-flow/sub/path")
    assert (ref.namespace, ref.owner, ref.alias, ref.path) == (
        "workflows",
        "someone",
        "my-flow",
        "sub/path",
    )
    legacy = parse_endpoint_id("12345-my-app")
    assert (legacy.owner, legacy.alias, legacy.path) == ("12345", "my-app", "")


@pytest.mark.parametrize(
    "bad",
    [
        "flux",
        "",
        "/",
        "fal-ai//dev",
        "workflows/only-owner",
        "comfy",
        "fal-ai/flux dev",
        "fal-ai/../x",
        "fal-ai/fl?x",
        3,
    ],
)
def test_malformed_endpoint_ids_are_rejected_naming_the_id(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid endpoint id"):
        endpoint_url(Q, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "a/b", "../x", "id with space", "x?y=1", "x#y", "-leading"])
def test_malformed_request_ids_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid request id"):
        request_url(Q, "fal-ai/flux/dev", bad)


def test_bad_extra_path_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="invalid path"):
        endpoint_url(Q, "fal-ai/flux/dev", "/a b")


def test_every_published_id_parses() -> None:
    from pathlib import Path

    ids_file = Path(__file__).resolve().parents[3] / "shared" / "fal-endpoint-ids.txt"
    if not ids_file.exists():
        pytest.skip("shared/fal-endpoint-ids.txt is not next to the checkout")
    ids = [line.strip() for line in ids_file.read_text().splitlines() if line.strip()]
    assert len(ids) > 1000
    for endpoint_id in ids:
        ref = parse_endpoint_id(endpoint_id)
        assert ref.full == endpoint_id
        assert endpoint_id.startswith(ref.app_root)


# -- exact messages and edges (each pins a rule a mutation of _urls.py broke) --------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (5, "invalid endpoint id 5: expected a string"),
        (
            "flux",
            "invalid endpoint id 'flux': expected 'owner/app[/path]' (or a legacy '<digits>-<app>')",
        ),
        ("fal-ai/.flux", "invalid endpoint id 'fal-ai/.flux': bad segment '.flux'"),
        (
            "workflows/app",
            "invalid endpoint id 'workflows/app': expected 'workflows/owner/app[/path]'",
        ),
    ],
)
def test_malformed_ids_are_refused_with_their_exact_reason(bad: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_endpoint_id(bad)  # type: ignore[arg-type]
    assert caught.value.message == message


def test_an_id_without_namespace_has_none() -> None:
    assert parse_endpoint_id("fal-ai/flux").namespace is None
    assert parse_endpoint_id("workflows/o/a").namespace == "workflows"


def test_only_slashes_are_stripped_from_ids_bases_and_paths() -> None:
    ref = parse_endpoint_id("Xowner/appX")
    assert (ref.owner, ref.alias) == ("Xowner", "appX")
    assert endpoint_url("https://h/prefiX", "Xo/apX") == "https://h/prefiX/Xo/apX"
    assert endpoint_url("https://h/q/", "fal-ai/flux", "X.") == "https://h/q/fal-ai/flux/X."
    assert endpoint_url("https://h/q", "fal-ai/flux", "X") == "https://h/q/fal-ai/flux/X"


def test_empty_parts_add_no_slash() -> None:
    assert request_url(Q, "fal-ai/flux/dev", "abc", "/") == f"{Q}/fal-ai/flux/requests/abc"
    assert request_url(Q, "fal-ai/flux/dev", "abc", "") == f"{Q}/fal-ai/flux/requests/abc"


# -- URLs are joined once per base and id: the cache changes no answer -------------------------


@pytest.mark.parametrize("bad", [5, ["fal-ai", "flux"], {"id": "fal-ai/flux"}, None])
def test_an_id_that_is_not_a_string_is_named_by_every_url_not_hashed(bad: object) -> None:
    """A list or dict id would fail inside the cache as "unhashable": it is refused first."""
    for build in (
        lambda: endpoint_url(Q, bad),  # type: ignore[arg-type]
        lambda: request_url(Q, bad, "abc"),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidArgumentError, match="expected a string"):
            build()


def test_a_bad_id_is_refused_every_time_it_is_given() -> None:
    """Failures are not cached: the second call raises as the first did."""
    for _ in range(2):
        with pytest.raises(InvalidArgumentError, match="bad segment"):
            endpoint_url(Q, "fal-ai/.flux")
        with pytest.raises(InvalidArgumentError, match="bad segment"):
            request_url(Q, "fal-ai/.flux", "abc")


def test_the_same_id_under_two_bases_gets_each_base() -> None:
    assert endpoint_url("https://a/q", "fal-ai/flux/dev") == "https://a/q/fal-ai/flux/dev"
    assert endpoint_url("https://b/q", "fal-ai/flux/dev") == "https://b/q/fal-ai/flux/dev"
    assert (
        request_url("https://a/q", "fal-ai/flux/dev", "r1") == "https://a/q/fal-ai/flux/requests/r1"
    )
    assert (
        request_url("https://b/q", "fal-ai/flux/dev", "r2") == "https://b/q/fal-ai/flux/requests/r2"
    )


def test_a_bad_request_id_is_refused_after_the_id_is_checked() -> None:
    with pytest.raises(InvalidArgumentError, match="invalid endpoint id"):
        request_url(Q, "flux", "../x")
    with pytest.raises(InvalidArgumentError, match=r"invalid request id '\.\./x'"):
        request_url(Q, "fal-ai/flux", "../x")


def test_a_suffix_is_joined_without_its_slashes() -> None:
    assert (
        request_url(Q, "fal-ai/flux", "abc", "/status/") == f"{Q}/fal-ai/flux/requests/abc/status"
    )
    assert (
        request_url(Q, "fal-ai/flux", "abc", "XstatusX") == f"{Q}/fal-ai/flux/requests/abc/XstatusX"
    )
    assert request_url(Q, "fal-ai/flux", "abc", "status/stream") == (
        f"{Q}/fal-ai/flux/requests/abc/status/stream"
    )


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        (" 0b6f-id\n", ": it has spaces or a line break around it (strip it)"),
        ("0b6f-id\r\n", ": it has spaces or a line break around it (strip it)"),
        ("../x", ": a request id is the string submit() returned (handle.request_id)"),
        (None, ": a request id is a string, got NoneType"),
        (5, ": a request id is a string, got int"),
        (uuid.UUID(int=7), ": pass it as a string, str(request_id)"),
        (
            types.SimpleNamespace(request_id="0b6f-id"),
            ": this is a SimpleNamespace; pass its .request_id (or call its methods)",
        ),
    ],
)
def test_a_request_id_newcomers_get_wrong_is_refused_saying_how_to_mend_it(
    given: object, hint: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        request_url(Q, "fal-ai/flux/dev", given)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert caught.value.message.startswith("invalid request id ")
    assert caught.value.message.endswith(hint)


def test_a_request_id_of_any_length_is_shown_cut_short() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        request_url(Q, "fal-ai/flux/dev", "x y" * 10_000)
    assert len(caught.value.message) < 300


def test_a_handle_given_for_its_id_is_named_in_every_call(local_fal: LocalFal) -> None:
    with local_fal.client() as client:
        handle = flux_dev.submit(prompt="a cat", client=client)
        for call in (flux_dev.status, flux_dev.result, flux_dev.cancel, flux_dev.handle):
            with pytest.raises(InvalidArgumentError, match=r"pass its \.request_id"):
                call(handle, client=client)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize("given", ["module", "endpoint"])
@pytest.mark.parametrize("where", ["endpoint", "untyped", "endpoint_url"])
def test_a_generated_module_given_for_its_id_is_named_with_where_its_id_is(
    given: str, where: str
) -> None:
    import fal_typed

    value: object = flux_dev if given == "module" else flux_dev.endpoint
    with pytest.raises(InvalidArgumentError) as caught:
        if where == "endpoint":
            fal_typed.endpoint(cast(str, value))
        elif where == "untyped":
            fal_typed.untyped(cast(str, value))
        else:
            endpoint_url(Q, cast(str, value))
    assert caught.value.message.endswith(
        "expected a string; this "
        + type(value).__name__
        + " stands for 'fal-ai/flux/dev': pass its .endpoint_id, or call its own functions "
        "(flux_dev.subscribe(...), flux_dev.endpoint.subscribe(...))"
    )


_PADDED_IDS = [" fal-ai/flux/dev", "fal-ai/flux/dev\n", "\tfal-ai/flux/dev\r\n"]


@pytest.mark.parametrize("given", _PADDED_IDS, ids=repr)
def test_an_endpoint_id_pasted_with_spaces_around_it_is_told_to_strip_them(given: str) -> None:
    """A request id said so; an endpoint id said "bad segment ' fal-ai'" (untyped), or that no
    module was installed for it and to call it untyped, where it failed again (endpoint)."""
    import fal_typed
    from fal_typed.naming import check_endpoint_id

    for call in (fal_typed.endpoint, fal_typed.untyped, check_endpoint_id):
        with pytest.raises(InvalidArgumentError) as caught:
            call(given)
        assert caught.value.message == (
            f"invalid endpoint id {given!r}: it has spaces or a line break around it (strip it)"
        ), call


@pytest.mark.parametrize(
    ("given", "why"), [("fal-ai/ flux/dev", "bad segment ' flux'"), ("fal-ai//dev", "bad segment")]
)
def test_a_malformed_id_is_invalid_not_an_endpoint_that_is_not_installed(
    given: str, why: str
) -> None:
    """fal_typed.endpoint said no module was installed, and to call it with untyped(), which
    refused the same id."""
    import fal_typed

    with pytest.raises(InvalidArgumentError, match=why) as caught:
        fal_typed.endpoint(given)
    assert not isinstance(caught.value, fal_typed.UnknownEndpointError)


def test_fetch_says_which_ids_only_need_stripping() -> None:
    from fal_typed.catalog._fetch import _check_ids  # pyright: ignore[reportPrivateUsage]

    with pytest.raises(ValueError) as caught:
        _check_ids(["fal-ai/flux/dev\n", "nope"])
    assert str(caught.value) == (
        "invalid endpoint id(s): 'fal-ai/flux/dev\\n', 'nope'; expected 'owner/app[/path...]' "
        "('fal-ai/flux/dev\\n': it has spaces or a line break around it (strip it))"
    )


@pytest.mark.parametrize("given", [" fal-ai/ flux/dev", "fal-ai/fl ux/dev\n", " bad id! "])
def test_strip_it_is_said_only_when_stripping_is_all_the_id_needs(given: str) -> None:
    """The hint was given for any id with whitespace around it, hiding the real fault (a space
    inside): after stripping, the user met a second error."""
    import fal_typed
    from fal_typed.naming import check_endpoint_id

    for call in (fal_typed.untyped, check_endpoint_id, fal_typed.endpoint):
        with pytest.raises(InvalidArgumentError) as caught:
            call(given)
        assert "strip it" not in caught.value.message, (call, caught.value.message)
