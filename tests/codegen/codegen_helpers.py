"""Shared helpers of the generator tests: the corpus, synthetic documents, generating into tmp."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from codegen.normalise import normalise
from codegen.pipeline import Report, generate
from codegen.plan import ModulePlan, plan

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
GENERATED = REPO / "generated"
PACKAGE = GENERATED / "fal_endpoints"


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of the corpus: its document, id and generated module name."""

    source: str
    endpoint_id: str
    module: str

    def document(self) -> dict[str, Any]:
        return load_json(SCHEMAS / self.source)

    def load(self) -> ModuleType:
        return importlib.import_module(f"fal_endpoints.{self.module}")


@cache
def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@cache
def corpus() -> tuple[Endpoint, ...]:
    """Every endpoint of the committed package, from its index."""
    index = importlib.import_module("fal_endpoints._index")
    return tuple(
        Endpoint(f"{endpoint_id.replace('/', '__')}.json", endpoint_id, info.module)
        for endpoint_id, info in sorted(index.ENDPOINTS.items())
    )


def every_nth(items: tuple[Endpoint, ...], count: int) -> list[Endpoint]:
    """``count`` endpoints spread evenly over the corpus (a deterministic sample)."""
    step = max(1, len(items) // count)
    return list(items[::step][:count])


def fal_document(
    endpoint_id: str,
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    components: dict[str, Any] | None = None,
    *,
    input_name: str = "ThingInput",
    output_name: str = "ThingOutput",
    about: str = "A synthetic endpoint.",
) -> dict[str, Any]:
    """A minimal fal queue OpenAPI document, shaped like the corpus ones."""
    ref = "#/components/schemas/"
    body = {"content": {"application/json": {"schema": {"$ref": ref + input_name}}}}
    result = {"content": {"application/json": {"schema": {"$ref": ref + output_name}}}}
    return {
        "openapi": "3.0.4",
        "info": {
            "title": f"Queue OpenAPI for {endpoint_id}",
            "version": "1.0.0",
            "x-fal-metadata": {
                "endpointId": endpoint_id,
                "category": "text-to-image",
                "playgroundUrl": f"https://fal.ai/models/{endpoint_id}",
                "documentationUrl": f"https://fal.ai/models/{endpoint_id}/api",
                "about": about,
            },
        },
        "components": {
            "schemas": {
                "QueueStatus": {"type": "object", "properties": {"status": {"type": "string"}}},
                input_name: input_schema,
                output_name: output_schema,
                **(components or {}),
            }
        },
        "paths": {
            f"/{endpoint_id}": {"post": {"requestBody": body}},
            f"/{endpoint_id}/requests/{{request_id}}": {"get": {"responses": {"200": result}}},
        },
    }


def write_documents(schemas: Path, *documents: dict[str, Any]) -> None:
    schemas.mkdir(parents=True, exist_ok=True)
    for document in documents:
        endpoint_id = document["info"]["x-fal-metadata"]["endpointId"]
        path = schemas / f"{endpoint_id.replace('/', '__')}.json"
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")


def generate_into(tmp_path: Path, *documents: dict[str, Any]) -> Report:
    """Generate ``documents`` into ``tmp_path/generated`` (in-process, one worker)."""
    write_documents(tmp_path / "schemas", *documents)
    return generate(tmp_path / "schemas", tmp_path / "generated", jobs=1)


def module_file(generated: Path, module: str) -> Path:
    """The source of a generated module: ``fal_endpoints/<module>/__init__.py`` (each module is a
    package with its own ``py.typed``, as its wheel installs it)."""
    return generated / "fal_endpoints" / module / "__init__.py"


def import_generated(tmp_path: Path, module: str) -> ModuleType:
    """Import ``tmp_path/generated/fal_endpoints/<module>/`` under a name unique to the test."""
    path = module_file(tmp_path / "generated", module)
    name = f"_generated_{abs(hash(tmp_path))}_{module}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    spec.loader.exec_module(loaded)
    return loaded


@cache
def planned(endpoint: Endpoint) -> ModulePlan:
    """The generator's plan for a corpus document (the cleaned schemas the module came from)."""
    return plan(normalise(endpoint.document()), endpoint.source)


def raw_input_properties(endpoint: Endpoint) -> dict[str, Any]:
    """The input properties exactly as the document writes them (with their ``examples``)."""
    document = endpoint.document()
    for item in document["paths"].values():
        if "post" in item:
            ref = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            schema = document["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
            properties: dict[str, Any] = schema.get("properties", {})
            return properties
    return {}


def example_input(endpoint: Endpoint) -> dict[str, Any]:
    """An input from the schema's own examples and defaults; required fields that have neither
    get the simplest value their schema allows."""
    cleaned = planned(endpoint)
    root = cleaned.components[cleaned.input_class]
    required = set(root.get("required", ()))
    raw = raw_input_properties(endpoint)
    values: dict[str, Any] = {}
    for name, schema in root.get("properties", {}).items():
        examples = raw.get(name, {}).get("examples")
        if isinstance(examples, list) and examples:
            values[name] = examples[0]
        elif "default" in schema:
            values[name] = schema["default"]
        elif name in required:
            values[name] = simplest(schema, cleaned.components)
    return values


# Upstream defects: examples that contradict their own schema (checked by hand against the
# documents). The strict input model must reject exactly these fields, naming them.
EXAMPLES_AGAINST_THEIR_SCHEMA = {
    "argil/avatars/audio-to-video": "audio_url",  # an object {"url": ...} for a string
    "cassetteai/video-sound-effects-generator": "video_url",  # a URL string for a Video object
    "fal-ai/heygen/avatar4/image-to-video": "voice",  # "Melissa" is not in the enum
    "fal-ai/hyper3d/rodin": "input_image_urls",  # a string for an array
    "fal-ai/x-ailab/nsfw": "image_urls",  # a string for an array
    "fal-ai/ltx-video-13b-distilled/extend": "video",  # properties the object does not define
    "fal-ai/ltxv-13b-098-distilled/extend": "video",  # properties the object does not define
}


def valid_input(endpoint: Endpoint) -> dict[str, Any]:
    """:func:`example_input`, with the simplest valid value for a field whose example is defective."""
    values = example_input(endpoint)
    defective = EXAMPLES_AGAINST_THEIR_SCHEMA.get(endpoint.endpoint_id)
    if defective is not None:
        cleaned = planned(endpoint)
        schema = cleaned.components[cleaned.input_class]["properties"][defective]
        values[defective] = simplest(schema, cleaned.components)
    return values


def simplest(schema: Any, components: dict[str, Any]) -> Any:
    """The simplest value valid against ``schema`` (enough for fields with no example)."""
    if not isinstance(schema, dict) or not schema:
        return "x"
    if "$ref" in schema:
        return simplest(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            branches = [b for b in schema[key] if b != {"type": "null"}] or schema[key]
            return simplest(branches[0], components)
    kind = schema.get("type")
    if kind == "object":
        required = schema.get("required", ())
        properties = schema.get("properties", {})
        return {
            name: simplest(properties[name], components) for name in required if name in properties
        }
    if kind == "array":
        if "prefixItems" in schema:
            return [simplest(item, components) for item in schema["prefixItems"]]
        return [simplest(schema.get("items"), components)] * max(1, schema.get("minItems", 1))
    if kind in ("integer", "number"):
        low = schema.get(
            "minimum",
            schema.get("exclusiveMinimum", 0) + (1 if "exclusiveMinimum" in schema else 0),
        )
        return max(low, 1) if schema.get("maximum", 1) >= 1 else low
    if kind == "boolean":
        return False
    return "x" * max(1, schema.get("minLength", 1))


# Checked against this interpreter's packages, whether or not its virtualenv is activated.
PYRIGHT = [sys.executable, "-m", "basedpyright", "--outputjson", "--pythonpath", sys.executable]


def basedpyright_problems(tmp_path: Path, files: list[str]) -> list[str]:
    """basedpyright (strict) on ``files``, against the runtime and the generated package: its
    errors and warnings, one line each."""
    config = {
        "include": files,
        "pythonVersion": "3.10",
        "typeCheckingMode": "strict",
        "reportMissingTypeStubs": False,
        "extraPaths": [str(REPO / "src"), str(GENERATED)],
    }
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config), encoding="utf-8")
    done = subprocess.run(
        [*PYRIGHT, "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(done.stdout)
    assert report["summary"]["filesAnalyzed"] >= len(files)
    return [
        f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}"
        for d in report["generalDiagnostics"]
        if d["severity"] in ("error", "warning")
    ]


def mypy_problems(tmp_path: Path, files: list[str]) -> str:
    """mypy with the project's configuration (strict, pydantic plugin); its output on failure."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / ".mypy"), *files],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if done.returncode == 0 else done.stdout[-5000:] + done.stderr[-2000:]
