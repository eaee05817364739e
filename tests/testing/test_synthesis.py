"""Synthesised outputs: valid for every endpoint of the corpus, deterministic, backed by real files.

The corpus check runs in-process (no HTTP), so all 1,048 documents take a few seconds.
"""

from __future__ import annotations

import io
import json
import struct
import wave
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from fal_typed.testing._endpoints import EndpointCatalog, EndpointSchema, default_schemas_dir
from fal_typed.testing._media import MediaSpec, make_media
from fal_typed.testing._schema import SchemaValidator, normalise_components
from fal_typed.testing._synth import synthesize_output

ARGUMENT_SETS: list[dict[str, Any]] = [
    {},
    {
        "prompt": "a lighthouse at dusk",
        "num_images": 3,
        "image_size": "portrait_16_9",
        "output_format": "jpeg",
        "seed": 11,
    },
]


class Sink:
    """Collects stored files by URL, as the server's file store would."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}

    def __call__(self, data: bytes, content_type: str, file_name: str) -> str:
        url = f"http://127.0.0.1:9/cdn/files/b/{len(self.files):06d}/{file_name}"
        self.files[url] = (data, content_type)
        return url


@pytest.fixture(scope="module")
def catalog() -> EndpointCatalog:
    directory = default_schemas_dir()
    assert directory is not None, "the checkout's schemas/ folder is missing"
    return EndpointCatalog(directory)


def file_objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict with a string ``url`` inside an output."""
    if isinstance(value, dict):
        if isinstance(value.get("url"), str):
            yield value
        for item in value.values():
            yield from file_objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from file_objects(item)


def test_every_endpoint_gets_outputs_that_validate_against_its_output_schema(
    catalog: EndpointCatalog,
) -> None:
    assert len(catalog) == 1048
    failures: list[str] = []
    for endpoint_id in sorted(catalog.endpoint_ids):
        schema = catalog.get(endpoint_id)
        assert schema is not None
        for arguments in ARGUMENT_SETS:
            sink = Sink()
            output = synthesize_output(schema, arguments, sink)
            # A fresh jsonschema validator per output: not the synthesiser's cached one.
            validator = Draft202012Validator(
                schema.output_schema, registry=schema.validator.registry
            )
            errors = [
                f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(output)
            ]
            if errors:
                failures.append(f"{endpoint_id} {json.dumps(arguments)}: {errors[:3]}")
            for file in file_objects(output):
                if file["url"].startswith("http://127.0.0.1:9/"):
                    data, content_type = sink.files[file["url"]]
                    if "file_size" in file:
                        assert file["file_size"] == len(data), endpoint_id
                    if "content_type" in file:
                        assert file["content_type"] == content_type, endpoint_id
    assert failures == []


def test_outputs_are_deterministic_per_request(catalog: EndpointCatalog) -> None:
    schema = catalog.get("fal-ai/flux/dev")
    assert schema is not None
    first = synthesize_output(schema, {"prompt": "a"}, Sink())
    assert synthesize_output(schema, {"prompt": "a"}, Sink()) == first
    other = synthesize_output(schema, {"prompt": "b"}, Sink())
    assert other != first
    assert other["prompt"] == "b"


def test_inputs_shape_the_output(catalog: EndpointCatalog) -> None:
    schema = catalog.get("fal-ai/flux/dev")
    assert schema is not None
    sink = Sink()
    output = synthesize_output(schema, ARGUMENT_SETS[1], sink)
    assert output["seed"] == 11
    assert output["prompt"] == "a lighthouse at dusk"
    assert len(output["images"]) == len(output["has_nsfw_concepts"]) == 3
    for image in output["images"]:
        assert (image["width"], image["height"]) == (576, 1024)
        data, content_type = sink.files[image["url"]]
        assert content_type == image["content_type"] == "image/jpeg"
        decoded = Image.open(io.BytesIO(data))
        decoded.load()
        assert decoded.format == "JPEG"
        assert decoded.size == (576, 1024)


