"""Parsing a JSON answer so that a paid result is never lost to the parser.

``json.loads`` raises ``RecursionError`` on a value nested about a thousand deep and
``JSONDecodeError`` on a truncated or invalid body; the typed layer above could recurse just as
deep. :func:`parse_json` turns each into a :class:`~fal_typed.ProtocolError` that keeps the text
(keys scrubbed out) and the request id, and refuses nesting past ``Limits.max_json_depth``, so
what fal sent (and billed) can still be read from the error.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

import httpx

from ._errors import ProtocolError
from ._pydantic import validation_error

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["answer_text", "json_depth_exceeds", "parse_json"]

#: Characters of an unreadable body quoted in the message (all of it is kept in ``text``).
_QUOTED: Final = 200


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects/arrays more than ``limit`` deep (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        container: Any = node  # pyright: ignore[reportUnknownVariableType]
        children: Iterable[Any] = container.values() if isinstance(node, dict) else container
        depth += 1
        if depth > limit:
            return True
        stack.extend((child, depth) for child in children)
    return False


def answer_text(response: httpx.Response) -> str:
    """``response.text``, without httpx's parse of the Content-Type header when it cannot change
    the result: no charset named and the client's default UTF-8 (what httpx then decodes with,
    replacing undecodable bytes as this does). A leading byte-order mark is dropped."""
    if response.default_encoding == "utf-8" and (
        "charset" not in response.headers.get("content-type", "").lower()
    ):
        text = response.content.decode("utf-8", "replace")
    else:
        text = response.text
    # A byte-order mark is no part of the JSON (json.loads refuses a str that keeps it).
    return text[1:] if text.startswith("\ufeff") else text


@functools.lru_cache(maxsize=256)
def _refuses_deeper(model: type[BaseModel], max_depth: int) -> bool:
    """Whether ``model``'s JSON parsing itself refuses a text nested past ``max_depth``:
    pydantic-core's stops at about 200 levels, below the default limit. Then whatever it
    validates is within the limit, however many brackets the text holds (a result of hundreds
    of images). Asked of the parser once per model and limit, with a text one level past it:
    only an answer at least that long asks."""
    deeper = '{"depth": ' + "[" * max_depth + "]" * max_depth + "}"
    try:
        model.model_validate_json(deeper)
    except validation_error() as exc:  # valid JSON: "json_invalid" only for its depth
        return any(error["type"] == "json_invalid" for error in exc.errors())
    except (ValueError, RecursionError):
        return False
    return False


def parse_json(
    text: str,
    *,
    what: Callable[[], str],
    max_depth: int,
    request_id: str | None,
    redact: Callable[[str], str],
    into: type[BaseModel] | None = None,
) -> Any:
    """``text`` parsed, or a :class:`ProtocolError` naming ``what()`` and keeping the text (both
    passed through ``redact`` first: only a failure pays for them, the naming included).

    With ``into``, a text that validates into that model straight from its JSON (one pass in
    pydantic-core, no dicts and lists built on the way) is returned as an instance of it. Any
    other text is parsed as without ``into``, for the same data or the same error: the caller's
    own validation of that data then names what does not fit. (One difference: an integer too
    large for a float, in a float field, is infinity read from text, as ``1e400`` is either way,
    where Python-mode validation of the parsed integer refuses it.)"""
    # Each object or array opens with a bracket: a text with no more brackets than the limit
    # cannot nest past it, and is not walked (counting is C).
    brackets = text.count("{") + text.count("[")
    if into is not None and (brackets <= max_depth or _refuses_deeper(into, max_depth)):
        try:
            return into.model_validate_json(text)
        except (ValueError, RecursionError):  # a ValidationError is a ValueError
            pass
    problem: str | None = None
    error_type: str | None = None
    data: Any = None
    try:
        data = json.loads(text)
    except RecursionError:
        problem = f"is nested deeper than Limits.max_json_depth ({max_depth})"
        error_type = "limit_exceeded"
    except ValueError as exc:  # the parser's reason: a place, or Python's digit limit on ints
        problem = f"is not valid JSON ({exc})"
    else:
        if brackets > max_depth and json_depth_exceeds(data, max_depth):
            problem = f"is nested deeper than Limits.max_json_depth ({max_depth})"
            error_type = "limit_exceeded"
    if problem is None:
        return data
    scrubbed = redact(text)
    quoted = scrubbed[:_QUOTED] + ("..." if len(scrubbed) > _QUOTED else "")
    raise ProtocolError(
        f"{redact(what())} {problem}; its text is kept on the error (.text): {quoted!r}",
        request_id=request_id,
        error_type=error_type,
        text=scrubbed,
    )
