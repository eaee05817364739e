"""docs/proxy.md's JavaScript runs in a browser: headless Chromium loads a page served on the
proxy's own origin, and the guide's blocks, as written, call the local fal server through the
guide's FastAPI and Django proxies with fal-js (@fal-ai/client, bundled for the browser by
esbuild: both installed by ``make system-deps``)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from fal_typed.testing import LocalFal

from ..docs.browser import Browser, chromium_executable
from ..docs.guides import Block, fenced
from ..webhooks.helpers import serve
from .conftest import ENDPOINT, PROXY_KEY
from .node_packages import installed_package, node_prefix
from .test_docs import blocks, run_block, serve_asgi_module

#: What the page records when the guide's code has run: fal-js's answer, or what it threw.
OUTCOME = "window.__outcome"
RECORD_RESULT = (
    f"\n{OUTCOME} = {{ requestId: result.requestId, images: result.data.images.length }};\n"
)
#: Recorded for anything the module throws or rejects with (fal-js's ApiError has a status).
RECORD_FAILURE = f"""
const failed = (reason) => {{
  {OUTCOME} = {{ failed: String(reason?.message ?? reason), status: reason?.status ?? null }};
}};
window.addEventListener("error", (event) => failed(event.error ?? event.message));
window.addEventListener("unhandledrejection", (event) => failed(event.reason));
"""

#: The Django page is served beside the guide's asgi.py by this application, in its process.
PAGE_ASGI = '''
from pathlib import Path

from starlette.responses import FileResponse

import asgi

HERE = Path(__file__).parent
FILES = {"/page": ("page.html", "text/html"), "/fal-js.mjs": ("fal-js.mjs", "text/javascript")}


async def application(scope, receive, send):
    """The guide's application, and the test's page and fal-js bundle beside it."""
    if scope["type"] == "http" and scope["path"] in FILES:
        name, media_type = FILES[scope["path"]]
        await FileResponse(HERE / name, media_type=media_type)(scope, receive, send)
    else:
        await asgi.application(scope, receive, send)
'''


def js_blocks() -> list[Block]:
    found = [block for block in fenced("proxy.md") if block.lang == "js"]
    assert len(found) == 2, "the page's JavaScript examples changed: update this test"
    return found


def page(module: str) -> str:
    """A page running ``module`` as a module script, ``@fal-ai/client`` mapped to the bundle."""
    imports = json.dumps({"imports": {"@fal-ai/client": "/fal-js.mjs"}})
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">\n'
        f"<script>{RECORD_FAILURE}</script>\n"
        f'<script type="importmap">{imports}</script>\n'
        f'<script type="module">\n{module}\n</script>\n'
        "</head><body></body></html>\n"
    )


@pytest.fixture(scope="module")
def fal_js_bundle(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """fal-js as one ES module a browser imports (it ships CommonJS), built by esbuild."""
    installed_package("@fal-ai/client", "FAL_JS_VERSION")
    esbuild = installed_package("esbuild", "ESBUILD_VERSION") / "bin" / "esbuild"
    out = tmp_path_factory.mktemp("fal-js") / "fal-js.mjs"
    subprocess.run(
        [str(esbuild), "--bundle", "--format=esm", "--platform=browser", "--log-level=warning",
         "--sourcefile=entry.js", f"--outfile={out}"],
        input=b'export { createFalClient } from "@fal-ai/client";\n',
        cwd=node_prefix(),  # where node_modules is
        check=True,
        timeout=120,
    )  # fmt: skip
    return out.read_bytes()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Browser(chromium_executable(), tmp_path_factory.mktemp("chromium")) as opened:
        yield opened


def run_page(browser: Browser, url: str) -> dict[str, Any]:
    """Open the page and wait for what its module recorded."""
    browser.open(url)
    outcome: dict[str, Any] = browser.wait_for(OUTCOME, timeout=60)
    return outcome


def test_the_browser_example_calls_through_the_fastapi_proxy(
    environment: LocalFal, fal_js_bundle: bytes, browser: Browser
) -> None:
    app = run_block("app.py")
    app["SESSIONS"]["session-1"] = "alice"
    same_origin, _ = js_blocks()
    html = page(same_origin.code + RECORD_RESULT)

    async def the_page(request: Request) -> Response:
        return HTMLResponse(html)

    async def the_bundle(request: Request) -> Response:
        return Response(fal_js_bundle, media_type="text/javascript")

    app["app"].add_route("/page", the_page)
    app["app"].add_route("/fal-js.mjs", the_bundle)
    with serve(app["app"]) as base_url:
        browser.call("Network.clearBrowserCookies")
        stranger = run_page(browser, f"{base_url}/page")  # no session cookie: refused
        assert stranger["status"] == 401, stranger
        assert not environment.requests_for("submit")

        # What the app's login would have set: the cookie goes along by itself, same origin.
        browser.call("Network.setCookie", name="session", value="session-1", url=base_url)
        signed_in = run_page(browser, f"{base_url}/page")
        assert "failed" not in signed_in, signed_in
        assert signed_in["images"] >= 1 and signed_in["requestId"]
        assert (
            browser.evaluate(f"document.documentElement.outerHTML.includes({PROXY_KEY!r})") is False
        )
    (submit,) = environment.requests_for("submit")
    assert submit.request_id == signed_in["requestId"]


@pytest.mark.parametrize("signed", [True, False], ids=["signed-token", "forged-token"])
def test_the_token_example_calls_through_the_django_proxy(
    signed: bool,
    environment: LocalFal,
    fal_js_bundle: bytes,
    browser: Browser,
    tmp_path: Path,
) -> None:
    _, with_token = js_blocks()
    token = (
        'const { token } = await (await fetch("/api/login")).json();'  # the guide's login view
        if signed
        else 'const token = "forged";'
    )
    module = "\n".join(
        [
            'import { createFalClient } from "@fal-ai/client";',
            token,
            with_token.code,
            f'const result = await fal.subscribe("{ENDPOINT}", {{ input: {{ prompt: "a cat" }} }});',
            RECORD_RESULT,
        ]
    )
    (tmp_path / "asgi.py").write_text(blocks()["asgi.py"])
    (tmp_path / "page_asgi.py").write_text(PAGE_ASGI)
    (tmp_path / "page.html").write_text(page(module))
    (tmp_path / "fal-js.mjs").write_bytes(fal_js_bundle)
    with serve_asgi_module(tmp_path, "page_asgi:application") as base_url:
        outcome = run_page(browser, f"{base_url}/page")
    if signed:
        assert "failed" not in outcome, outcome
        assert outcome["images"] >= 1
        (submit,) = environment.requests_for("submit")
        assert submit.request_id == outcome["requestId"]
    else:
        assert outcome["status"] == 401, outcome
        assert not environment.requests_for("submit")