def test_output_kinds_follow_the_schema(catalog: EndpointCatalog) -> None:
    expectations = {
        "fal-ai/veo3/fast": ("video", "video/mp4"),
        "fal-ai/flux-lora-fast-training": ("diffusers_lora_file", "application/octet-stream"),
    }
    for endpoint_id, (field, content_type) in expectations.items():
        schema = catalog.get(endpoint_id)
        assert schema is not None
        output = synthesize_output(schema, {}, Sink())
        assert output[field]["content_type"] == content_type, endpoint_id


def mp4_boxes(
    data: bytes, start: int = 0, end: int | None = None
) -> Iterator[tuple[str, int, int]]:
    """(type, payload start, payload end) of the boxes between ``start`` and ``end``."""
    end = len(data) if end is None else end
    offset = start
    while offset < end:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        assert size >= 8, "box size"
        yield kind.decode("latin-1"), offset + 8, offset + size
        offset += size
    assert offset == end, "boxes must tile their parent exactly"


def child(data: bytes, parent: tuple[int, int], kind: str, skip: int = 0) -> tuple[int, int]:
    for name, begin, finish in mp4_boxes(data, parent[0] + skip, parent[1]):
        if name == kind:
            return begin, finish
    raise AssertionError(f"no {kind} box")


def test_video_is_an_mp4_whose_samples_decode_as_jpeg_frames() -> None:
    media = make_media(MediaSpec("mp4", 320, 240, 5))
    data = media.data
    top = [name for name, _, _ in mp4_boxes(data)]
    assert top == ["ftyp", "mdat", "moov"]
    assert data[8:12] == b"isom"
    moov = child(data, (0, len(data)), "moov")
    stbl = child(data, child(data, child(data, child(data, moov, "trak"), "mdia"), "minf"), "stbl")
    stsd = child(data, stbl, "stsd")
    assert data[stsd[0] + 12 : stsd[0] + 16] == b"mp4v"
    width, height = struct.unpack(">HH", data[stsd[0] + 8 + 8 + 24 : stsd[0] + 8 + 8 + 28])
    assert (width, height) == (320, 240)
    stsz = child(data, stbl, "stsz")
    sample_size, count = struct.unpack(">II", data[stsz[0] + 4 : stsz[0] + 12])
    stco = child(data, stbl, "stco")
    entries = struct.unpack(">I", data[stco[0] + 4 : stco[0] + 8])[0]
    assert entries == count == media.num_frames == 24
    offset = struct.unpack(">I", data[stco[0] + 8 : stco[0] + 12])[0]
    frame = Image.open(io.BytesIO(data[offset : offset + sample_size]))
    frame.load()
    assert (frame.format, frame.size) == ("JPEG", (320, 240))
    mvhd = child(data, moov, "mvhd")
    timescale, duration = struct.unpack(">II", data[mvhd[0] + 12 : mvhd[0] + 20])
    assert duration / timescale == media.duration == 1.0


