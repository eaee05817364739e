"""The scrub holds whatever shape an echo of the key takes (``_errors.scrub``).

A message quoting the first N characters of an answer may cut an echoed key anywhere, and an
echo may come escaped (``repr``, JSON, percent-encoding). What is left of the key's secret, at
least ``MIN_FRAGMENT_LENGTH`` characters from its start or its end, is scrubbed too; an id that
is no secret (the ``id`` of ``id:secret``) is kept, since fal's own messages name it.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from fal_typed import Completed, FalError, InProgress, Log
from fal_typed._errors import MIN_FRAGMENT_LENGTH, remember_secrets, scrub

FORMS = {
    "as is": lambda key: key,
    "repr": lambda key: repr(key)[1:-1],
    "json": lambda key: json.dumps(key)[1:-1],
    "percent": lambda key: urllib.parse.quote(key, safe=""),
}

keys = st.builds(
    lambda kid, secret, odd: f"{kid}:{secret[:8]}{odd}{secret[8:]}",
    st.uuids().map(str),
    st.uuids().map(lambda u: u.hex),
    st.sampled_from(["", "\\", "'", '"', "%", "+/="]),
)


def _leaves(text: str, secret: str) -> bool:
    """Whether ``text`` holds a start or an end of ``secret`` the scrub may not leave."""
    return secret[:MIN_FRAGMENT_LENGTH] in text or secret[-MIN_FRAGMENT_LENGTH:] in text


@settings(max_examples=500)
@given(
    key=keys,
    form=st.sampled_from(sorted(FORMS)),
    cut=st.integers(min_value=0, max_value=200),
    keep_start=st.booleans(),
    around=st.text(alphabet="abcdefghij ./{}", max_size=40),
)
def test_a_cut_or_escaped_echo_of_the_key_leaves_none_of_its_secret(
    key: str, form: str, cut: int, keep_start: bool, around: str
) -> None:
    _, _, secret = key.partition(":")
    remember_secrets((key, secret))
    echoed = around + FORMS[form](key) + around
    text = echoed[:cut] if keep_start else echoed[cut:]
    scrubbed = scrub(text)
    for run in re.split(r"[^0-9a-f]+", secret):  # the secret's runs no escape changes
        if len(run) >= MIN_FRAGMENT_LENGTH:
            assert not _leaves(scrubbed, run), (text, scrubbed)
    assert str(FalError(text)).startswith(scrubbed)  # every error's attributes pass it


def test_the_id_half_of_a_key_and_ordinary_text_are_kept() -> None:
    kid, secret = str(uuid.uuid4()), uuid.uuid4().hex
    remember_secrets((f"{kid}:{secret}", secret))
    assert scrub(f"key {kid} has no access") == f"key {kid} has no access"
    assert scrub(f"cut: {kid}:{secret[:20]}") == f"cut: {kid}:[redacted]"
    assert scrub(f"{secret[-9:]} ends it") == "[redacted] ends it"
    assert scrub(f"{secret[: MIN_FRAGMENT_LENGTH - 1]}") == secret[: MIN_FRAGMENT_LENGTH - 1]


def test_a_shorter_secret_inside_a_cut_echo_does_not_split_it() -> None:
    """Secrets whole and the cut ends of keys are removed longest first, together: a shorter
    secret (another key's, a token) replaced first cut a longer echo into pieces that were
    neither a start nor an end of its key, and so stayed."""
    secret = "proxy-key-secret-" + uuid.uuid4().hex
    shorter = secret[6:16]  # "key-secret": a secret of its own
    remember_secrets((f"proxy-key-id:{secret}", secret))
    text = f"echo {secret[:-3]}"  # the key cut short
    assert scrub(text, (shorter,)) == "echo [redacted]"


def test_a_status_printed_shows_no_key_the_server_echoed() -> None:
    """Statuses are the server's text (an error, log lines): printing one, as a callback does
    with each update, scrubs it like an error."""
    key = f"{uuid.uuid4()}:{uuid.uuid4().hex}"
    secret = key.partition(":")[2]
    remember_secrets((key, secret))
    logs = [Log(message=f"loading with {key}"), Log(message=f"cut {secret[:12]}")]
    for status in (
        Completed(error=f"bad key {key}", error_type=secret, logs=logs),
        InProgress(logs=logs),
    ):
        for shown in (repr(status), str(status), status._repr_html_()):
            assert secret[:MIN_FRAGMENT_LENGTH] not in shown, shown
            assert "[redacted]" in shown
