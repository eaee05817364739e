"""Pydantic error locations as the caller's field paths.

Pydantic locates an error inside a union by the branch it tried: ``("image_size", "ImageSize")``
and ``("image_size", "literal['square_hd',...]")`` for one bad ``image_size``, and a tagged union
adds the tag. Those labels are no field the caller wrote. :func:`field_path` walks a location
along the model's own types and keeps only what names the caller's data: field names (by the
keyword the caller uses), dictionary keys and list indexes, e.g. ``("loras", 1, "path")``.
:func:`close_field` names the field an unknown one was probably meant to be (a misspelling).
"""

from __future__ import annotations

import types
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

if TYPE_CHECKING:  # imported by _errors, which the CLI and listing load without pydantic
    from pydantic import BaseModel

__all__ = ["close_field", "field_path"]

_UNIONS: tuple[Any, ...] = (Union, types.UnionType)


def field_path(
    model: type[BaseModel], loc: Sequence[str | int], *, unknown_last: bool = False
) -> tuple[str | int, ...]:
    """``loc`` without pydantic's union branch labels, field aliases given as field names.
    ``unknown_last``: its last segment is an unknown field (an ``extra_forbidden`` error's),
    never a label."""
    return _walk(model, loc, unknown_last=unknown_last)[0]


def close_field(
    model: type[BaseModel], loc: Sequence[str | int], options: Collection[str] = ()
) -> str | None:
    """The field of the model where ``loc``'s last segment, an unknown field, was given whose
    name is closest to it (a misspelling: ``promt`` for ``prompt``), or None if none is close.
    At the top level, the call's ``options`` (``with_logs``...) are candidates too."""
    if not loc or not isinstance(loc[-1], str):
        return None
    import difflib  # an error path only: no call that succeeds pays for it

    names = {
        name for atom in _walk(model, loc, unknown_last=True)[1] for name in _field_names(atom)
    }
    if len(loc) == 1:
        names.update(options)
    matches = difflib.get_close_matches(loc[-1], sorted(names), n=1, cutoff=0.75)
    return matches[0] if matches else None


def _walk(
    model: type[BaseModel], loc: Sequence[str | int], *, unknown_last: bool
) -> tuple[tuple[str | int, ...], list[Any]]:
    """:func:`field_path` of ``loc``, and the types its last segment was looked up in."""
    kept: list[str | int] = []
    candidates: list[Any] = [model]
    atoms: list[Any] = []
    for position, segment in enumerate(loc, start=1):
        atoms = [atom for candidate in candidates for atom in _atoms(candidate)]
        if isinstance(segment, int):
            kept.append(segment)
            candidates = [item for atom in atoms for item in _items(atom)]
            continue
        fields = [found for atom in atoms if (found := _field(atom, segment)) is not None]
        if fields:
            kept.append(fields[0][0])
            candidates = [annotation for _, annotation in fields]
        elif len(atoms) > 1 and not (unknown_last and position == len(loc)):
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
    return tuple(kept), atoms


def _labelled(atom: Any, label: str) -> bool:
    """Whether pydantic labels the union branch ``atom`` so: by its name (``float``,
    ``ImageSize``), a generic by its origin's (``dict[str,any]``, ``literal['a']``), or a
    tagged union's model by its tag (a value of one of its ``Literal`` fields)."""
    if getattr(atom, "__name__", None) == label:
        return True
    if _tagged(atom, label):
        return True
    origin = get_origin(atom)
    name = "literal" if origin is Literal else getattr(origin, "__name__", None)
    return isinstance(name, str) and label.startswith(f"{name}[")


def _tagged(atom: Any, tag: str) -> bool:
    """Whether model ``atom`` has a ``Literal`` field allowing ``tag`` (a discriminator's)."""
    from pydantic import BaseModel

    if not (isinstance(atom, type) and issubclass(atom, BaseModel)):
        return False
    return any(
        tag in get_args(literal)
        for info in atom.model_fields.values()
        for literal in _atoms(info.annotation)
        if get_origin(literal) is Literal
    )


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


def _field_names(atom: Any) -> list[str]:
    """The names a caller may give the fields of model ``atom`` by: each field's and alias."""
    from pydantic import BaseModel

    if not (isinstance(atom, type) and issubclass(atom, BaseModel)):
        return []
    names: list[str] = []
    for field_name, info in atom.model_fields.items():
        names.append(field_name)
        if isinstance(info.alias, str):
            names.append(info.alias)
    return names


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
