"""Every public call refuses an argument of the wrong kind with the library's own error.

A wrong kind (``None``, a number for a string, a string for a number, NaN) given to a public
function or constructor raises a :class:`~fal_typed.FalError` naming the argument, before
anything is sent: never a raw ``TypeError``, ``AttributeError`` or ``IndexError`` from deep
inside, which ``except FalError`` (the README's advice) would not catch. The table holds the
cases users were seen to try; each was a raw error once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fal_endpoints import flux_dev

import fal_typed
from fal_typed import Client, FalError, Limits, RetryPolicy, UploadSettings
from fal_typed.files import configure_uploads, encode, encode_file, upload
from fal_typed.naming import module_name

KEY = "public-errors-key-0123456789"

CASES: dict[str, Callable[[], Any]] = {
    "endpoint(None)": lambda: fal_typed.endpoint(None),  # type: ignore[arg-type]
    "endpoint('')": lambda: fal_typed.endpoint(""),
    "untyped(5)": lambda: fal_typed.untyped(5),  # type: ignore[arg-type]
    "module_name(None)": lambda: module_name(None),  # type: ignore[arg-type]
    "search(None)": lambda: fal_typed.search(None),  # type: ignore[arg-type]
    "search(category=5)": lambda: fal_typed.search("flux", category=5),  # type: ignore[arg-type]
    "use_local_server(8765)": lambda: fal_typed.use_local_server(8765),  # type: ignore[arg-type]
    "upload(content_type=5)": lambda: upload(b"x", 5, client=Client(KEY)),  # type: ignore[arg-type]
    "encode(content_type=5)": lambda: encode(b"x", 5),  # type: ignore[arg-type]
    "encode_file(5)": lambda: encode_file(5),  # type: ignore[arg-type]
    "configure_uploads(bogus=1)": lambda: configure_uploads(bogus=1),
    "configure_uploads(local_file_strings='yes')": lambda: configure_uploads(
        local_file_strings="yes"
    ),
    "UploadSettings(retry_backoff=nan)": lambda: UploadSettings(retry_backoff=float("nan")),
    "Limits(max_json_depth='9')": lambda: Limits(max_json_depth="9"),  # type: ignore[arg-type]
    "RetryPolicy(retry_statuses='429')": lambda: RetryPolicy(retry_statuses="429"),  # type: ignore[arg-type]
    "Client(timeout='30')": lambda: Client(KEY, timeout="30"),  # type: ignore[arg-type]
    "Client(retry=5)": lambda: Client(KEY, retry=5),  # type: ignore[arg-type]
    "Client(key=5)": lambda: Client(5),  # type: ignore[arg-type]
    "stream(path=5)": lambda: flux_dev.endpoint.stream({"prompt": "x"}, path=5, client=Client(KEY)),  # type: ignore[arg-type]
    "subscribe(client='x')": lambda: flux_dev.subscribe(prompt="x", client="x"),  # type: ignore[arg-type]
    "status(None)": lambda: flux_dev.status(None, client=Client(KEY)),  # type: ignore[arg-type]
    "Limits(max_response_bytes=1.5)": lambda: Limits(max_response_bytes=1.5),  # type: ignore[arg-type]
    "realtime(client='x')": lambda: flux_dev.realtime(client="x"),  # type: ignore[arg-type]
    "realtime(throttle_interval=nan)": lambda: flux_dev.realtime(throttle_interval=float("nan")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_wrong_kind_is_the_library_s_error(case: str) -> None:
    with pytest.raises(FalError) as caught:
        CASES[case]()
    assert isinstance(caught.value, FalError)
    assert "Traceback" not in str(caught.value)


#: Numbers given as ints no float can hold (10**400), or past ``repr``'s 4,300-digit limit
#: (-10**5000, which a message cannot quote): each was a raw OverflowError (from ``float()``,
#: at once or at the first delay computed) or ValueError (from the message itself) somewhere.
SECONDS: dict[str, Callable[[int], Any]] = {
    "Client(timeout=)": lambda n: Client(KEY, timeout=n),
    "Client(poll_interval=)": lambda n: Client(KEY, poll_interval=n),
    "run(timeout=)": lambda n: flux_dev.run(prompt="x", timeout=n, client=Client(KEY)),
    "subscribe(client_timeout=)": lambda n: flux_dev.subscribe(
        prompt="x", client_timeout=n, client=Client(KEY)
    ),
    "subscribe(start_timeout=)": lambda n: flux_dev.subscribe(
        prompt="x", start_timeout=n, client=Client(KEY)
    ),
    "stream(timeout=)": lambda n: flux_dev.endpoint.stream(
        {"prompt": "x"}, timeout=n, client=Client(KEY)
    ),
    "RetryPolicy(base_delay=)": lambda n: RetryPolicy(base_delay=n),
    "RetryPolicy(max_delay=)": lambda n: RetryPolicy(max_delay=n),
    "RetryPolicy(max_retry_after=)": lambda n: RetryPolicy(max_retry_after=n),
    "RetryPolicy(max_elapsed=)": lambda n: RetryPolicy(max_elapsed=n),
    "RetryPolicy(jitter=)": lambda n: RetryPolicy(jitter=n),
    "Limits(answer_timeout=)": lambda n: Limits(answer_timeout=n),
    "UploadSettings(retry_backoff=)": lambda n: UploadSettings(retry_backoff=n),
}
#: Counts: a huge one is a limit nobody reaches (kept), a negative one is refused.
COUNTS: dict[str, Callable[[int], Any]] = {
    "RetryPolicy(max_attempts=)": lambda n: RetryPolicy(max_attempts=n),
    "Limits(max_json_depth=)": lambda n: Limits(max_json_depth=n),
    "UploadSettings(max_file_bytes=)": lambda n: UploadSettings(max_file_bytes=n),
    "UploadSettings(data_uri_threshold=)": lambda n: UploadSettings(data_uri_threshold=n),
}
_HUGE = [10**400, -(10**5000)]


def _option(case: str) -> str:
    return case.split("(")[1].rstrip("=)")


@pytest.mark.parametrize("number", _HUGE, ids=["1e400", "-1e5000"])
@pytest.mark.parametrize("case", list(SECONDS))
def test_seconds_no_float_holds_are_the_library_s_error(case: str, number: int) -> None:
    with pytest.raises(FalError) as caught:
        SECONDS[case](number)
    assert _option(case) in str(caught.value)


@pytest.mark.parametrize("case", list(COUNTS))
def test_a_huge_count_is_kept_and_a_huge_negative_one_refused(case: str) -> None:
    COUNTS[case](10**400)
    with pytest.raises(FalError) as caught:
        COUNTS[case](-(10**5000))
    assert _option(case) in str(caught.value)
    assert "an integer of" in str(caught.value)  # described, since it cannot be quoted
