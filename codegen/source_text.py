"""One escaping path for every string from a document that reaches generated source.

A document is written by whoever served it, and the module made from it is imported by users:
no text of a document may ever become code. Document text reaches a module in exactly these
forms, each written by one function here (the templates get them as jinja filters):

- :func:`docstring`: a whole docstring body (module, class and call docstrings: descriptions,
  titles, categories, playground URLs). Control characters and escape sequences are removed,
  every kind of line break becomes ``\\n``, backslashes are doubled and ``\"\"\"`` is broken up,
  so the text can neither end the string nor change what it means.
- :func:`docstring_part`: a piece the template places inside a docstring of its own (the
  endpoint id). Every quote and backslash is escaped and line breaks become spaces, so the piece
  is safe whatever stands around it.
- :func:`literal`: a Python literal (strings, numbers, booleans, None, lists and dicts of them:
  ids, enum values, defaults, aliases, ``__all__``), written with ``repr``, which escapes
  everything a string may hold. Numbers Python cannot write as literals (infinities, NaN,
  integers over 4,000 digits) raise :class:`Unwritable`.
- Names are never document text: module names come from :func:`fal_typed.naming.module_name`,
  class names from :func:`codegen.normalise.class_name`, argument names from the plan; each is an
  ASCII identifier, which :func:`identifier` checks before it is written.

Each function proves its own result before returning it: the escaped text is parsed back
(``ast``) and must be exactly one string constant holding the intended text (a literal must
evaluate to its value), else :class:`Unwritable`. So every piece of a module that holds document
text is known to be inert, without compiling whole modules.

Comments carry no document text. datamodel-code-generator's output is parsed and written back
from its syntax tree (its comments dropped, its strings re-escaped by :func:`ast.unparse`), and
:mod:`codegen.declarative` checks that tree holds declarations only.
"""

from __future__ import annotations

import ast
import keyword
import math
from typing import Any

from fal_typed._printable import printable

__all__ = ["Unwritable", "docstring", "docstring_part", "identifier", "literal", "plain_text"]

_MAX_INT_DIGITS = 4000  # Python refuses int literals over 4,300 digits (sys.int_info)


class Unwritable(ValueError):
    """A value Python source cannot hold as a literal."""


def plain_text(text: str) -> str:
    """Text for a reader: no control characters or escape sequences, ``\\n`` line breaks."""
    return printable(text, lines=True)


def docstring(text: str) -> str:
    """A docstring body, escaped: a one-liner stays on one line, longer ones close on their own."""
    plain = plain_text(text)
    escaped = plain.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    closes_alone = "\n" in escaped or escaped.endswith('"')
    body = escaped + "\n" if closes_alone else escaped
    _prove_string(f'"""{body}"""', plain + "\n" if closes_alone else plain)
    return body


def docstring_part(text: str) -> str:
    """A piece of one line for inside a docstring the template writes around it."""
    plain = printable(text)
    escaped = plain.replace("\\", "\\\\").replace('"', '\\"')
    # Inside plain quotes it is one constant: no unescaped quote, newline or trailing backslash,
    # so it cannot end any string it is put in.
    _prove_string(f'"{escaped}"', plain)
    return escaped


def literal(value: Any) -> str:
    """Python source of a JSON value; raises :class:`Unwritable` for what has no literal."""
    _check_writable(value)
    source = repr(value)
    try:
        same = ast.literal_eval(source) == value
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        same = False
    if not same:
        raise Unwritable(f"{source[:60]} does not read back as the value it was written for")
    return source


def _prove_string(source: str, expected: str) -> None:
    """``source`` must parse as exactly one string constant equal to ``expected``."""
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise Unwritable(f"escaped text does not parse: {exc}") from None
    if not (isinstance(tree.body, ast.Constant) and tree.body.value == expected):
        raise Unwritable("escaped text does not read back as the text it was written for")


def _check_writable(value: Any) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unwritable(f"{value!r} has no Python literal")
    elif isinstance(value, int):
        if value.bit_length() > _MAX_INT_DIGITS * 3.32:
            raise Unwritable("an integer of more than 4,000 digits has no Python literal")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_writable(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_writable(key)
            _check_writable(item)
    else:
        raise Unwritable(f"a {type(value).__name__} is not a JSON value")


def identifier(name: str) -> str:
    """``name`` if it is an ASCII identifier that is not a keyword, else raise ValueError.

    ASCII only: Python reads identifiers NFKC-normalised, so a full-width ``\\uff41`` would name ``a``.
    """
    if not (name.isascii() and name.isidentifier()) or keyword.iskeyword(name):
        raise ValueError(f"{name!r} is not a plain identifier")
    return name
