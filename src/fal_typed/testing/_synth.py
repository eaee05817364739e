"""Outputs synthesised from an endpoint's output schema, valid against it and deterministic.

For each schema node the candidates are tried in order and the first that validates against the
node wins: a same-named input value (top-level ``prompt``, ``seed``...), a file object served by
the local CDN (for objects with a ``url``), the schema's ``examples``, ``const``, ``default``, and
finally a value built from the type and its constraints. Examples holding URLs are skipped: a URL
in an output always points at a real file of the right type on this server.

The random choices (seeds, colours, file names) come from a generator seeded by the endpoint id and
the canonical JSON of the input, so the same request always gets the same output.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from ._endpoints import EndpointSchema
from ._json import as_dict, as_list
from ._media import Media, MediaSpec, kind_for_content_type, kind_for_extension, make_media
from ._schema import DANGLING, DOC_URI

__all__ = ["FileSink", "format_kind", "synthesis_seed", "synthesize_output"]

FileSink = Callable[[bytes, str, str], str]
"""Stores ``(data, content_type, file_name)`` and returns the URL it is served at."""

_REF_PREFIX: Final = DOC_URI + "#/components/schemas/"
_FILE_FIELDS: Final = frozenset(
    {
        "content_type",
        "file_name",
        "file_size",
        "width",
        "height",
        "duration",
        "fps",
        "num_frames",
        "file_data",
    }
)
_IMAGE_SIZES: Final[Mapping[str, tuple[int, int]]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
_NAME_KINDS: Final[tuple[tuple[frozenset[str], str], ...]] = (
    # words in a field or schema name -> media kind (first match wins)
    (frozenset({"video", "videos", "movie", "clip", "clips", "animation", "mp4", "webm"}), "mp4"),
    (frozenset({"audio", "audios", "speech", "voice", "music", "sound", "song", "wav", "mp3", "tts"}), "wav"),
    (frozenset({"mesh", "meshes", "glb", "gltf", "usdz", "fbx", "ply", "stl", "3d"}), "glb"),
    (frozenset({"obj"}), "obj"),
    (frozenset({"lora", "loras", "weights", "safetensors", "checkpoint", "diffusers"}), "safetensors"),
    (frozenset({"config", "json"}), "json"),
    (frozenset({"zip", "archive"}), "zip"),
    (frozenset({"text", "transcript", "subtitle", "subtitles", "caption", "captions", "srt", "vtt", "txt"}), "text"),
    (frozenset({"jpg", "jpeg"}), "jpeg"),
    (
        frozenset(
            {"image", "images", "img", "mask", "masks", "picture", "photo", "frame", "frames", "depth",
             "normal", "thumbnail", "texture", "map", "maps", "png", "webp", "sketch", "background"}
        ),
        "png",
    ),
)  # fmt: skip
_WORDS: Final = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_URL: Final = re.compile(r"^(https?:)?//|^data:", re.IGNORECASE)
_EXTENSION: Final = re.compile(r"\.([A-Za-z0-9]{2,12})(?:[?#].*)?$")
_MAX_DEPTH: Final = 24
_OPTIONAL_DEPTH: Final = 8


#: Input fields naming the format of the output files (their schema default applies when absent).
_FORMAT_FIELDS: Final = ("output_format", "image_format", "audio_format", "video_format")
#: Kinds one format field can choose between.
_FORMAT_FAMILIES: Final = (
    frozenset({"png", "jpeg", "webp"}),
    frozenset({"wav", "mp3"}),
    frozenset({"mp4"}),
)
_PARENTHESISED_EXTENSION: Final = re.compile(r"\(\.([a-z0-9]+)\)")


def format_kind(value: str) -> str | None:
    """The media kind a format value asks for: ``"jpeg"``, ``"webp"``, ``"mp3_44100_128"`` ->
    ``"mp3"``, ``"pcm_16000"`` -> ``"wav"``, ``"X264 (.mp4)"`` -> ``"mp4"``; None if unknown."""
    text = value.strip().lower()
    match = _PARENTHESISED_EXTENSION.search(text)
    token = match.group(1) if match else re.split(r"[^a-z0-9]", text, maxsplit=1)[0]
    return kind_for_extension(token) if token else None


def synthesis_seed(endpoint_id: str, arguments: Any) -> int:
    """The seed of a request's synthesised output: stable across runs and machines."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return int.from_bytes(
        hashlib.sha256(f"{endpoint_id}\n{canonical}".encode()).digest()[:8], "big"
    )


