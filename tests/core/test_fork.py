"""A process forked from one whose client is in use (a pre-forking server such as gunicorn
``--preload``, a ``fork`` multiprocessing pool) opens connections of its own.

Sharing the parent's kept-alive connection, the two processes' requests and answers would
interleave on one socket: an answer read by the wrong process, a result handed to a caller that
did not ask for it. Closing it in the child would end it for the parent. The local server runs in
this (the parent) process, and records the client end of the connection each request came on.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client
from fal_typed.testing import LocalFal

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


def in_child(work: Callable[[], str], seconds: float = 30.0) -> str:
    """What ``work()`` returns in a forked child (or its error), the child ended with
    ``os._exit``; a child still running after ``seconds`` is killed and the test fails."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            try:
                said = work()
            except BaseException as exc:
                said = f"error: {exc!r}"
            os.write(write_end, said.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    ends = time.monotonic() + seconds
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > ends:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_end)
            pytest.fail(f"the forked child did not finish within {seconds:g}s")
        time.sleep(0.01)
    with os.fdopen(read_end, "rb") as said:
        return said.read().decode()


def last_connection(local_fal: LocalFal) -> tuple[str, int] | None:
    return local_fal.requests[-1].client_address


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork with threads (3.12+)
def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents_alone(
    local_fal: LocalFal, client: Client
) -> None:
    flux_dev.run(prompt="the parent's", client=client)
    parents = last_connection(local_fal)
    assert parents is not None

    said = in_child(lambda: flux_dev.run(prompt="the child's", client=client).prompt)

    assert said == "the child's"
    childs = last_connection(local_fal)
    assert childs is not None and childs != parents
    # The parent's kept-alive connection still serves the parent.
    flux_dev.run(prompt="the parent's again", client=client)
    assert last_connection(local_fal) == parents


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_lock_held_at_the_fork_does_not_hang_the_child(local_fal: LocalFal) -> None:
    # Another thread of the parent creating the connection pool at the moment of the fork
    # holds the client's lock: in the child, no thread would ever release it.
    client = local_fal.client()
    with client._lock:  # pyright: ignore[reportPrivateUsage]
        said = in_child(lambda: flux_dev.run(prompt="in the child", client=client).prompt, 20)
    assert said == "in the child"
    client.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_cdn_token_fetch_under_way_at_the_fork_does_not_hang_the_child(
    local_fal: LocalFal, client: Client
) -> None:
    from fal_typed.files._token import _cache, cached_token  # pyright: ignore[reportPrivateUsage]

    with _cache(client).fetch_lock:  # another thread of the parent fetching the token
        said = in_child(lambda: cached_token(client).token_type, 20)
    assert said == "Bearer"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_jwks_fetch_under_way_at_the_fork_does_not_hang_the_child(client: Client) -> None:
    from fal_typed.webhooks import JWKSCache

    keys = JWKSCache(client.rest_url.rstrip("/") + "/.well-known/jwks.json")
    with keys._thread_lock:  # pyright: ignore[reportPrivateUsage]
        said = in_child(lambda: str(len(keys.get().keys) > 0), 20)
    assert said == "True"
