"""Automatic upload of file inputs: local sources in call arguments become URLs.

Two steps, so bad input is rejected before anything is uploaded:

1. :func:`extract_uploads` swaps every upload source (``Path``, ``bytes``, binary file object,
   PIL image) anywhere in the arguments for a unique placeholder URL, checking each source
   cheaply (the file exists, the file object is binary...). The arguments then validate like
   any URL string would.
2. :func:`resolve_uploads` (or its async twin) uploads the sources still referenced by the
   validated body, concurrently, and puts their URLs where the placeholders were. Sources
   smaller than ``UploadSettings.data_uri_threshold`` are inlined as ``data:`` URIs instead.

Plain strings (http(s) URLs, ``data:`` URIs) are never touched; a string in a file field that
looks like a path is a :class:`~fal_typed.FileInputError` naming the field, unless the process
lets strings name local files (``UploadSettings.local_file_strings``, see ``_strings``): then one
naming a local file is one (``"in.png"``).

Between the two steps the sources travel with the body: :func:`attach_uploads` returns the
validated body as a :class:`BodyWithUploads` (a ``dict``), and :func:`extract_uploads` of such a
body hands its attached sources back, so any layer can take it as it comes.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from typing_extensions import override

from .._pydantic import base_model
from ._input import PLAIN, FileInput, is_upload_source
from ._strings import is_file_field, strings_as_files

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .._client import Client
    from .._deadline import Deadline
    from ._settings import UploadSettings

__all__ = [
    "PLACEHOLDER_PREFIX",
    "BodyWithUploads",
    "attach_uploads",
    "extract_uploads",
    "inline_uploads",
    "resolve_uploads",
    "resolve_uploads_async",
    "set_fields",
]

PLACEHOLDER_PREFIX = "https://fal-typed-upload.invalid/"
"""Placeholders are URLs on a reserved TLD (RFC 2606): valid URLs that can never resolve."""


class BodyWithUploads(dict[str, Any]):
    """A request body whose placeholder URLs still wait for their uploads (``uploads``)."""

    uploads: dict[str, FileInput]

    def __init__(self, body: Mapping[str, Any], uploads: Mapping[str, FileInput]) -> None:
        super().__init__(body)
        self.uploads = dict(uploads)

    @override
    def __repr__(self) -> str:
        return f"BodyWithUploads({super().__repr__()}, {len(self.uploads)} pending uploads)"


def attach_uploads(body: Mapping[str, Any], uploads: Mapping[str, FileInput]) -> dict[str, Any]:
    """``body`` carrying ``uploads`` (a :class:`BodyWithUploads`), or a plain copy if there are none."""
    return BodyWithUploads(body, uploads) if uploads else dict(body)


def _join(path: str, key: object) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else str(key))


def extract_uploads(arguments: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, FileInput]]:
    """Replace each upload source in ``arguments`` (nested dicts/lists too) by a placeholder URL.

    Returns the new arguments and ``{placeholder: source}``, including the sources a
    :class:`BodyWithUploads` carries. The same object (or the same path) given twice gets one
    placeholder, so it is uploaded once. Raises :class:`~fal_typed.FileInputError` naming the
    field for a source that cannot be uploaded.
    """
    if (
        not (isinstance(arguments, BodyWithUploads) and arguments.uploads)
        and PLAIN.issuperset(map(type, arguments.values()))
        and not any(map(_file_field, arguments))
    ):
        return dict(arguments), {}  # only JSON scalars outside file fields: nothing to walk
    model_class = base_model()  # loaded already by any caller holding a model

    uploads: dict[str, FileInput] = (
        dict(arguments.uploads) if isinstance(arguments, BodyWithUploads) else {}
    )
    seen: dict[object, str] = {}

    def placeholder(value: Any, path: str) -> str:
        from ._source import check_source  # only calls with local files pay for the upload code

        check_source(value, field=path)
        key: object = (
            ("path", os.path.abspath(os.fspath(cast("os.PathLike[str]", value))))
            if isinstance(value, os.PathLike)
            else ("id", id(value))
        )
        if key not in seen:
            seen[key] = f"{PLACEHOLDER_PREFIX}{uuid.uuid4().hex}/{_slug(path)}"
            uploads[seen[key]] = cast(FileInput, value)
        return seen[key]

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, model_class):
            value = set_fields(value)
        if isinstance(value, Mapping):
            items = cast("Mapping[object, Any]", value).items()
            return {k: v if _plain(k, v) else item(k, v, _join(path, k)) for k, v in items}
        if isinstance(value, (list, tuple)):
            walked = [walk(v, _join(path, i)) for i, v in enumerate(cast("list[Any]", value))]
            return tuple(walked) if isinstance(value, tuple) else walked
        if is_upload_source(value):
            return placeholder(value, path)
        return value

    def item(key: object, value: Any, path: str) -> Any:
        # A string in a file field is judged by files/_strings.py: a path, refused or a local file.
        return walk(strings_as_files(key, value, path), path)

    return {k: v if _plain(k, v) else item(k, v, k) for k, v in arguments.items()}, uploads


#: :func:`is_file_field` of the keys of every call's arguments (the few names an application
#: uses), answered in C once known.
_file_field = functools.lru_cache(maxsize=4096)(is_file_field)


def _plain(key: object, value: object) -> bool:
    """A JSON scalar outside a file field: nothing to upload, kept as it is (most values are)."""
    return type(value) in PLAIN and not is_file_field(key)


def set_fields(model: BaseModel) -> dict[str, Any]:
    """The fields set on ``model`` by wire name, values as they are (nested models included).

    Not ``model_dump``: its serializer turns a file object (an iterator) into a
    ``SerializationIterator``, and a local file must reach the upload untouched.
    """
    given = model.model_fields_set
    values = {
        field.serialization_alias or field.alias or name: getattr(model, name)
        for name, field in type(model).model_fields.items()
        if name in given
    }
    return {**values, **(model.model_extra or {})}


def _slug(path: str) -> str:
    # The field path, made URL-safe: only there to make a leaked placeholder recognisable.
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in path)[:64] or "file"


def locate_placeholders(body: Any, uploads: Mapping[str, FileInput]) -> dict[str, str]:
    """``{placeholder: field path}`` of the placeholders still present in ``body``."""
    found: dict[str, str] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, str):
            if value in uploads and value not in found:
                found[value] = path
        elif isinstance(value, Mapping):
            for k, v in cast("Mapping[object, Any]", value).items():
                walk(v, _join(path, k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(cast("list[Any]", value)):
                walk(v, _join(path, i))

    walk(body, "")
    return found


def substitute_urls(value: Any, urls: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return urls.get(value, value)
    if isinstance(value, Mapping):
        return {k: substitute_urls(v, urls) for k, v in cast("Mapping[object, Any]", value).items()}
    if isinstance(value, (list, tuple)):
        items = [substitute_urls(v, urls) for v in cast("list[Any]", value)]
        return tuple(items) if isinstance(value, tuple) else items
    return value


def inline_uploads(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with its pending local files (see :func:`attach_uploads`) inlined as ``data:``
    URIs, without any network I/O: realtime frames carry their inputs, they do not upload."""
    from ._data_uri import encode_source
    from ._source import open_source

    body, uploads = extract_uploads(body)
    urls: dict[str, str] = {}
    for placeholder, field in locate_placeholders(body, uploads).items():
        with open_source(uploads[placeholder], field=field) as source:
            urls[placeholder] = encode_source(source)
    return cast("dict[str, Any]", substitute_urls(body, urls)) if urls else body


def resolve_uploads(
    body: Mapping[str, Any],
    uploads: Mapping[str, FileInput],
    client: Client | None = None,
    *,
    settings: UploadSettings | None = None,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """Upload the sources whose placeholders are in ``body`` (in parallel) and return the body
    with their URLs in place (see ``_resolve``, imported only by calls that upload)."""
    if not uploads:
        return dict(body)
    from ._resolve import resolve_uploads as resolve

    return resolve(body, uploads, client, settings=settings, deadline=deadline)


async def resolve_uploads_async(
    body: Mapping[str, Any],
    uploads: Mapping[str, FileInput],
    client: Client | None = None,
    *,
    settings: UploadSettings | None = None,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """Async twin of :func:`resolve_uploads`."""
    if not uploads:
        return dict(body)
    from ._resolve import resolve_uploads_async as resolve

    return await resolve(body, uploads, client, settings=settings, deadline=deadline)
