"""The one place where text from the document becomes part of generated source.

Every description, summary or name read from the OpenAPI document reaches the generated modules
through :func:`literal` (a Python literal: ``repr``, which escapes anything) or :func:`docstring`
(the body of a triple-quoted docstring, which must not close it early or smuggle an escape).
Nothing else writes document text into source.
"""

from __future__ import annotations

__all__ = ["docstring", "literal"]


def literal(value: object) -> str:
    """``value`` (a str, number, bool, None or a tuple/list/dict of them) as a Python literal."""
    return repr(value)


def docstring(text: str) -> str:
    """The body of a ``\"\"\"...\"\"\"`` docstring saying ``text``: backslashes and quotes
    escaped so the docstring means exactly ``text`` and ends where the template ends it, control
    characters written as escapes; a one-liner stays on one line, longer ones close on their own line."""
    escaped = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    escaped = "".join(
        f"\\x{ord(char):02x}" if ord(char) < 32 and char not in "\n\t" else char for char in escaped
    )
    if escaped.endswith('"'):
        escaped = escaped[:-1] + '\\"'
    return escaped if "\n" not in escaped else escaped + "\n"