def synthesize_output(schema: EndpointSchema, arguments: Any, sink: FileSink) -> Any:
    """A value valid against ``schema``'s output schema for a request with ``arguments``."""
    inputs = as_dict(arguments)
    synth = _Synthesizer(schema, inputs, sink, synthesis_seed(schema.endpoint_id, arguments))
    return synth.value(schema.output_schema, _Hint(top=True))


@dataclass(frozen=True)
class _Hint:
    """Where a node sits: its field name, whether it is a top-level output field, nesting depth."""

    name: str = ""
    ref_name: str = ""
    top: bool = False
    top_field: bool = False
    depth: int = 0
    example: Any = None


def _contains_url(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_URL.match(value))
    if isinstance(value, dict):
        mapping: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
        return any(_contains_url(v) for v in mapping.values())
    if isinstance(value, list):
        items: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
        return any(_contains_url(v) for v in items)
    return False


def _first_example(node: dict[str, Any], hint: _Hint) -> Any:
    examples = as_list(node.get("examples"))
    return examples[0] if examples else hint.example


def _kind_of_example(value: Any) -> str | None:
    """The media kind an example names: a URL or file name extension, or a content type."""
    texts: list[Any] = [value]
    example = as_dict(value)
    if example:
        texts = [example.get("content_type"), example.get("url"), example.get("file_name")]
    for text in texts:
        if not isinstance(text, str):
            continue
        if "/" in text and not _URL.match(text) and " " not in text:
            kind = kind_for_content_type(text)
            if kind:
                return kind
        match = _EXTENSION.search(text)
        kind = kind_for_extension(match.group(1)) if match else None
        if kind:
            return kind
    return None


