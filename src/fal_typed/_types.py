"""Small shared types: the "argument not given" sentinel and common aliases."""

from __future__ import annotations

from typing import Final, final

from typing_extensions import override

__all__ = ["NOT_GIVEN", "NotGiven"]


@final
class NotGiven:
    """Marks an argument the caller left out, as distinct from an explicit ``None``.

    Generated calls never send a field whose value is ``NOT_GIVEN``, so the server applies its
    own default rather than one frozen into the client.
    """

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    @override
    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __reduce__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()
