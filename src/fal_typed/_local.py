"""The one switch for offline work: every default client pointed at a local fal server.

``FAL_TYPED_BASE_URL`` (the variable ``fal-typed serve`` prints) is read by the default client
(module-level calls, ``fal_typed.platform``, webhook verification without a client) and by the
command line alike; :func:`use_local_server` is the same switch from Python. A local server (one
port, every fal host under a path prefix: :meth:`Hosts.local`) accepts any key, so without
``FAL_KEY`` in the environment the local client uses :data:`LOCAL_KEY`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Final, Protocol

from ._errors import InvalidArgumentError
from ._errors import reason as error_reason
from ._hosts import Hosts

if TYPE_CHECKING:
    from ._client import Client

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_LOCAL_URL",
    "LOCAL_KEY",
    "LocalServer",
    "default_hosts",
    "hosts_client",
    "key_for",
    "local_base_url",
    "local_client",
    "local_key",
    "use_local_server",
]

BASE_URL_ENV: Final = "FAL_TYPED_BASE_URL"
"""The environment variable that points every default client at a local server."""
DEFAULT_LOCAL_URL: Final = "http://127.0.0.1:8765"
"""Where ``fal-typed serve`` listens by default."""
LOCAL_KEY: Final = "local-fal-key-id:local-fal-key-secret"
"""The key sent to a local server when the environment has none (any key is accepted)."""

_KEY_VARIABLES: Final = ("FAL_KEY", "FAL_KEY_ID")


class LocalServer(Protocol):
    """A running local server (``fal_typed.testing.LocalFal``): its URL and its own clients."""

    @property
    def base_url(self) -> str: ...

    def client(self, **overrides: Any) -> Client: ...


def local_base_url() -> str | None:
    """``$FAL_TYPED_BASE_URL``, if set (and not blank)."""
    return os.environ.get(BASE_URL_ENV, "").strip() or None


def local_key() -> str | None:
    """The key for a local server: ``None`` (the client reads the environment's key) when the
    environment has one, else :data:`LOCAL_KEY` (a local server accepts any key)."""
    return None if any(os.environ.get(name, "").strip() for name in _KEY_VARIABLES) else LOCAL_KEY


def key_for(key: str | None, base_url: str | None) -> str | None:
    """The key a command sends: ``key`` if given; else, to a local server (``base_url``, from
    ``--base-url`` or ``$FAL_TYPED_BASE_URL``), :func:`local_key`; else None (the client reads
    the environment's). One rule for every command, so none asks for a key the others do not."""
    if key is None and base_url:
        return local_key()
    return key


def hosts_client(hosts: Hosts, key: str | None, **options: Any) -> Client:
    """A :class:`Client` for every base URL of ``hosts`` (``options`` go to the constructor)."""
    from ._client import Client

    return Client(
        key,
        queue_url=hosts.queue_url,
        run_url=hosts.run_url,
        rest_url=hosts.rest_url,
        cdn_url=hosts.cdn_url,
        realtime_url=hosts.realtime_url,
        api_url=hosts.api_url,
        **options,
    )


def local_client(base_url: str, *, key: str | None = None, **options: Any) -> Client:
    """A :class:`Client` whose every host is under ``base_url`` (a local fal server).

    ``key`` defaults to the environment's (``FAL_KEY``...), else :data:`LOCAL_KEY`; ``options``
    go to the constructor (``retry=``, ``timeout=``...).
    """
    try:
        hosts = Hosts.local(base_url)
    except ValueError as exc:
        raise InvalidArgumentError(f"local server URL: {error_reason(exc)}") from None
    return hosts_client(hosts, key if key is not None else local_key(), **options)


def default_hosts() -> Hosts:
    """fal's hosts, or the local server's when ``$FAL_TYPED_BASE_URL`` is set: where calls that
    take no client (fetching documents, for one) go by default."""
    base_url = local_base_url()
    if base_url is None:
        return Hosts()
    try:
        return Hosts.local(base_url)
    except ValueError as exc:
        raise InvalidArgumentError(f"{BASE_URL_ENV}={base_url!r}: {error_reason(exc)}") from None


def client_from_environment() -> Client | None:
    """The local client ``$FAL_TYPED_BASE_URL`` asks for, or ``None`` when it is not set."""
    base_url = local_base_url()
    if base_url is None:
        return None
    try:
        return local_client(base_url)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{BASE_URL_ENV}={base_url!r}: {error_reason(exc)}") from None


def use_local_server(server: str | LocalServer | None = None, *, key: str | None = None) -> Client:
    """Point every default client at a local fal server, and return that client.

    ``server`` is a base URL (``"http://127.0.0.1:8765"``), a running
    ``fal_typed.testing.LocalFal`` (its own client is used, with its key), or nothing:
    ``$FAL_TYPED_BASE_URL``, else where ``fal-typed serve`` listens by default. Module-level
    calls, ``fal_typed.platform`` and webhook verification then never reach fal's hosts.
    ``fal_typed.set_default_client(None)`` switches back to the environment's client.
    """
    from ._client import set_default_client

    if server is None or isinstance(server, str):
        client = local_client(server or local_base_url() or DEFAULT_LOCAL_URL, key=key)
    elif callable(getattr(server, "client", None)):
        client = server.client() if key is None else server.client(key=key)
    else:
        raise InvalidArgumentError(
            "server must be a base URL string or a running fal_typed.testing.LocalFal, "
            f"got {type(server).__name__}"
        )
    set_default_client(client)
    return client