class _Synthesizer:
    def __init__(
        self, schema: EndpointSchema, inputs: Mapping[str, Any], sink: FileSink, seed: int
    ) -> None:
        self.schema = schema
        self.inputs = inputs
        self.sink = sink
        self.rng = random.Random(seed)
        self.files = 0

    # -- node dispatch -------------------------------------------------------------------------

    def resolve(self, node: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The node with ``$ref`` chains followed (siblings of ``$ref`` kept), and the last ref name."""
        name = ""
        for _ in range(16):
            ref = node.get("$ref")
            if not (isinstance(ref, str) and ref.startswith(_REF_PREFIX)):
                break
            name = ref[len(_REF_PREFIX) :]
            target = as_dict(self.schema.components.get(name))
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node, name

    def value(self, node: Any, hint: _Hint) -> Any:
        if not isinstance(node, dict):
            return None
        raw: dict[str, Any] = node  # pyright: ignore[reportUnknownVariableType]
        if hint.depth > _MAX_DEPTH:
            return None
        resolved, ref_name = self.resolve(raw)
        if ref_name:
            hint = replace(hint, ref_name=ref_name)
        validator = self.schema.validator
        last: Any = None
        for candidate in self._candidates(resolved, hint):
            last = candidate
            if validator.is_valid(raw, candidate):
                return candidate
        return last

    def _candidates(self, node: dict[str, Any], hint: _Hint) -> Iterator[Any]:
        if hint.top_field and hint.name in self.inputs:
            yield copy.deepcopy(self.inputs[hint.name])
        dangling = node.get(DANGLING)
        if isinstance(dangling, str):
            if self._is_file_name(dangling):
                yield self.file_object({}, replace(hint, ref_name=dangling))
            yield {}
            return
        if self._is_file_schema(node):
            yield self.file_object(node, hint)
        for example in as_list(node.get("examples")):
            if not _contains_url(example):
                yield copy.deepcopy(example)
        if "example" in node and not _contains_url(node["example"]):
            yield copy.deepcopy(node["example"])
        if "const" in node:
            yield copy.deepcopy(node["const"])
        if "default" in node and not _contains_url(node["default"]):
            yield copy.deepcopy(node["default"])
        yield self.structural(node, hint)

    # -- structure -----------------------------------------------------------------------------

    def structural(self, node: dict[str, Any], hint: _Hint) -> Any:
        child = replace(hint, depth=hint.depth + 1, top=False, top_field=False)
        for keyword in ("anyOf", "oneOf"):
            branches = as_list(node.get(keyword))
            if branches:
                return self._union(
                    node, branches, replace(child, name=hint.name, top_field=hint.top_field)
                )
        parts = as_list(node.get("allOf"))
        if parts:
            return self._all_of(parts, replace(child, name=hint.name))
        enum = as_list(node.get("enum"))
        if enum:
            return next((v for v in enum if v is not None), enum[0])
        kind = self._type_of(node)
        if kind == "object":
            return self._object(node, hint)
        if kind == "array":
            return self._array(node, hint)
        if kind == "string":
            return self._string(node, hint)
        if kind in ("integer", "number"):
            return self._number(node, hint, integer=kind == "integer")
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        return {} if hint.top else None

    @staticmethod
    def _type_of(node: dict[str, Any]) -> str | None:
        declared = node.get("type")
        if isinstance(declared, str):
            return declared
        names = [t for t in as_list(declared) if isinstance(t, str)]
        non_null = [t for t in names if t != "null"]
        if non_null or names:
            return (non_null or names)[0]
        if "properties" in node or "additionalProperties" in node:
            return "object"
        if "items" in node or "prefixItems" in node:
            return "array"
        return None

    def _union(self, node: dict[str, Any], branches: list[Any], hint: _Hint) -> Any:
        def is_null(branch: Any) -> bool:
            return as_dict(branch).get("type") == "null"

        ordered = [b for b in branches if not is_null(b)] + [b for b in branches if is_null(b)]
        validator = self.schema.validator
        first: Any = None
        for index, branch in enumerate(ordered):
            candidate = self.value(branch, hint)
            if index == 0:
                first = candidate
            if validator.is_valid(node, candidate):
                return candidate
        return first

    def _all_of(self, parts: list[Any], hint: _Hint) -> Any:
        merged: dict[str, Any] = {}
        other: Any = None
        for part in parts:
            value = self.value(part, hint)
            if isinstance(value, dict):
                merged.update(as_dict(value))  # pyright: ignore[reportUnknownArgumentType]
            else:
                other = value
        return merged if merged or other is None else other

    def _object(self, node: dict[str, Any], hint: _Hint) -> dict[str, Any]:
        properties = as_dict(node.get("properties"))
        required = {r for r in as_list(node.get("required")) if isinstance(r, str)}
        order = [n for n in as_list(node.get("x-fal-order-properties")) if n in properties]
        order += [n for n in properties if n not in order]
        validator = self.schema.validator
        example = as_dict(_first_example(node, hint))
        result: dict[str, Any] = {}
        for name in order:
            if hint.depth >= _OPTIONAL_DEPTH and name not in required:
                continue
            sub = properties[name]
            child = _Hint(
                name=name, top_field=hint.top, depth=hint.depth + 1, example=example.get(name)
            )
            value = self.value(sub, child)
            if name in required or validator.is_valid(sub, value):
                result[name] = value
        return result

    def _array(self, node: dict[str, Any], hint: _Hint) -> list[Any]:
        low = node.get("minItems", 0)
        high = node.get("maxItems")
        count = 1
        wanted = self.inputs.get("num_images")
        if (
            hint.top_field
            and hint.name in ("images", "has_nsfw_concepts")
            and isinstance(wanted, int)
            and wanted > 0
        ):
            count = min(wanted, 16)
        if isinstance(low, int):
            count = max(count, low)
        if isinstance(high, int):
            count = min(count, high)
        if hint.depth >= _OPTIONAL_DEPTH:
            count = low if isinstance(low, int) else 0
        prefix = as_list(node.get("prefixItems"))
        items = node.get("items")
        examples = as_list(_first_example(node, hint))
        values = [
            self.value(
                prefix[i] if i < len(prefix) else items,
                _Hint(
                    name=hint.name,
                    depth=hint.depth + 1,
                    example=examples[i] if i < len(examples) else None,
                ),
            )
            for i in range(count)
        ]
        if node.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in values}) < len(
            values
        ):
            values = values[:1]
        return values

    # -- scalars -------------------------------------------------------------------------------

    def _string(self, node: dict[str, Any], hint: _Hint) -> str:
        fmt = node.get("format")
        name = hint.name.lower()
        if fmt in ("uri", "url") or name == "url" or name.endswith(("_url", "_uri")):
            return self._url_string(node, hint)
        if fmt in ("uuid", "uuid4") or name in ("id", "uuid") or name.endswith("_id"):
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        if fmt == "date-time":
            return "2026-01-01T00:00:00Z"
        if fmt == "date":
            return "2026-01-01"
        if fmt == "time":
            return "00:00:00"
        if fmt == "email":
            return "user@example.com"
        if fmt == "binary":
            return ""
        text = f"Synthetic {hint.name.replace('_', ' ') or 'text'} from the fal_typed local server."
        low = node.get("minLength")
        high = node.get("maxLength")
        if isinstance(low, int) and len(text) < low:
            text = text + "x" * (low - len(text))
        if isinstance(high, int) and len(text) > high:
            text = text[:high]
        return text

    def _number(self, node: dict[str, Any], hint: _Hint, *, integer: bool) -> int | float:
        def bound(key: str) -> float | None:
            value = node.get(key)
            return (
                float(value)
                if isinstance(value, (int, float)) and not isinstance(value, bool)
                else None
            )

        low, high = bound("minimum"), bound("maximum")
        xlow, xhigh = bound("exclusiveMinimum"), bound("exclusiveMaximum")
        step = bound("multipleOf")
        if integer:
            if "seed" in hint.name.lower():
                value: float = float(self.rng.randrange(0, 2**31))
            else:
                value = 1.0
            if low is not None:
                value = max(value, math.ceil(low))
            if xlow is not None:
                value = max(value, math.floor(xlow) + 1)
            if high is not None and value > high:
                value = math.floor(high)
            if xhigh is not None and value >= xhigh:
                value = math.ceil(xhigh) - 1
            if step:
                value = math.ceil(value / step) * step
            return int(value)
        lower = low if low is not None else xlow
        upper = high if high is not None else xhigh
        if lower is not None and upper is not None:
            result = (lower + upper) / 2
        elif lower is not None:
            result = lower + 1.0
        elif upper is not None:
            result = upper - 1.0 if upper <= 1 else min(1.0, upper / 2)
        else:
            result = 1.0
        if step:
            result = math.ceil(result / step) * step
        return result

    # -- files ---------------------------------------------------------------------------------

    @staticmethod
    def _is_file_name(name: str) -> bool:
        return bool(re.search(r"(file|image|video|audio|mesh|frame)$", name, re.IGNORECASE))

    @staticmethod
    def _is_file_schema(node: dict[str, Any]) -> bool:
        properties = as_dict(node.get("properties"))
        url = properties.get("url")
        return isinstance(url, dict) and (
            node.get("type") in (None, "object")
            and (bool(_FILE_FIELDS & set(properties)) or len(properties) == 1)
        )

    def _kind(self, node: dict[str, Any], hint: _Hint) -> str:
        """Guess the media kind: declared constraints, this field's examples, the shape of the
        object, field and schema names, then the (often generic) examples of the file schema."""
        properties = as_dict(node.get("properties"))
        content_type = as_dict(properties.get("content_type"))
        for value in [content_type.get("const"), *as_list(content_type.get("enum"))]:
            kind = kind_for_content_type(value) if isinstance(value, str) else None
            if kind:
                return kind
        for value in [hint.example, *as_list(node.get("examples"))]:
            kind = _kind_of_example(value)
            if kind:
                return kind
        if {"fps", "num_frames"} & set(properties):
            return "mp4"
        if {"sample_rate", "channels", "bitrate"} & set(properties):
            return "wav"
        for text in (hint.ref_name, hint.name, str(node.get("title", ""))):
            words = {w.lower() for w in _WORDS.findall(text)}
            for vocabulary, kind in _NAME_KINDS:
                if words & vocabulary:
                    return kind
        generic: list[Any] = []
        for field in ("url", "file_name"):
            generic += as_list(as_dict(properties.get(field)).get("examples"))
        generic += [content_type.get("default"), *as_list(content_type.get("examples"))]
        for value in generic:
            kind = _kind_of_example(value)
            if kind:
                return kind
        return "png" if {"width", "height"} & set(properties) else "bin"

    def _size(self, node: dict[str, Any], kind: str) -> tuple[int, int]:
        if kind == "mp4":
            width, height = 640, 360
        else:
            width, height = 1024, 768
            requested = self.inputs.get("image_size")
            if isinstance(requested, str) and requested in _IMAGE_SIZES:
                return _IMAGE_SIZES[requested]
            size = as_dict(requested)
            if size:
                w, h = size.get("width"), size.get("height")
                if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0:
                    return w, h
        properties = as_dict(node.get("properties"))
        examples = [
            as_list(as_dict(properties.get(k)).get("examples")) for k in ("width", "height")
        ]
        widths, heights = examples
        if widths and heights and isinstance(widths[0], int) and isinstance(heights[0], int):  # noqa: SIM102
            if widths[0] > 0 and heights[0] > 0:
                return widths[0], heights[0]
        return width, height

    def _media(self, kind: str, node: dict[str, Any]) -> tuple[Media, str, str]:
        """Write a file and store it: (media, file name, URL)."""
        width, height = self._size(node, kind)
        media = make_media(MediaSpec(kind, width, height, self.rng.randrange(1 << 16)))
        token = "".join(
            self.rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
            for _ in range(12)
        )
        file_name = f"{token}.{media.extension}"
        self.files += 1
        return media, file_name, self.sink(media.data, media.content_type, file_name)

    def _url_string(self, node: dict[str, Any], hint: _Hint) -> str:
        example = next(
            (e for e in as_list(node.get("examples")) if isinstance(e, str)), hint.example
        )
        _, _, url = self._media(self._kind({}, replace(hint, example=example)), {})
        return url

    def _requested_kind(self, kind: str) -> str:
        """``kind``, or the format the request asks for in its family (``output_format="webp"``
        turns an image into a WebP), the input schema's default applying when none was sent."""
        family = next((f for f in _FORMAT_FAMILIES if kind in f), None)
        if family is None:
            return kind
        properties = as_dict(self.schema.input_schema.get("properties"))
        for field in _FORMAT_FIELDS:
            requested = self.inputs.get(field, as_dict(properties.get(field)).get("default"))
            wanted = format_kind(requested) if isinstance(requested, str) else None
            if wanted in family:
                return wanted
        return kind

    def file_object(self, node: dict[str, Any], hint: _Hint) -> dict[str, Any]:
        """A file object whose ``url`` serves real bytes and whose facts describe those bytes."""
        kind = self._requested_kind(self._kind(node, hint))
        media, file_name, url = self._media(kind, node)
        properties = as_dict(node.get("properties")) or {
            "url": {},
            "content_type": {},
            "file_name": {},
            "file_size": {},
        }
        required = set(as_list(node.get("required")))
        facts: dict[str, Any] = {
            "url": url,
            "content_type": media.content_type,
            "file_name": file_name,
            "file_size": len(media.data),
            "width": media.width,
            "height": media.height,
            "duration": media.duration,
            "fps": media.fps,
            "num_frames": media.num_frames,
            "sample_rate": media.sample_rate,
            "channels": media.channels,
            "bitrate": media.bitrate,
        }
        validator = self.schema.validator
        result: dict[str, Any] = {}
        for name, sub in properties.items():
            if name == "file_data" and name not in required:
                continue
            fact = facts.get(name)
            if fact is not None:
                value: Any = fact
                if (
                    isinstance(fact, float)
                    and validator.is_valid(sub, round(fact))
                    and not validator.is_valid(sub, fact)
                ):
                    value = round(fact)
                if validator.is_valid(sub, value) or name in required:
                    result[name] = value
                    continue
            value = self.value(sub, _Hint(name=name, depth=hint.depth + 1))
            if name in required or validator.is_valid(sub, value):
                result[name] = value
        return result
