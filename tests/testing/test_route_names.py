"""A route name the local server does not have is refused where it is given.

``requests_for("submitt")`` returned [] and ``inject(fault, on="sumbit")`` matched nothing, so
``assert local_fal.requests_for("submitt") == []`` could not fail and a fault test ran without
its fault, passing for the wrong reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fal_endpoints import flux_dev

from fal_typed import InvalidArgumentError, RetryPolicy, ServerError
from fal_typed.testing import Fault, LocalFal


@pytest.fixture(scope="module")
def fal() -> Iterator[LocalFal]:
    with LocalFal() as server:
        yield server


@pytest.mark.parametrize("name", ["submitt", "queue.*", "Submit", "queue.submit "])
def test_requests_for_a_name_no_route_has_is_refused(fal: LocalFal, name: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        fal.requests_for(name)
    assert caught.value.message.startswith(f"operation={name!r} names no route of the local server")
    assert "queue.submit" in caught.value.message


def test_a_misspelled_name_gets_the_close_ones(fal: LocalFal) -> None:
    with pytest.raises(InvalidArgumentError, match="did you mean 'submit'"):
        fal.requests_for("submitt")
    with pytest.raises(
        InvalidArgumentError, match=r"names no route of the local server \(as a glob\)"
    ):
        fal.inject(Fault.server_error(), on="sumbit")
    assert fal.state.faults.rules == []


def test_names_aliases_and_globs_that_match_are_taken(fal: LocalFal) -> None:
    client = fal.client(retry=RetryPolicy.disabled())
    rule = fal.inject(Fault.server_error(), on="queue.*")
    with pytest.raises(ServerError):  # the fault: proves the glob matched
        flux_dev.subscribe(prompt="a cat", client=client)
    assert rule.hits == 1
    fal.state.faults.clear()
    flux_dev.subscribe(prompt="a cat", client=client)
    assert len(fal.requests_for("submit")) == 2
    assert fal.requests_for("queue.submit") == fal.requests_for("submit")
    assert fal.requests_for("storage.upload") == []


def test_before_the_server_is_built_nothing_is_recorded() -> None:
    assert LocalFal().requests_for("anything") == []


def test_a_rule_injected_before_the_start_is_checked_when_it_starts() -> None:
    """Before the start no route is known: inject(on='sumbit') was taken and kept, and the
    fault never fired once the server ran. start() now refuses it, binding nothing."""
    fal = LocalFal()
    fal.inject(Fault.response(500), on="sumbit")
    with pytest.raises(InvalidArgumentError, match=r"on='sumbit' names no route.*'submit'"):
        fal.start()
    assert not fal.running
    with pytest.raises(RuntimeError, match="not started"):
        fal.client()
    ok = LocalFal()
    ok.inject(Fault.response(500), on="submit")
    with ok:
        assert ok.running
