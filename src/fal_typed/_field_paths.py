"""Pydantic error locations as the caller's field paths.

Pydantic locates an error inside a union by the branch it tried: ``("image_size", "ImageSize")``
and ``("image_size", "literal['square_hd',...]")`` for one bad ``image_size``, and a tagged union
adds the tag. Those labels are no field the caller wrote. :func:`field_path` walks a location
along the model's own types and keeps only what names the caller's data: field names (by the
keyword the caller uses), dictionary keys and list indexes, e.g. ``("loras", 1, "path")``.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

if TYPE_CHECKING:  # imported by _errors, which the CLI and listing load without pydantic
    from pydantic import BaseModel

__all__ = ["field_path"]

_UNIONS: tuple[Any, ...] = (Union, types.UnionType)


def field_path(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[str | int, ...]:
    """``loc`` without pydantic's union branch labels, field aliases given as field names."""
    kept: list[str | int] = []
    candidates: list[Any] = [model]
    for segment in loc:
        atoms = [atom for candidate in candidates for atom in _atoms(candidate)]
        if isinstance(segment, int):
            kept.append(segment)
            candidates = [item for atom in atoms for item in _items(atom)]
            continue
        fields = [found for atom in atoms if (found := _field(atom, segment)) is not None]
        if fields:
            kept.append(fields[0][0])
            candidates = [annotation for _, annotation in fields]
        elif len(atoms) > 1:
            # A union's branch label (or a tagged union's tag), even where a branch is a
            # mapping (``dict[str, Any] | float``): follow the branch it names.
            named = [atom for atom in atoms if _labelled(atom, segment)]
            candidates = named or atoms
        elif any(_is_mapping(atom) for atom in atoms):
            kept.append(segment)
            candidates = [value for atom in atoms for value in _values(atom)]
        else:
            kept.append(segment)  # not in the model (an unknown field): the caller's own name
            candidates = []
    return tuple(kept)


def _labelled(atom: Any, label: str) -> bool:
    """Whether pydantic labels the union branch ``atom`` so: by its name (``float``,
    ``ImageSize``), or a generic by its origin's (``dict[str,any]``, ``literal['a']``)."""
    if getattr(atom, "__name__", None) == label:
        return True
    origin = get_origin(atom)
    name = "literal" if origin is Literal else getattr(origin, "__name__", None)
    return isinstance(name, str) and label.startswith(f"{name}[")


def _atoms(annotation: Any) -> list[Any]:
    """The alternatives of an annotation: unions flattened, ``Annotated`` and None dropped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _atoms(get_args(annotation)[0])
    if origin in _UNIONS:
        return [atom for arg in get_args(annotation) for atom in _atoms(arg)]
    if annotation is None or annotation is type(None):
        return []
    return [annotation]


def _field(atom: Any, name: str) -> tuple[str, Any] | None:
    """``(field name, annotation)`` of the field of model ``atom`` called ``name`` (or aliased)."""
    from pydantic import BaseModel

    if not (isinstance(atom, type) and issubclass(atom, BaseModel)):
        return None
    for field_name, info in atom.model_fields.items():
        if name in (field_name, info.alias, info.validation_alias):
            return field_name, info.annotation
    return None


def _is_mapping(atom: Any) -> bool:
    origin = get_origin(atom) or atom
    return isinstance(origin, type) and issubclass(origin, Mapping)


def _values(atom: Any) -> list[Any]:
    args = get_args(atom)
    return [args[1]] if len(args) == 2 else []


def _items(atom: Any) -> list[Any]:
    """What a list (or tuple) annotation holds; a tuple's items are all candidates."""
    origin = get_origin(atom)
    if not (isinstance(origin, type) and issubclass(origin, Sequence)):
        return []
    return [arg for arg in get_args(atom) if arg is not Ellipsis]
