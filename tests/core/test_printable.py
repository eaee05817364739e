"""``printable``: server text made safe for a terminal, without losing the text itself.

It now filters a model's log lines and error text on their way to a terminal, so what it takes
out matters: an OSC/DCS string introducer with no end took the rest of the line with it. A
stray C1 byte is common (UTF-8 read as Latin-1 makes ``\\x9d`` of a closing quote mark).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fal_typed._printable import printable

ESCAPES = "\x1b\x07\x9b\x9c\x9d\x90\x98\x9e\x9f\u202e"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("latin-1 read utf-8: \xe2\x80\x9d and the rest", "latin-1 read utf-8: \xe2 and the rest"),
        ("stray \x90 then important text", "stray  then important text"),
        ("unended \x1b]0;title stays text", "unended 0;title stays text"),
        ("\x1b]0;pwned\x07title set", "title set"),
        ("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("csi \x1b[2J\x9b31m cleared", "csi  cleared"),
        ("ok 日本語 café 🙂\ttab", "ok 日本語 café 🙂\ttab"),
    ],
)
def test_sequences_go_and_the_text_around_them_stays(text: str, shown: str) -> None:
    assert printable(text) == shown


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=40))
def test_text_after_a_lone_introducer_is_kept(tail: str) -> None:
    for introducer in ("\x90", "\x98", "\x9d", "\x9e", "\x9f", "\x1b]", "\x1bP"):
        shown = printable(f"a{introducer}{tail}")
        expected = printable(tail)
        assert shown.endswith(expected), (introducer, tail, shown)
        assert not any(c in shown for c in ESCAPES)