@pytest.mark.parametrize(("kind", "fmt"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
@pytest.mark.parametrize("size", [(1, 1), (9, 17), (1024, 768)])
def test_images_decode_to_their_declared_size_and_colour(
    kind: str, fmt: str, size: tuple[int, int]
) -> None:
    media = make_media(MediaSpec(kind, *size, seed=3))
    image = Image.open(io.BytesIO(media.data))
    image.load()
    assert (image.format, image.size) == (fmt, size)
    assert (media.width, media.height) == size
    pixel = image.convert("RGB").getpixel((size[0] // 2, size[1] // 2))
    assert isinstance(pixel, tuple)
    assert max(abs(a - b) for a, b in zip(pixel, (241, 196, 15), strict=True)) <= 3


def test_images_are_clamped_and_report_the_real_size() -> None:
    media = make_media(MediaSpec("png", 10_000, 20, 0))
    assert (media.width, media.height) == (2048, 20)
    assert Image.open(io.BytesIO(media.data)).size == (2048, 20)


def test_audio_3d_and_archive_files_are_valid() -> None:
    audio = make_media(MediaSpec("wav", seed=2))
    with wave.open(io.BytesIO(audio.data)) as reader:
        assert reader.getframerate() == audio.sample_rate
        assert reader.getnframes() / reader.getframerate() == audio.duration
    glb = make_media(MediaSpec("glb")).data
    magic, version, length = struct.unpack("<4sII", glb[:12])
    assert (magic, version, length) == (b"glTF", 2, len(glb))
    chunk_length, chunk_type = struct.unpack("<I4s", glb[12:20])
    assert chunk_type == b"JSON"
    assert json.loads(glb[20 : 20 + chunk_length])["asset"]["version"] == "2.0"
    weights = make_media(MediaSpec("safetensors")).data
    header_length = struct.unpack("<Q", weights[:8])[0]
    assert json.loads(weights[8 : 8 + header_length])["__metadata__"]["format"] == "pt"
    with zipfile.ZipFile(io.BytesIO(make_media(MediaSpec("zip")).data)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["README.txt"]


def test_dangling_references_accept_anything_and_still_produce_files(
    catalog: EndpointCatalog,
) -> None:
    schema = catalog.get("fal-ai/patina/material")
    assert schema is not None
    sink = Sink()
    output = synthesize_output(schema, {}, sink)
    assert output["images"]
    assert all(image["url"] in sink.files for image in output["images"])
    router = catalog.get("openrouter/router/openai/v1/chat/completions")
    assert router is not None  # its input component is missing entirely: any body is valid
    assert (
        router.input_errors({"model": "x", "messages": [{"role": "user", "content": "hi"}]}) == []
    )


def document_schema(components: dict[str, Any], name: str) -> EndpointSchema:
    normalised = normalise_components(components)
    return EndpointSchema("test/app", normalised, normalised[name], {})


def test_nullable_numeric_and_boolean_exclusive_bounds() -> None:
    schema = document_schema(
        {
            "In": {
                "type": "object",
                "properties": {
                    "a": {"type": "number", "exclusiveMinimum": 0},  # 2020-12 form (the corpus)
                    "b": {
                        "type": "integer",
                        "minimum": 1,
                        "exclusiveMinimum": True,
                    },  # OpenAPI 3.0 form
                    "c": {"type": "string", "nullable": True},
                    "d": {"$ref": "#/components/schemas/Missing"},
                    "e": {"$ref": "#/components/schemas/Mode", "nullable": True},
                },
            },
            "Mode": {"type": "string", "enum": ["fast", "slow"]},
        },
        "In",
    )
    assert (
        schema.input_errors({"a": 0.5, "b": 2, "c": None, "d": {"any": "thing"}, "e": None}) == []
    )
    errors = {
        tuple(e["loc"]): e for e in schema.input_errors({"a": 0, "b": 1, "c": 3, "e": "medium"})
    }
    assert errors[("body", "a")]["type"] == "greater_than"
    assert errors[("body", "a")]["ctx"] == {"gt": 0}
    assert errors[("body", "b")]["type"] == "greater_than"
    assert errors[("body", "c")]["type"] == "string_type"
    assert errors[("body", "e")]["type"] == "enum"


def test_error_details_are_sorted_and_name_nested_paths() -> None:
    schema = document_schema(
        {
            "In": {
                "type": "object",
                "required": ["prompt", "loras"],
                "additionalProperties": False,
                "properties": {
                    "prompt": {"type": "string", "minLength": 3},
                    "loras": {
                        "type": "array",
                        "maxItems": 2,
                        "items": {"$ref": "#/components/schemas/Lora"},
                    },
                },
            },
            "Lora": {
                "type": "object",
                "required": ["path"],
                "properties": {
                    "path": {"type": "string"},
                    "scale": {"type": "number", "maximum": 4},
                },
            },
        },
        "In",
    )
    details = schema.input_errors({"prompt": "ab", "loras": [{"scale": 5}], "extra": 1})
    assert [(e["loc"], e["type"]) for e in details] == [
        (["body", "extra"], "extra_forbidden"),
        (["body", "loras", 0, "path"], "missing"),
        (["body", "loras", 0, "scale"], "less_than_equal"),
        (["body", "prompt"], "string_too_short"),
    ]
    assert schema.input_errors("not an object")[0]["type"] == "dict_type"


def test_validator_cache_is_keyed_by_the_schema_object() -> None:
    validator = SchemaValidator({})
    first, second = {"type": "string"}, {"type": "integer"}
    assert validator.is_valid(first, "x")
    assert not validator.is_valid(second, "x")
    assert validator.validator(first) is validator.validator(first)
