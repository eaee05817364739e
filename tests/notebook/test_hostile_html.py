"""Whatever a server writes into a result, a file, a status or a log, the notebook's HTML holds
only the elements and attributes fal-typed writes itself, and only web or ``data:`` URLs.

Each hostile text is put in each place a server controls (a file's URL, its data: URI's type,
its content type, its name; a result's extra field names and values; log lines; a failure), and
every HTML a frontend receives is parsed as a browser would read it: no script, no handler
attribute, no attribute or element the text added.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from IPython.core.formatters import DisplayFormatter

from fal_typed import Completed, FileOutput, InProgress, Log, OutputModel
from fal_typed.notebook import gallery

# Pieces that end an attribute, a tag or an element, or start markup, in every quoting.
HOSTILE = [
    '" onerror="alert(1)',
    "' onerror='alert(1)",
    '"><script>alert(1)</script>',
    "</code><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "x onload=alert(1) ",
    '"/onerror=alert(1)//',
    "javascript:alert(1)",
]
ELEMENTS = frozenset(
    {"div", "span", "strong", "em", "code", "table", "tr", "td", "figure", "figcaption"}
    | {"img", "video", "audio", "a"}
)
ATTRIBUTES = frozenset(
    {"src", "href", "alt", "title", "loading", "style", "controls", "preload", "download"}
    | {"target", "rel"}
)
PNG_HEAD = base64.b64encode(b"\x00" * 16).decode()  # bytes no sniffer names: the stated type wins


class File(FileOutput):
    url: str
    content_type: str | None = None
    file_name: str | None = None


class Result(OutputModel):
    files: list[File]


class Markup(HTMLParser):
    """Every element and attribute of an HTML text, as a browser's tokenizer reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def check_markup(html: str) -> None:
    parser = Markup()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.elements:
        assert tag in ELEMENTS, (tag, html)
        for name, value in attrs:
            assert name in ATTRIBUTES, (name, html)
            if name in ("src", "href"):
                assert value is not None and value.split(":", 1)[0] in ("http", "https", "data")
            if name == "style":
                assert value is not None and "(" not in value and "url" not in value


def html_of(obj: object) -> str:
    """The HTML a Jupyter frontend receives for ``obj`` (IPython's own formatter)."""
    formatted: tuple[dict[str, object], object] = DisplayFormatter().format(obj)  # type: ignore[no-untyped-call]
    html = formatted[0].get("text/html")
    assert isinstance(html, str), sorted(formatted[0])
    return html


PLACES: dict[str, Callable[[str], object]] = {
    "content_type": lambda text: File(
        url=f"data:application/octet-stream;base64,{PNG_HEAD}", content_type=f"image/x{text}"
    ),
    "content_type of a link": lambda text: File(
        url="https://cdn.example/f", content_type=f"text/{text}"
    ),
    "data: URI type": lambda text: File(url=f"data:image/x{text};base64,{PNG_HEAD}"),
    "data: URI type of a video": lambda text: File(url=f"data:video/{text},AAAA"),
    "url": lambda text: File(url=f"https://cdn.example/{text}.png"),
    "url scheme": lambda text: File(url=text),
    "file_name": lambda text: File(url="https://cdn.example/f", file_name=text),
    "result field": lambda text: Result.model_validate(
        {"files": [{"url": "https://cdn.example/a.png"}], text: text}
    ),
    "gallery": lambda text: gallery(
        Result(files=[File(url=f"https://cdn.example/{text}", content_type=f"video/{text}")])
    ),
    "log": lambda text: InProgress(logs=[Log(message=text, level=text)]),
    "failure": lambda text: Completed(error=text, error_type=text, logs=[Log(message=text)]),
}


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("place", sorted(PLACES))
def test_server_text_never_becomes_markup(place: str, text: str) -> None:
    check_markup(html_of(PLACES[place](text)))


def test_a_content_type_that_is_no_media_type_is_not_shown_or_used() -> None:
    file = File(url="https://cdn.example/photo.png", content_type='image/x" onerror="alert(1)')
    html = html_of(file)
    assert "onerror" not in html and html.startswith('<img src="https://cdn.example/photo.png"')
    assert "image/png" in html  # the type comes from the name instead


@pytest.mark.parametrize(
    ("url", "file_name"),
    [
        ("https://[oops/a.png", None),  # urlsplit raises ValueError for these
        ("http://[::1/x.mp4", None),
        ("https://cdn.example/a.png", "http://[bad"),
        ("https://cdn.example:99999999/a.png", None),
    ],
)
def test_a_url_that_is_no_url_still_shows(url: str, file_name: str | None) -> None:
    html = html_of(Result(files=[File(url=url, file_name=file_name)]))
    check_markup(html)
    assert "<figure" in html
