"""What a file field accepts, and how to tell an upload source from a URL.

``FileInput`` is both the type the signatures show and the type of every file field of the
generated input models (top-level and nested), so ``FluxGeneralInput(controlnets=[ControlNet(
control_image_url=Path("edge.png"), ...)])`` validates like the keyword form does. The models
keep the local source as given; the calls swap it for its uploaded URL before sending.
"""

from __future__ import annotations

import os
import types
from typing import IO, TYPE_CHECKING, Annotated, Any, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:  # pydantic loads with the first model that holds a file field, not before
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import core_schema

__all__ = ["PLAIN", "FileInput", "SupportsImageSave", "is_upload_source"]


@runtime_checkable
class SupportsImageSave(Protocol):
    """A PIL ``Image`` (or anything saving itself like one); typed without importing Pillow."""

    def save(self, fp: Any, format: str | None = None, **params: Any) -> None: ...


#: JSON scalars: never upload sources, and what most argument values are (checked first, as the
#: protocol check below is slow and every value of every call goes through this function).
PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def is_upload_source(value: object) -> bool:
    """True for values that must be uploaded (paths, bytes, binary files, PIL images), not strings."""
    if type(value) in PLAIN or isinstance(value, str):
        return False
    if isinstance(value, (os.PathLike, bytes, bytearray, memoryview)):
        return True
    if isinstance(value, (type, types.ModuleType)):
        return False  # io.BytesIO or the os module have a read() too, but are no file
    if hasattr(value, "read") and callable(getattr(value, "read", None)):
        return True
    return type(value).__module__.startswith("PIL.") and isinstance(value, SupportsImageSave)


def _validate(value: object) -> object:
    if isinstance(value, str) or is_upload_source(value):
        return value
    from pydantic_core import PydanticCustomError

    raise PydanticCustomError(
        "file_input",
        "expected a URL string or a local file "
        "(pathlib.Path, bytes, binary file object, PIL image), got {type}",
        {"type": type(value).__name__},
    )


def _serialize(value: object, info: core_schema.SerializationInfo) -> object:
    if isinstance(value, str) or info.mode == "python":
        return value
    from pydantic_core import PydanticCustomError

    # JSON would need a URL: a local source only has one once a call has uploaded it.
    raise PydanticCustomError(
        "file_input_not_uploaded",
        "a local file ({type}) has no URL until it is uploaded: pass the model to a call, "
        "which uploads it, or upload it with fal_typed.upload() first",
        {"type": type(value).__name__},
    )


class _FileInputSchema:
    """Pydantic schema of ``FileInput``: a URL string as is, or an upload source kept as given."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            _validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                _serialize, info_arg=True
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "uri"}  # what reaches the server


FileInput: TypeAlias = Annotated[
    str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | SupportsImageSave,
    _FileInputSchema(),
]
"""A URL string (http(s) or ``data:``) sent as is, or a local source uploaded before the request."""
