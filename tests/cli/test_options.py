"""Options built from input schemas: every corpus endpoint, and how values parse (no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest

from fal_typed.catalog._corpus import iter_document_paths, read_info
from fal_typed.cli._call import build_command
from fal_typed.cli._options import LocalFile, SchemaError, build_field_options, input_schema
from fal_typed.cli._spec import EndpointSpec, load_spec

from .helpers import SCHEMAS


def test_every_corpus_endpoint_gets_a_command_with_unique_options() -> None:
    unusable: list[str] = []
    for path in iter_document_paths(SCHEMAS):
        document = json.loads(path.read_bytes())
        endpoint_id = read_info(path).endpoint_id
        try:
            schema = input_schema(document, endpoint_id)
        except SchemaError:
            unusable.append(endpoint_id)
            continue
        fields = build_field_options(document, schema, reserved={"--save", "--help"})
        flags = [f.flag for f in fields]
        assert len(flags) == len(set(flags)), endpoint_id
        assert [f.field for f in fields][: sum(f.required for f in fields)] == [
            f.field for f in fields if f.required
        ], endpoint_id
        command = build_command(EndpointSpec(endpoint_id, document, schema, "about"))
        with click.Context(command, info_name=endpoint_id) as ctx:
            assert "Input fields" in command.get_help(ctx) or not fields
    # The input schemas of these four documents are dangling $refs upstream (schemas/README.md).
    assert sorted(unusable) == [
        "openrouter/router/openai/v1/chat/completions",
        "openrouter/router/openai/v1/embeddings",
        "openrouter/router/openai/v1/responses",
        "perceptron/isaac-01/openai/v1/chat/completions",
    ]


def parse(endpoint_id: str, *args: str) -> dict[str, Any]:
    """The field values ``args`` give for ``endpoint_id``, by field name."""
    spec = load_spec(endpoint_id, SCHEMAS)
    command = build_command(spec)
    assert spec.schema is not None
    fields = {f.option.name: f.field for f in build_field_options(spec.root, spec.schema)}
    ctx = command.make_context(endpoint_id, list(args))
    return {fields[k]: v for k, v in ctx.params.items() if k in fields and v not in (None, ())}


def test_values_parse_to_their_schema_types(tmp_path: Path) -> None:
    audio = tmp_path / "song.wav"
    audio.write_bytes(b"RIFF")

    values = parse(
        "fal-ai/demucs",
        *(
            "--audio-url",
            str(audio),
            "--model",
            "htdemucs",
            "--stems",
            "vocals",
            "--stems",
            "drums",
        ),
        *("--shifts", "3", "--overlap", "0.5"),
    )

    assert values == {
        "audio_url": LocalFile(audio),
        "model": "htdemucs",
        "stems": ("vocals", "drums"),
        "shifts": 3,
        "overlap": 0.5,
    }


def test_flags_choice_or_json_and_urls() -> None:
    values = parse(
        "fal-ai/flux/dev",
        *("--prompt", "a cat", "--no-enable-safety-checker", "--sync-mode"),
        *("--image-size", '{"width": 512, "height": 256}'),
    )
    assert values == {
        "prompt": "a cat",
        "enable_safety_checker": False,
        "sync_mode": True,
        "image_size": {"width": 512, "height": 256},
    }
    assert parse("fal-ai/flux/dev", "--image-size", "square_hd")["image_size"] == "square_hd"
    url = "https://example.com/in.png"
    assert parse("fal-ai/hyper3d/rodin/v2", "--input-image-urls", url)["input_image_urls"] == (url,)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--num-images", "9"], "9 is not in the range 1<=x<=4"),
        (["--num-images", "two"], "'two' is not a valid integer"),
        (["--output-format", "gif"], "'gif' is not one of 'jpeg', 'png'"),
        (["--image-size", "huge"], "'huge' is not one of square_hd"),
        (["--guidance-scale", "0.5"], "0.5 is not in the range 1<=x<=20"),
    ],
)
def test_bad_values_name_the_option(args: list[str], message: str) -> None:
    with pytest.raises(click.BadParameter) as caught:
        parse("fal-ai/flux/dev", "--prompt", "x", *args)
    assert message in caught.value.format_message()
    assert caught.value.param is not None and args[0] in caught.value.param.opts


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(click.BadParameter, match="neither a URL nor an existing file"):
        parse("fal-ai/demucs", "--audio-url", str(tmp_path / "missing.wav"))


def test_a_field_named_like_a_call_option_is_renamed() -> None:
    document: dict[str, Any] = {
        "components": {
            "schemas": {
                "I": {
                    "type": "object",
                    "properties": {"save": {"type": "string"}, "seed": {"type": "integer"}},
                }
            }
        }
    }
    schema = document["components"]["schemas"]["I"]
    fields = build_field_options(document, schema, reserved={"--save"})
    assert [(f.field, f.flag) for f in fields] == [("save", "--field-save"), ("seed", "--seed")]
