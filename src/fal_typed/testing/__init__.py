"""A fal-compatible server for tests and offline development: ``fal_typed.testing``.

:class:`LocalFal` serves every endpoint of a directory of fal OpenAPI documents on loopback, with
fal's queue, direct-run, streaming, realtime, storage and webhook protocols, and outputs that
validate against each endpoint's output schema (or come from your own handler)::

    from fal_typed.testing import LocalFal, Failure

    with LocalFal() as fal:
        fal.configure(processing_time=0.05, logs=["loading", "sampling"])
        client = fal.client()                     # a fal_typed.Client pointed at it
        ...

The pytest plugin (installed with the package) provides the ``local_fal`` and
``local_fal_client`` fixtures; ``python -m fal_typed.testing`` runs the server from a shell.
"""

from ._controls import Behaviour, Failure, Handler, LogLine
from ._faults import Fault, FaultRule
from ._queue import CompletedRequest
from ._requestlog import RecordedRequest
from ._server import DEFAULT_KEY, LocalFal

__all__ = [
    "DEFAULT_KEY",
    "Behaviour",
    "CompletedRequest",
    "Failure",
    "Fault",
    "FaultRule",
    "Handler",
    "LocalFal",
    "LogLine",
    "RecordedRequest",
]
