"""Document text made safe for a Markdown page: what a reader sees, never markup or links.

A document is written by whoever served it, and its text reaches every reader of the site: a
description must not add HTML (``<script>``, an ``<img onerror=...>``), a link (``[x](javascript:
...)``), attributes (``{: onclick=...}``), a heading or a code fence that swallows the page.
Document text reaches a page in exactly these forms, each written by one function here:

- :func:`inline`: prose (descriptions, categories, enum values shown as words). Every character
  that HTML or Markdown treat as syntax becomes a numeric character reference, so Python-Markdown
  sees plain text and the browser shows the character. Two things are made on purpose: a
  backquoted span becomes ``<code>`` (its text escaped the same way) and an ``http(s)`` URL becomes
  a link to itself; line breaks become ``<br>``, so the text stays one Markdown line (a table cell,
  or one paragraph that cannot start a block of its own).
- :func:`code_literal`: a value inside ``<code>`` (defaults, allowed values, field names).
- :func:`fence`: a fenced code block whose fence is longer than any backquote run inside.
- :func:`slug`: a path segment made of ``[a-z0-9-]`` (categories name folders).

Control characters, escape sequences and bidirectional controls are removed first
(:func:`fal_typed._printable.printable`, as for terminals and generated docstrings).
"""

from __future__ import annotations

import re

from fal_typed._printable import printable

__all__ = ["code_literal", "fence", "inline", "slug"]

# Characters that start HTML, an entity, or Markdown inline syntax anywhere in a line
# (Python-Markdown and the extensions the site enables: attr_list braces, tables' pipes,
# emphasis, links and images, footnotes, abbreviations, backslash escapes). Each becomes &#N;
# (shown as itself). Block syntax (headings, lists, quotes, admonitions) starts only at the start
# of a line: a line of document text never starts with a raw character other than a letter or
# digit.
_SYNTAX = frozenset("&<>\"'`*_[]!|{}~^=\\")
_URL = re.compile(r"https?://[^\s<>\"'`\\|{}\[\]()]+[^\s<>\"'`\\|{}\[\]().,;:!?]")
_CODE = re.compile(r"`([^`\n]+)`")
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
# Paragraphs are separated by blank lines; a line break inside one (descriptions are wrapped
# docstrings) is a space, unless a list item or an indented line follows.
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")
_LINE_BREAK = re.compile(r"[ \t]*\n(?![ \t]|(?:[-*•+]|\d+[.)])[ \t])")
_SURROGATES = re.compile("[\ud800-\udfff]")
_ENTITIES = {ord(ch): f"&#{ord(ch)};" for ch in _SYNTAX}


def _printable(text: str) -> str:
    """``text`` without escape sequences, control characters or bidirectional controls; line
    breaks of every kind become ``\\n`` (the runtime's one definition of readable text); a lone
    surrogate (JSON can hold one, UTF-8 cannot) becomes U+FFFD."""
    return _SURROGATES.sub("\ufffd", printable(text, lines=True))


def _escape(text: str) -> str:
    return text.translate(_ENTITIES)


def code_literal(text: str) -> str:
    """``text`` as the content of a ``<code>`` element: escaped, one line."""
    return "<code>" + _escape(_printable(text).replace("\n", " ")) + "</code>"


def inline(text: str) -> str:
    """Prose from a document as one line of Markdown that renders as exactly that text (with
    its backquoted spans as code and its web addresses as links)."""
    paragraphs = _BLANK_LINES.split(_printable(text).strip())
    text = "\n\n".join(_LINE_BREAK.sub(" ", paragraph) for paragraph in paragraphs)
    line = "<br>".join(_line(line) for line in text.split("\n"))
    if line and not line[0].isalnum() and not line.startswith(("&#", "<code>", "<a ")):
        line = f"&#{ord(line[0])};{line[1:]}"
    return line


def _line(line: str) -> str:
    out: list[str] = []
    position = 0
    for match in _CODE.finditer(line):
        out.append(_with_links(line[position : match.start()]))
        out.append(code_literal(match.group(1)))
        position = match.end()
    out.append(_with_links(line[position:]))
    return "".join(out)


def _with_links(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        out.append(_escape(text[position : match.start()]))
        url = _escape(match.group(0))
        out.append(f'<a href="{url}" rel="nofollow noopener">{url}</a>')
        position = match.end()
    out.append(_escape(text[position:]))
    return "".join(out)


def fence(code: str, language: str = "python") -> str:
    """A fenced code block holding ``code`` verbatim, whatever backquotes it contains."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    marker = "`" * max(3, longest + 1)
    return f"{marker}{language}\n{code.rstrip()}\n{marker}"


def slug(text: str) -> str:
    """A path segment for ``text`` (``"Text to Image"`` -> ``"text-to-image"``), never empty."""
    return _SLUG_JUNK.sub("-", text.lower()).strip("-")[:80] or "other"
