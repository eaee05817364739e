"""Text read from the network, made safe to show in a terminal or to write into generated code.

A catalog, a document or an error body is written by whoever answers the request. Its text may
carry terminal escape sequences (``ESC [ 2 J`` clears the screen, ``ESC ] 8`` forges links),
other control characters, or Unicode bidirectional controls that make text read differently from
what it holds. :func:`printable` removes all of them, so what is shown is what was sent, minus
the parts that would act instead of being read.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

# Whole escape sequences first, so their parameters ("[31m") do not stay behind as text:
# CSI (ESC [ or 0x9B ... final byte), OSC / DCS / SOS / PM / APC strings ended by BEL or ST,
# then any other two-character ESC sequence. A string introducer with no end is removed alone
# (the fallback, or _CONTROLS for a C1 one), not with the rest of the line: a stray C1 byte
# (UTF-8 read as Latin-1 makes "\x9d" of a quote mark) would otherwise take the text after it.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]P^_X]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -~]?"
)
# Line breaks as Python's str.splitlines() knows them (the tokenizer and jinja's indent filter
# disagree on some: one form for all).
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# Every other C0 and C1 control character (tab and newline excepted), DEL, and the bidirectional
# controls (the "Trojan Source" characters).
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` without escape sequences, control characters and bidirectional controls.

    Line breaks of every kind become ``\\n`` when ``lines`` is set (multi-line text such as a
    description), else a space (a one-line message such as an error reason); tabs are kept.
    """
    text = _ESCAPES.sub("", text)
    text = _LINE_BREAKS.sub("\n" if lines else " ", text)
    if not lines:
        text = text.replace("\n", " ")
    return _CONTROLS.sub("", text)
