"""What the generator reports about a document: warnings it worked around, errors that skip it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fal_typed._printable import printable

__all__ = ["Diagnostic", "DocumentError"]


class DocumentError(Exception):
    """A document cannot become a module. The run reports it by name and goes on with the rest."""


@dataclass(frozen=True)
class Diagnostic:
    """One finding about one document (``source`` is its file name)."""

    source: str
    level: Literal["warning", "error"]
    message: str

    def __str__(self) -> str:
        """One line for a terminal: a message may quote the document, so it is made printable."""
        return printable(f"{self.level}: {self.source}: {self.message}")
