"""A synthetic document holding every construct and defect the generator handles, in one place
(used by test_schema_handling.py for behaviour and test_generated_typecheck.py for typing)."""

from __future__ import annotations

from codegen_helpers import fal_document

REF = "#/components/schemas/"
LONG_ENUM = [f"voice_{i:04d}" for i in range(300)]

KITCHEN_SINK = fal_document(
    "fal-ai/kitchen-sink",
    {
        "type": "object",
        "title": "BaseInput",
        "required": ["prompt", "size"],
        "x-fal-order-properties": ["prompt", "image_url", "aspect_ratio", "seed", "size", "loras"],
        "properties": {
            "loras": {"type": "array", "items": {"$ref": REF + "LoraWeight"}, "default": []},
            "seed": {
                "type": "integer",
                "nullable": True,
                "description": "\n        Random seed.\n    ",
            },
            "size": {"allOf": [{"$ref": REF + "ImageSize"}], "description": "The size."},
            "image_url": {
                "type": "string",
                "description": "An image.",
                "minLength": 1,
                "maxLength": 2083,
            },
            "mask_urls": {"type": "array", "items": {"type": "string"}},
            "prompt": {"type": "string", "examples": ["a cat"], "title": "Prompt"},
            "aspect_ratio": {"type": "string", "enum": ["16:9", "4K", "1"], "default": "16:9"},
            "guidance": {"type": "number", "exclusiveMinimum": 0, "maximum": 20, "default": 3.5},
            "steps": {
                "anyOf": [{"type": "integer", "minimum": 1, "maximum": 50}, {"type": "null"}]
            },
            "ref_size": {"$ref": REF + "ImageSize", "description": "Described beside the $ref."},
            "shape": {
                "anyOf": [
                    {"$ref": REF + "ImageSize"},
                    {"type": "string", "enum": ["square", "wide"]},
                ]
            },
            "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            "anything": {"type": "array"},
            "weights": {"type": "object", "additionalProperties": {"type": "number"}},
            "mode": {"const": "fast"},
            "audio": {"type": "string", "format": "binary"},
            "model_name": {"type": "string"},
            "timeout": {"type": "number", "description": "A field named like a call option."},
            "voice": {"type": "string", "enum": LONG_ENUM, "default": "voice_0000"},
            "framing": {"type": "object", "properties": {"zoom": {"type": "number"}}},
            "tricky": {"type": "string", "description": 'Quotes """ and a backslash \\d inside.'},
            "bad_default": {"type": "string", "enum": ["1", "2"], "default": 1},
            "big_default": {"$ref": REF + "ImageSize", "default": {"width": 1, "height": 2}},
            "old": {"type": "boolean", "deprecated": True},
            "input": {"type": "string", "description": "Named like the positional parameter."},
            "json": {"type": "string", "description": "Named like a BaseModel method."},
            "strength": {"type": "number", "minimum": 0, "exclusiveMinimum": True},  # OpenAPI 3.0
            "rgb": {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "integer"}, {"type": "integer"}],
                "minItems": 3,
                "maxItems": 3,
            },
            "settings": {"type": "object"},
            "self": {"type": "string", "description": "Named like a method's first parameter."},
            "reference": {"$ref": REF + "Reference"},
        },
    },
    {
        "type": "object",
        "required": ["images", "status"],
        "properties": {
            "images": {"type": "array", "items": {"$ref": REF + "Image"}},
            "status": {"type": "string", "enum": ["ok", "filtered"]},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "size": {"$ref": REF + "ImageSize"},
            "audio": {"$ref": REF + "Audio-Output"},
            "link": {"$ref": REF + "registry__models__Link"},
            "reference": {"$ref": REF + "Reference"},
        },
    },
    {
        "LoraWeight": {
            "type": "object",
            "required": ["path"],
            "properties": {
                "path": {"type": "string"},
                "scale": {"type": "number", "default": 1},
                "mask_url": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]},
            },
        },
        "Reference": {
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string"}, "weight": {"type": "number"}},
        },
        "ImageSize": {
            "type": "object",
            "description": "Width and height.",
            "properties": {
                "width": {"type": "integer", "exclusiveMinimum": 0, "default": 512},
                "height": {"type": "integer", "exclusiveMinimum": 0, "default": 512},
            },
        },
        "Image": {
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string"}, "width": {"type": "integer"}},
        },
        "Audio-Output": {
            "type": "object",
            "properties": {"url": {"type": "string"}, "content_type": {"type": "string"}},
        },
        "registry__models__Link": {"type": "object", "properties": {"url": {"type": "string"}}},
        "DecoyInput": {"type": "object", "properties": {"nothing": {"type": "string"}}},
    },
)
