"""The browser helper the site tests stand on: a wait that meets a navigation asks again in the
next page (DevTools answers such an evaluation with an error, which once failed CI), an open waits
for the new document, and an error that is no navigation still raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from .browser import Browser, DevToolsError, serve_directory

HOPS = 12


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    """Pages 0..HOPS-1, each moving on to the next by itself after a few milliseconds, and one
    page with a link that navigates when clicked."""
    for hop in range(HOPS):
        script = (
            f"setTimeout(() => location.replace('/{hop + 1}.html'), 15)" if hop < HOPS - 1 else ""
        )
        (tmp_path / f"{hop}.html").write_text(
            f"<!doctype html><title>{hop}</title><script>{script}</script>"
        )
    (tmp_path / "link.html").write_text("<!doctype html><a id='go' href='/0.html'>go</a>")
    return tmp_path


def test_a_wait_across_navigations_reaches_the_last_page(browser: Browser, pages: Path) -> None:
    with serve_directory(pages) as base:
        browser.open(f"{base}/link.html")
        assert browser.evaluate("document.title") == ""
        browser.click("document.getElementById('go')")
        # Each evaluation awaits 100 ms while twelve documents replace each other every ~15 ms,
        # so evaluations are cut by navigations.
        last = (
            "new Promise(done => setTimeout(() => done(location.pathname === "
            f"'/{HOPS - 1}.html' && document.readyState === 'complete'), 100))"
        )
        assert browser.wait_for(last, timeout=60) is True
        assert browser.evaluate("document.title") == str(HOPS - 1)


def test_open_waits_for_the_new_document(browser: Browser, pages: Path) -> None:
    with serve_directory(pages) as base:
        browser.open(f"{base}/{HOPS - 1}.html")
        browser.open(f"{base}/link.html")
        assert browser.evaluate("location.pathname") == "/link.html"
        assert browser.evaluate("document.getElementById('go') !== null") is True
        # Redirected (a folder without its slash): the page it lands on is the one waited for.
        (pages / "folder").mkdir()
        (pages / "folder" / "index.html").write_text("<!doctype html><title>folder</title>")
        browser.open(f"{base}/folder")
        assert browser.evaluate("location.pathname + ' ' + document.title") == "/folder/ folder"


def test_an_error_that_is_no_navigation_raises(browser: Browser) -> None:
    with pytest.raises(DevToolsError) as caught:
        browser.call("Runtime.evaluate", expression="1", contextId=987654321)
    assert not caught.value.navigated
    assert "Cannot find context" in str(caught.value)


def test_a_wait_raises_at_once_on_a_throwing_expression(browser: Browser) -> None:
    with pytest.raises(RuntimeError, match="no_such_name"):
        browser.wait_for("no_such_name.value", timeout=60)
