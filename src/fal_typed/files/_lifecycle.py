"""How long an uploaded object lives and who may read it (fal's object lifecycle preference).

fal reads it from a JSON header: ``X-Fal-Object-Lifecycle`` on the CDN, and
``X-Fal-Object-Lifecycle-Preference`` on the storage initiate call; both are sent so either flow
honours it (PROTOCOL.md section 6).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args

__all__ = ["AccessDecision", "AccessRule", "ExpiresIn", "Lifecycle", "lifecycle_headers"]

ExpiresIn: TypeAlias = Literal["never", "immediate", "1h", "1d", "7d", "30d", "1y"] | int
"""A named retention, or a number of seconds (> 0). ``"never"`` keeps fal's default policy."""

AccessDecision: TypeAlias = Literal["allow", "hide", "forbid"]

_NAMED_SECONDS: dict[str, int | None] = {
    "never": None,
    # fal treats 0 as "no expiration", so "immediate" is the shortest real one, a minute.
    "immediate": 60,
    "1h": 3600,
    "1d": 86400,
    "7d": 604800,
    "30d": 2592000,
    "1y": 31536000,
}


def _expiration_seconds(expires_in: object) -> int | None:
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, str)):
        raise ValueError(
            f"lifecycle expires_in must be one of {sorted(_NAMED_SECONDS)} or seconds > 0, got {expires_in!r}"
        )
    if isinstance(expires_in, int):
        if expires_in <= 0:
            raise ValueError(f"lifecycle expires_in must be > 0 seconds, got {expires_in}")
        return expires_in
    if expires_in not in _NAMED_SECONDS:
        raise ValueError(
            f"lifecycle expires_in must be one of {sorted(_NAMED_SECONDS)} or seconds > 0, got {expires_in!r}"
        )
    return _NAMED_SECONDS[expires_in]


def _check_decision(decision: object) -> None:
    if decision not in get_args(AccessDecision):
        raise ValueError(
            f"access decision must be one of {get_args(AccessDecision)}, got {decision!r}"
        )


@dataclass(frozen=True)
class AccessRule:
    """Per-user access to an uploaded object."""

    user: str
    decision: AccessDecision

    def __post_init__(self) -> None:
        if not self.user:
            raise ValueError("AccessRule.user must not be empty")
        _check_decision(self.decision)


@dataclass(frozen=True)
class Lifecycle:
    """Retention and initial access of uploaded objects; validated when built."""

    expires_in: ExpiresIn | None = None
    default_access: AccessDecision | None = None
    access_rules: Sequence[AccessRule] = ()

    def __post_init__(self) -> None:
        if self.expires_in is not None:
            _expiration_seconds(self.expires_in)
        if self.default_access is not None:
            _check_decision(self.default_access)
        for rule in self.access_rules:
            if not isinstance(rule, AccessRule):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ValueError(f"access_rules must hold AccessRule objects, got {rule!r}")

    def payload(self) -> dict[str, Any]:
        """The JSON object fal expects (empty when everything is left to fal's defaults)."""
        payload: dict[str, Any] = {}
        seconds = _expiration_seconds(self.expires_in) if self.expires_in is not None else None
        if seconds is not None:
            payload["expiration_duration_seconds"] = seconds
        acl: dict[str, Any] = {}
        if self.default_access is not None:
            acl["default"] = self.default_access
        if self.access_rules:
            acl["rules"] = [{"user": r.user, "decision": r.decision} for r in self.access_rules]
        if acl:
            payload["initial_acl"] = acl
        return payload


def lifecycle_headers(lifecycle: Lifecycle | ExpiresIn | None) -> dict[str, str]:
    """Both lifecycle headers for ``lifecycle`` (a :class:`Lifecycle` or an ``expires_in`` shorthand).

    Raises ``ValueError`` for an invalid value, so a bad lifecycle fails before any request.
    """
    if lifecycle is None:
        return {}
    if not isinstance(lifecycle, Lifecycle):
        lifecycle = Lifecycle(expires_in=lifecycle)
    payload = lifecycle.payload()
    if not payload:
        return {}
    value = json.dumps(payload, separators=(",", ":"))
    return {"X-Fal-Object-Lifecycle": value, "X-Fal-Object-Lifecycle-Preference": value}
