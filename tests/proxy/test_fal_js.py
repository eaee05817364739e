"""The real peer: fal-js (@fal-ai/client from the npm registry, on the machine's Node.js) with
``proxyUrl`` pointing at FalProxy in front of the local fal server.

fal-js is installed by ``make system-deps`` (see :mod:`.node_packages`); without it these tests
fail, they are never skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from fal_typed.testing import LocalFal

from .conftest import (
    ENDPOINT,
    FILE_ENDPOINT,
    FORBIDDEN_ENDPOINT,
    KEY_SECRET,
    PROXY_KEY,
    ProxyFactory,
)
from .node_packages import installed_package

DRIVER = Path(__file__).with_name("fal_js_driver.cjs")
SESSION = "session-alice"


def _fal_js() -> Path:
    """The installed @fal-ai/client folder."""
    return installed_package("@fal-ai/client", "FAL_JS_VERSION")


def run_fal_js(proxy_url: str, scenario: str, *, session: str | None = SESSION) -> dict[str, Any]:
    """Run one scenario of the driver; its steps' outcomes by name."""
    config = {
        "module": str(_fal_js()),
        "proxyUrl": proxy_url,
        "session": session,
        "scenario": scenario,
        "endpoint": ENDPOINT,
        "fileEndpoint": FILE_ENDPOINT,
        "forbiddenEndpoint": FORBIDDEN_ENDPOINT,
    }
    # No FAL_KEY reaches the front end: fal-js would otherwise send it.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    done = subprocess.run(
        ["node", str(DRIVER), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: dict[str, Any] = json.loads(done.stdout)
    return results


def test_fal_js_calls_through_the_proxy(serve_proxy: ProxyFactory, upstream: LocalFal) -> None:
    upstream.configure(processing_time=0.3, logs=["loading", "sampling"])
    served = serve_proxy()
    results = run_fal_js(served.url, "calls")

    failed = {name: step for name, step in results.items() if not step["ok"]}
    assert set(failed) == {"invalid_input"}, failed

    polling = results["subscribe_polling"]
    assert polling["enqueued"] == polling["requestId"] and polling["images"] == 1
    assert polling["updates"][-1] == "COMPLETED"  # polled through the proxy until done
    streaming = results["subscribe_streaming"]  # the status stream (SSE) through the proxy
    assert streaming["updates"][-1] == "COMPLETED" and streaming["images"] == 1
    queue = results["queue"]
    assert queue["statuses"][-1] == "COMPLETED" and queue["resultRequestId"] == queue["requestId"]
    assert results["run"]["images"] == 1 and results["run"]["requestId"]
    stream = results["stream"]
    assert stream["events"] >= 2 and stream["images"] == 1 and stream["requestId"]
    assert results["upload"]["same"] is True
    assert results["auto_upload"]["requestId"]

    # fal-js reads the proxy's own 422 as a ValidationError, with fal's field errors.
    invalid = results["invalid_input"]
    assert invalid["status"] == 422 and invalid["validation"] is True
    assert invalid["fieldErrors"][0]["loc"] == ["body", "prompt"]

    # Each reached the local server with the proxy's key, never the app's session; only the
    # PUTs to signed upload URLs (and the test's download) went directly, with no credential.
    submits = upstream.requests_for("submit")
    assert len(submits) == 5  # the two subscribes, submit, cancel's submit, the file subscribe
    direct = [r for r in upstream.requests if "authorization" not in r.headers]
    assert sorted(r.operation or "" for r in direct) == ["cdn.file", *["storage.signed_put"] * 2]
    assert {r.headers.get("authorization") for r in upstream.requests} == {"Key <redacted>", None}
    assert all("session" not in str(r.headers) for r in upstream.requests)
    assert upstream.requests_for("cancel", request_id=results["cancel"]["requestId"])
    assert upstream.requests_for("queue.status_stream")
    # fal-js's own headers arrive: x-fal-* (priority, hint) and the query (logs=1).
    assert {r.headers.get("x-fal-queue-priority") for r in submits} == {"normal", "low"}
    assert "h1" in {r.headers.get("x-fal-runner-hint") for r in submits}
    assert "1" in {r.query.get("logs") for r in upstream.requests_for("status")}

    # Nothing the proxy sent back carries the key, whole or in part.
    returned = served.recorder.text()
    assert PROXY_KEY.encode() not in returned and KEY_SECRET.encode() not in returned


def test_fal_js_refusals_are_never_forwarded(serve_proxy: ProxyFactory, upstream: LocalFal) -> None:
    served = serve_proxy()
    results = run_fal_js(served.url, "refusals")

    assert not any(step["ok"] for step in results.values()), results
    assert results["not_fal"]["status"] == 403
    assert results["not_fal"]["body"]["error_type"] == "proxy_target_not_allowed"
    assert results["not_allowed"]["status"] == 403
    assert results["not_allowed"]["body"]["error_type"] == "proxy_endpoint_not_allowed"
    assert results["not_authenticated"]["status"] == 401
    assert results["wrong_session"]["status"] == 401
    assert upstream.requests == []  # the local server saw nothing at all
    assert [c.forwarded for c in served.calls.wait(4)] == [False] * 4
