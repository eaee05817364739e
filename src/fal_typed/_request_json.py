"""The JSON body a call sends: encoded once, strictly, or refused naming each value at fault.

fal reads JSON as RFC 8259 defines it: no NaN or infinity, and text in UTF-8, which a string
holding a lone surrogate cannot be. ``json.dumps`` writes NaN unless told not to, and httpx's
own encoding raises a bare ``ValueError`` or ``TypeError`` naming no field. So a call encodes
its body here, once, in C, into the bytes it sends (retries resend them); a body that cannot be
encoded is walked to name every value at fault, as an :class:`~fal_typed.InputValidationError`
raised before anything is sent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, cast

from typing_extensions import override

from ._errors import InputValidationError

__all__ = [
    "JSON_CONTENT_TYPE",
    "EncodedBody",
    "check_json",
    "encode_json",
    "json_problems",
    "refusal",
    "with_json_type",
]

JSON_CONTENT_TYPE: Final = "application/json"

#: Compact strict JSON in one C pass, as httpx writes a ``json=`` body (built once: ``json.dumps``
#: with options builds an encoder per call).
_STRICT: Final = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":"))


class EncodedBody(Mapping[str, Any]):
    """A body written already as the JSON bytes a call sends (``encoded``): a validated input
    its model's serializer wrote in one pass, with no dict built between. Read as a mapping, it
    is ``dump()``, built at the first read (a call that only sends it never builds it)."""

    __slots__ = ("_data", "_dump", "encoded")

    def __init__(self, encoded: bytes, dump: Callable[[], dict[str, Any]]) -> None:
        self.encoded = encoded
        self._dump = dump
        self._data: dict[str, Any] | None = None

    def _mapping(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self._dump()
        return self._data

    @override
    def __getitem__(self, key: str) -> Any:
        return self._mapping()[key]

    @override
    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    @override
    def __len__(self) -> int:
        return len(self._mapping())

    @override
    def __repr__(self) -> str:
        return repr(self._mapping())


def encode_json(endpoint_id: str, body: Mapping[str, Any]) -> bytes:
    """``body`` as the UTF-8 JSON bytes to send; an :class:`InputValidationError` naming each
    value JSON cannot carry (a NaN or infinite float, a lone surrogate, an object JSON does not
    know) when it cannot be. An :class:`EncodedBody` is its bytes."""
    if isinstance(body, EncodedBody):
        return body.encoded
    try:
        return _STRICT.encode(body if isinstance(body, dict) else dict(body)).encode("utf-8")
    except (ValueError, TypeError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        failure = exc
    raise refusal(endpoint_id, body, failure)


def refusal(endpoint_id: str, body: Mapping[str, Any], failure: Exception) -> InputValidationError:
    """The error of a body that could not be encoded (``failure``): each value at fault named,
    or, when the walk finds none (nesting past the encoder's stack), what failed."""
    problems = _problems(body) or [_problem((), f"cannot be sent as JSON ({failure})")]
    return InputValidationError(endpoint_id, problems)


def check_json(endpoint_id: str, body: Mapping[str, Any]) -> None:
    """Raise as :func:`encode_json` would, for a body checked before it is sent (its uploads
    wait on it, or the caller only built it)."""
    encode_json(endpoint_id, body)


def with_json_type(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with the JSON content type added, unless the caller gave one (in any case)."""
    for name in headers:  # (a loop, not any() over a generator: every call passes here)
        if name.lower() == "content-type":
            return headers
    headers["Content-Type"] = JSON_CONTENT_TYPE
    return headers


def json_problems(
    value: object, *, passes: Callable[[object], bool] = lambda _: False
) -> list[dict[str, Any]]:
    """Every part of ``value`` (an open field's, checked as it is validated) JSON cannot carry,
    as :func:`refusal` names them, located below ``value``; a part ``passes`` accepts (a local
    file, uploaded before the body is sent) is not looked into."""
    return _problems(value, passes=passes, mapping_root=False)


def _problems(
    body: object,
    *,
    passes: Callable[[object], bool] = lambda _: False,
    mapping_root: bool = True,
) -> list[dict[str, Any]]:
    """Every value of ``body`` JSON cannot carry, located and ordered by location. Walked
    without recursion (``extra_body`` and open fields may nest deep), each container once (a
    value that contains itself is left to the encoder's own reason)."""
    errors: list[dict[str, Any]] = []
    stack: list[tuple[tuple[str | int, ...], object]] = [((), body)]
    walked: set[int] = set()  # containers met already: a cycle is walked once, not for ever
    while stack:
        loc, value = stack.pop()
        identity, kind = id(value), type(value).__name__  # (read before any narrowing)
        if identity in walked or passes(value):
            continue
        if isinstance(value, (Mapping, list, tuple)):
            walked.add(identity)
        if isinstance(value, dict) or (mapping_root and not loc and isinstance(value, Mapping)):
            for key, item in cast("Mapping[object, object]", value).items():
                if isinstance(key, str) and not _encodable(key):
                    errors.append(_problem(loc, "a key is not valid Unicode (a lone surrogate)"))
                elif not isinstance(key, (str, int, float)) and key is not None:
                    errors.append(_problem(loc, f"a key of type {type(key).__name__} is not text"))
                stack.append(((*loc, str(key)), item))
        elif isinstance(value, (list, tuple)):
            stack.extend(((*loc, i), item) for i, item in enumerate(cast("list[object]", value)))
        elif isinstance(value, float):
            if not math.isfinite(value):
                errors.append(
                    _problem(loc, f"{value} is not a finite number (JSON has no NaN or inf)")
                )
        elif isinstance(value, str):
            if not _encodable(value):
                errors.append(
                    _problem(loc, "not valid Unicode (a lone surrogate UTF-8 cannot encode)")
                )
        elif not isinstance(value, int) and value is not None:
            errors.append(_problem(loc, f"an object of type {kind} is not JSON"))
    return sorted(errors, key=lambda e: str(e["loc"]))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _problem(loc: tuple[str | int, ...], message: str) -> dict[str, Any]:
    return {"loc": loc, "msg": message, "type": "unencodable"}
