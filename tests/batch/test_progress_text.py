"""The batch displays print messages that may quote a server's error text (a row's failure, a
fetch fault): escape sequences in it reached the terminal (rich takes out a few controls, not
ESC), so an error body could set the title, clear the screen or forge a link."""

from __future__ import annotations

import io

import pytest

from fal_typed.batch._progress import PlainProgress, RichProgress

HOSTILE = "row 3 failed: \x1b]0;pwned\x07no runner \x1b[2J\u202eavailable\x9b31m\nrequest r-1"


@pytest.mark.parametrize("kind", [PlainProgress, RichProgress])
def test_a_message_reaches_the_terminal_without_escape_sequences(kind: type) -> None:
    stream = io.StringIO()
    kind(stream).message(HOSTILE)
    shown = stream.getvalue()
    assert "row 3 failed: no runner available" in shown and "request r-1" in shown
    assert not any(c in shown for c in "\x1b\x07\x9b\u202e"), repr(shown)
