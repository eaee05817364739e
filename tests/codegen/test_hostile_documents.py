"""Documents written by an attacker: nothing in them becomes code, and each fails alone.

A property test (hypothesis) builds documents with hostile text in every place the generator
reads (ids, titles, descriptions, metadata, enum values, defaults, patterns, component and
property names, examples), numbers Python cannot write, values that read like references
(``{"$ref": ...}`` as a const, default or enum value) and components that are aliases of
themselves, generates them together with a copy of flux_dev, and imports every module in a
fresh interpreter: each document is either a module that imports and does nothing else (the
sentinel file its injected code would create never appears) or an error naming it, and flux_dev
is generated as always.

``HOSTILE_EXAMPLES=300 pytest tests/codegen/test_hostile_documents.py`` explores further than
the suite's bounded default.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import typing
from pathlib import Path
from typing import Any

import pytest
from codegen_helpers import SCHEMAS, fal_document, generate_into, import_generated, module_file
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from codegen.declarative import check_declarative
from codegen.diagnostics import DocumentError
from codegen.pipeline import generate
from codegen.source_text import Unwritable, docstring, docstring_part, identifier, literal
from codegen.write import format_each
from fal_typed import InputValidationError
from fal_typed._printable import printable
from fal_typed.catalog import document_filename
from fal_typed.naming import check_endpoint_id

SENTINEL = "@SENTINEL@"  # replaced by the quoted path of the sentinel file of each example
HUGE = "@HUGE@"  # replaced by an integer of 5,000 digits (JSON has no other way to say it)
TOUCH = f'__import__("pathlib").Path({SENTINEL}).touch()'
PAYLOADS = [
    TOUCH,
    f'"""; {TOUCH}; """',
    f"'''\n{TOUCH}\n'''",
    f'"""\n{TOUCH}\n"""',
    f"\n{TOUCH}\n",
    f"\r{TOUCH}\r",
    f"\x0c{TOUCH}",
    f"\u2028{TOUCH}\u2028",
    f'")\n{TOUCH}\n#',
    f"{{{{ {TOUCH} }}}}",
    f"{{% {TOUCH} %}}",
]
PIECES = [
    '"""', "'''", '"', "'", "\\", "\\N{", "\\x", "\n", "\r", "\r\n", "\t", "\x00", "\x0b",
    "\x0c", "\x1c", "\x85", "\u2028", "\u2029", "\x1b[2J", "\x1b]8;;x\x07", "\u202e", "\x7f",
    "\x9b", "{{", "}}", "{%", "#", ")", ":", ";", "\uff41", "\u00e9", "_", "-", "/", "$", "`",
]  # fmt: skip
NUMBERS = [float("inf"), float("-inf"), float("nan"), -0.0, 1e308, 5e-324, 2**64, -(2**70), HUGE]
PATTERNS = ["(?<=a)b", r"(a)\1", r"\p{L}+", "([", "a{2,1}", "(?P<x>a)(?P=x)", "[[:alpha:]]", "^ok$"]

text = st.lists(
    st.one_of(st.sampled_from(PIECES), st.sampled_from(PAYLOADS), st.text(max_size=3)),
    max_size=5,
).map("".join)
numbers = st.one_of(
    st.sampled_from(NUMBERS), st.floats(), st.integers(min_value=-(2**80), max_value=2**80)
)
scalars = st.one_of(text, numbers, st.booleans(), st.none())
# Data that reads like schema: a value is never followed as a reference, nor fetched.
REFERENCES = ["#/components/schemas/A", "#/nowhere", "other.json", "https://example.invalid/x"]
references = st.sampled_from(REFERENCES).map(lambda target: {"$ref": target})
values = st.one_of(scalars, st.lists(st.one_of(scalars, references), max_size=3), references)
segment = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,6}", fullmatch=True)
valid_ids = st.lists(segment, min_size=1, max_size=3).map(
    lambda parts: "hostile/" + "/".join(parts)
)
forged_ids = st.one_of(text, st.tuples(valid_ids, text).map("".join))
properties = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "number", "integer", "boolean", "array", "object"])},
    optional={
        "description": text,
        "title": text,
        "enum": st.lists(values, min_size=1, max_size=3),
        "const": values,
        "default": values,
        "pattern": st.one_of(text, st.sampled_from(PATTERNS)),
        "minimum": numbers,
        "maximum": numbers,
        "exclusiveMinimum": numbers,
        "multipleOf": numbers,
        "maxLength": numbers,
        "minItems": numbers,
        "examples": st.lists(values, max_size=2),
        "format": text,
        "x-fal": st.fixed_dictionaries({"hint": text}),
    },
)


@st.composite
def hostile_documents(draw: st.DrawFn, ids: st.SearchStrategy[str]) -> dict[str, Any]:
    """One document with hostile text and numbers wherever the generator reads."""
    names = st.one_of(text, st.sampled_from(["prompt", "timeout", "a-b", "a.b", "class"]))
    fields = draw(st.dictionaries(names, properties, max_size=4))
    nested_name = draw(text)
    fields[draw(names)] = {"$ref": f"#/components/schemas/{nested_name}", "description": draw(text)}
    # A, B: aliases of each other or of themselves, through references and unions alone.
    aliases = draw(
        st.sampled_from([
            {},
            {"A": {"$ref": "#/components/schemas/A"}},
            {"A": {"$ref": "#/components/schemas/B"}, "B": {"allOf": [{"$ref": "#/components/schemas/A"}]}},
            {"A": {"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "null"}]}},
        ])
    )  # fmt: skip
    if aliases:
        fields[draw(names)] = {"$ref": "#/components/schemas/A"}
    input_schema: dict[str, Any] = {
        "type": "object",
        "title": draw(text),
        "description": draw(text),
        "properties": fields,
        "required": draw(st.lists(names, max_size=2)),
        "x-fal-order-properties": draw(st.lists(names, max_size=3)),
    }
    output_schema = {"type": "object", "description": draw(text), "properties": fields}
    nested = {
        "type": "object",
        "description": draw(text),
        "properties": draw(st.dictionaries(names, properties, max_size=2)),
    }
    document = fal_document(
        draw(ids),
        input_schema,
        output_schema,
        {**aliases, nested_name: nested},
        input_name=draw(text) or "In",
        output_name=draw(text) or "Out",
        about=draw(text),
    )
    document["info"]["title"] = draw(text)
    document["info"]["x-fal-metadata"].update(
        category=draw(text), playgroundUrl=draw(text), documentationUrl=draw(text)
    )
    return document


def write(schemas: Path, name: str, document: dict[str, Any], sentinel: Path) -> None:
    raw = json.dumps(document)  # Infinity and NaN as JavaScript writes them: JSON's extension
    raw = raw.replace(SENTINEL, json.dumps(repr(str(sentinel)))[1:-1])
    raw = raw.replace(json.dumps(HUGE), "9" * 5000)
    (schemas / name).write_text(raw, encoding="utf-8")


def file_name(document: dict[str, Any], index: int) -> str:
    """Where a fetch would have put the document (its id made unique in the run), or a made-up
    name when its id is no id."""
    meta = document["info"]["x-fal-metadata"]
    try:
        check_endpoint_id(meta["endpointId"])
    except ValueError:
        return f"hostile-{index}.json"
    meta["endpointId"] += f"/d{index}"
    return document_filename(meta["endpointId"])


def import_all(package_root: Path, cwd: Path) -> dict[str, str]:
    """Import each generated module in a fresh interpreter; module -> its endpoint_id or error."""
    script = (
        "import importlib, json, sys\n"
        f"sys.path.insert(0, {str(package_root)!r})\n"
        "out = {}\n"
        f"for name in {sorted(p.parent.name for p in (package_root / 'fal_endpoints').glob('*/__init__.py'))!r}:\n"
        "    try:\n"
        "        module = importlib.import_module('fal_endpoints.' + name)\n"
        "        out[name] = getattr(module, 'endpoint_id', 'index')\n"
        "    except BaseException as exc:\n"
        "        out[name] = 'IMPORT FAILED: ' + repr(exc)\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


@settings(
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "12")),
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: one example costs seconds
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.lists(hostile_documents(valid_ids), min_size=3, max_size=3),
    hostile_documents(forged_ids),
)
def test_hostile_documents_become_importable_modules_or_reported_errors(
    documents: list[dict[str, Any]], forged: dict[str, Any]
) -> None:
    documents = [*documents, forged]
    work = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        sentinel, schemas, out = work / "PWNED", work / "schemas", work / "generated"
        schemas.mkdir()
        shutil.copy(SCHEMAS / "fal-ai__flux__dev.json", schemas / "fal-ai__flux__dev.json")
        names = [file_name(document, i) for i, document in enumerate(documents)]
        for name, document in zip(names, documents, strict=True):
            write(schemas, name, document, sentinel)

        report = generate(schemas, out, jobs=1)  # completes: a broken document never raises

        assert not sentinel.exists()
        errors = {d.source for d in report.errors}
        manifest = json.loads((out / "codegen-manifest.json").read_text(encoding="utf-8"))
        modules = {name: entry["module"] for name, entry in manifest["documents"].items()}
        assert report.documents == len(set(names)) + 1
        assert modules["fal-ai__flux__dev.json"] == "flux_dev"
        assert "fal-ai__flux__dev.json" not in errors
        for name in set(names):
            assert (modules[name] is None) == (name in errors), name  # a module, or an error

        assert not [d for d in report.errors if d.message.startswith("internal error")]
        assert any(modules[name] for name in names[:3])  # the valid ids do become modules

        imported = import_all(out, work)

        assert not sentinel.exists()
        assert imported["flux_dev"] == "fal-ai/flux/dev"
        by_module = {module: name for name, module in modules.items() if module}
        for module, endpoint_id in imported.items():
            assert not endpoint_id.startswith("IMPORT FAILED"), (module, endpoint_id)
            if module != "_index":  # the id it calls is the one its document named, verbatim
                raw = (schemas / by_module[module]).read_text(encoding="utf-8")
                source = json.loads(raw, parse_int=str)  # ints of 5,000 digits included
                assert endpoint_id == source["info"]["x-fal-metadata"]["endpointId"]
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- each defect the property test looks for, as one example ------------------------------------


def field(**schema: Any) -> dict[str, Any]:
    return fal_document(
        "fal-ai/odd",
        {"type": "object", "properties": {"value": schema, "other": {"type": "string"}}},
        {"type": "object", "properties": {"out": {"type": "string"}}},
    )


def generated(tmp_path: Path, document: dict[str, Any]) -> tuple[list[str], str]:
    """Generate one document: its findings and its module's source."""
    report = generate_into(tmp_path, document)
    assert report.errors == [], report.errors
    module = module_file(tmp_path / "generated", "odd")
    return [d.message for d in report.diagnostics], module.read_text(encoding="utf-8")


def test_an_id_outside_the_grammar_is_refused_at_generate(tmp_path: Path) -> None:
    forged = 'fal-ai/x"""; __import__("os").system("true"); """'
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    for name, endpoint_id in (("forged.json", forged), ("fal-ai__x\n.json", "fal-ai/x\n")):
        (schemas / name).write_text(json.dumps(field(type="string") | {}), encoding="utf-8")
        document = json.loads((schemas / name).read_text(encoding="utf-8"))
        document["info"]["x-fal-metadata"]["endpointId"] = endpoint_id
        (schemas / name).write_text(json.dumps(document), encoding="utf-8")

    report = generate(schemas, tmp_path / "generated", jobs=1)

    assert report.modules == 0
    assert sorted(d.message.split(":")[0] for d in report.errors) == [
        f"invalid endpoint id {forged!r}",
        "invalid endpoint id 'fal-ai/x\\n'",
    ]


def test_an_id_is_escaped_even_if_the_grammar_let_it_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: the id reaches docstrings through docstring_part, literals through
    repr, so even an id with quotes and newlines could not end a string."""
    import codegen.build
    import codegen.normalise

    monkeypatch.setattr(codegen.normalise, "check_endpoint_id", lambda endpoint_id: endpoint_id)
    monkeypatch.setattr(codegen.build, "_check_file_name", lambda endpoint_id, name: None)
    sentinel = tmp_path / "PWNED"
    touch = f'__import__("pathlib").Path({str(sentinel)!r}).touch()'
    ids = [
        f'fal-ai/a"""; {touch}; """',
        "fal-ai/b\\",
        'fal-ai/c"',
        f'fal-ai/d\n"""\n{touch}\n"""',
    ]
    documents = [fal_document(i, {"type": "object"}, {"type": "object"}) for i in ids]
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    for index, document in enumerate(documents):
        (schemas / f"doc{index}.json").write_text(json.dumps(document), encoding="utf-8")

    report = generate(schemas, tmp_path / "generated", jobs=1)
    imported = import_all(tmp_path / "generated", tmp_path)

    assert report.errors == [] and report.modules == 4
    assert sorted(v for k, v in imported.items() if k != "_index") == sorted(ids)
    assert not sentinel.exists()


def test_numbers_python_cannot_write_are_dropped_with_a_warning(tmp_path: Path) -> None:
    document = field(type="number", default="@inf", maximum="@nan", minimum="@-inf")
    document["components"]["schemas"]["ThingInput"]["properties"]["count"] = {
        "type": "integer",
        "default": "@huge",
        "enum": [1, "@nan"],
    }
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    raw = json.dumps(document)
    for marker, number in (("@inf", "1e400"), ("@-inf", "-Infinity"), ("@nan", "NaN")):
        raw = raw.replace(f'"{marker}"', number)
    (schemas / "fal-ai__odd.json").write_text(raw.replace('"@huge"', "7" * 5000))

    report = generate(schemas, tmp_path / "generated", jobs=1)

    assert report.errors == []
    assert sorted(d.message for d in report.diagnostics) == [
        "default of Count holds a number Python cannot write (inf has no Python literal): dropped",
        "default of Value holds a number Python cannot write (inf has no Python literal): dropped",
        "enum of Count holds a number Python cannot write (nan has no Python literal): dropped",
        "maximum of Value holds a number Python cannot write (nan has no Python literal): dropped",
        "minimum of Value holds a number Python cannot write (-inf has no Python literal): dropped",
    ]
    assert import_all(tmp_path / "generated", tmp_path)["odd"] == "fal-ai/odd"


# Data that reads like schema: a const is a value, never a reference to follow or fetch.
REF_LIKE = [
    "#/components/schemas/ThingOutput",  # a component that exists
    "#/components/schemas/Missing",
    "#/nowhere",
    "other.json",
    "/etc/passwd",
    "file:///etc/passwd",
    "@URL@/remote.json#/x",  # the test's own server, counting what is fetched
]


@pytest.mark.parametrize(
    "const",
    [
        *({"$ref": ref} for ref in REF_LIKE),
        {"a": [{"$ref": "#/components/schemas/Missing"}]},
        {"a": 1},
        [1, 2],
        [{"$ref": "#/nowhere"}],
        [],
    ],
)
def test_a_const_that_is_no_scalar_is_dropped_and_nothing_is_fetched(
    tmp_path: Path, const: Any
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:  # a connection would wait here
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        document = json.loads(json.dumps(field(const=const)).replace("@URL@", url))
        findings, _ = generated(tmp_path, document)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected: nothing was fetched
    module = import_generated(tmp_path, "odd")

    assert len(findings) == 1
    assert findings[0].startswith("const of Value is not a string, number, boolean or null: ")
    assert findings[0].endswith(": dropped")
    module.endpoint.arguments(None, {"value": "anything"})  # the server checks the value


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


# Components that are their own alias, through references and unions alone: no value has such
# a type, and following it never ends.
ALIAS_CYCLES: dict[str, dict[str, Any]] = {
    "itself": {"A": ref("A")},
    "a pair": {"A": ref("B"), "B": ref("A")},
    "three": {"A": ref("B"), "B": ref("C"), "C": ref("A")},
    "a union with itself": {"A": {"anyOf": [ref("A"), {"type": "null"}]}},
    "nullable itself": {"A": {**ref("A"), "nullable": True}},
    "through a single allOf": {
        "A": {"oneOf": [ref("B"), {"type": "string"}]},
        "B": {"allOf": [ref("A")]},
    },
}


@pytest.mark.parametrize("shape", sorted(ALIAS_CYCLES))
def test_a_reference_cycle_without_a_value_is_typed_any(tmp_path: Path, shape: str) -> None:
    document = fal_document(
        "fal-ai/odd",
        {"type": "object", "properties": {"value": ref("A"), "other": {"type": "string"}}},
        {"type": "object", "properties": {"value": ref("A")}},
        ALIAS_CYCLES[shape],
    )
    findings, _ = generated(tmp_path, document)
    module = import_generated(tmp_path, "odd")

    assert len(findings) == 1 and findings[0].startswith("$ref cycle: ")
    assert findings[0].endswith("typed as Any")
    assert module.endpoint.arguments(None, {"value": 1}) == {"value": 1}


def test_one_empty_schema_for_input_and_output_is_an_open_object_on_both_sides(
    tmp_path: Path,
) -> None:
    document = fal_document("fal-ai/odd", {}, {}, output_name="ThingInput")
    report = generate_into(tmp_path, document)
    module = import_generated(tmp_path, "odd")

    assert report.errors == []
    assert module.endpoint.arguments(None, {"any": "field"}) == {"any": "field"}
    assert module.Output.model_validate({"any": "field"}).model_extra == {"any": "field"}


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(?<=a)b", "is not accepted by pydantic"),  # lookbehind: no Rust regex
        (r"(a)\1", "is not accepted by pydantic"),  # backreference: no Rust regex
        (r"\p{L}+", "does not compile in Python's re"),
        ("([", "does not compile in Python's re"),
    ],
)
def test_a_pattern_either_engine_refuses_is_dropped(tmp_path: Path, pattern: str, why: str) -> None:
    findings, _ = generated(tmp_path, field(type="string", pattern=pattern))

    assert len(findings) == 1
    assert findings[0].startswith(f"pattern of Value {pattern!r} {why}")
    assert findings[0].endswith(": dropped")


def test_a_pattern_both_engines_compile_is_kept_and_checked(tmp_path: Path) -> None:
    findings, _ = generated(tmp_path, field(type="string", pattern="^[a-z]+$"))
    module = import_generated(tmp_path, "odd")

    assert findings == []
    module.endpoint.arguments(None, {"value": "abc"})
    with pytest.raises(InputValidationError):
        module.endpoint.arguments(None, {"value": "ABC"})


def test_control_characters_stay_out_of_docstrings_and_data_stays_exact(tmp_path: Path) -> None:
    text = 'a\x00b\x1b[31mc\u2028d\x0ce\r\nf\u202eg"""h\\'
    findings, source = generated(
        tmp_path, field(type="string", description=text, enum=[text, "x"], default=text)
    )
    module = import_generated(tmp_path, "odd")

    assert findings == []
    assert all(c not in source for c in "\x00\x1b\x0c\r\u2028\u202e")  # as escapes only
    doc = module.subscribe.__doc__ or ""
    lines = doc.split("value: ", 1)[1].splitlines()[:4]
    assert [line.strip() for line in lines] == ["abc", "d", "e", 'fg"""h\\']
    assert module.Input.model_fields["value"].default == text  # data is kept exactly
    assert typing.get_args(module.Input.model_fields["value"].annotation) == (text, "x")


def test_field_names_that_would_share_an_argument_get_distinct_keywords(tmp_path: Path) -> None:
    names = ["a", "a-b", "a.b", "a_b_", "timeout", "timeout_", "\uff41", "class", ""]
    document = fal_document(
        "fal-ai/odd",
        {"type": "object", "properties": {name: {"type": "string"} for name in names}},
        {"type": "object", "properties": {"out": {"type": "string"}}},
    )
    report = generate_into(tmp_path, document)
    module = import_generated(tmp_path, "odd")

    assert report.errors == []
    overload = next(
        node
        for node in ast.parse(inspect.getsource(module)).body
        if isinstance(node, ast.FunctionDef)
        and node.name == "subscribe"
        and node.decorator_list
        and not node.args.posonlyargs
    )
    keywords = [arg.arg for arg in overload.args.kwonlyargs][: len(names)]
    assert len(set(keywords)) == len(names)
    assert all(k.isascii() and k.isidentifier() for k in keywords)
    sent = module.endpoint.arguments(None, {k: f"v{i}" for i, k in enumerate(keywords)})
    assert sent == {name: f"v{i}" for i, name in enumerate(names)}


def test_a_module_ruff_cannot_format_costs_only_its_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If ruff refuses one module (a ruff bug, or text the checks missed), that document is
    skipped with ruff's reason and the others are still written and indexed."""
    import codegen.build

    real = codegen.build.render_module

    def render(planned: Any) -> tuple[dict[str, str], list[str]]:
        files, warnings = real(planned)
        if planned.module == "odd":  # one of its files: the whole member is skipped
            files = {**files, "_models.py": files["_models.py"] + "\ndef (\n"}
        return files, warnings

    monkeypatch.setattr(codegen.build, "render_module", render)
    other = fal_document("fal-ai/fine", {"type": "object"}, {"type": "object"})

    report = generate_into(tmp_path, field(type="string"), other)

    assert [(d.source, d.message.split(":")[0]) for d in report.errors] == [
        ("fal-ai__odd.json", "ruff format failed")
    ]
    package = tmp_path / "generated" / "fal_endpoints"
    assert sorted(p.parent.name for p in package.glob("*/__init__.py")) == ["_index", "fine"]
    assert not (package / "odd").exists()
    assert "fal-ai/odd" not in module_file(tmp_path / "generated", "_index").read_text("utf-8")


def test_format_each_isolates_the_files_ruff_refuses() -> None:
    formatted, refused = format_each(
        {"a.py": "x=1\n", "b.py": "def (\n", "c.py": "y  =  2\n", "d.py": "class\n"}
    )

    assert formatted == {"a.py": "x = 1\n", "c.py": "y = 2\n"}
    assert sorted(refused) == ["b.py", "d.py"]


@pytest.mark.parametrize(
    "source",
    [
        "import os",
        "x = 1",
        "class A(InputModel):\n    x: int = __import__('os')",
        "class A(InputModel):\n    x: Annotated[int, print('x')]",
        "class A(InputModel):\n    x: Annotated[int, Field(default=open('f'))]",
        "class A(InputModel):\n    x: os.path = 1",
        "class A(InputModel):\n    x: int = (lambda: 1)()",
        "class A(InputModel):\n    def f(self):\n        pass",
        "class A(InputModel):\n    'doc'\n    'more'",
        "class A(InputModel):\n    model_config = dict(extra='allow')",
        "@decorator\nclass A(InputModel):\n    pass",
        "class A(InputModel, metaclass=M):\n    pass",
        "class A(InputModel):\n    x: Unknown = None",
        "from os import system",
        "from typing import *",
    ],
)
def test_the_declarative_check_refuses_anything_but_declarations(source: str) -> None:
    header = "from pydantic import ConfigDict, Field\nfrom typing import Annotated\n"
    header += "from fal_typed import InputModel\n"
    with pytest.raises(DocumentError, match="not a declaration: refused"):
        check_declarative(ast.parse(header + source))


def test_the_declarative_check_accepts_what_datamodel_code_generator_writes() -> None:
    source = (
        "from __future__ import annotations\n"
        "from typing import Annotated, Literal\n"
        "from pydantic import ConfigDict, Field\n"
        "from fal_typed import InputModel\n"
        "class Size(InputModel):\n"
        "    'A size.'\n"
        "    model_config = ConfigDict(extra='forbid')\n"
        "    w: Annotated[int | None, Field(ge=-1, le=2.5, description='x\\x00')] = None\n"
        "    mode: Literal['a', 'b'] | None = 'a'\n"
        "    items: list[Size] | None = [1, -2, {'k': None}]\n"
    )
    check_declarative(ast.parse(source))


def test_deep_documents_are_refused_when_read(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    text = json.dumps(field(type="string"))
    (schemas / "fal-ai__odd.json").write_text(text[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}")
    (schemas / "fal-ai__odd2.json").write_text(text[:-1] + ', "x": ' + "[" * 70 + "]" * 70 + "}")

    report = generate(schemas, tmp_path / "generated", jobs=1)

    assert {d.message for d in report.errors} == {
        "cannot read document: nested deeper than 64 levels"
    }
    assert len(report.errors) == 2


def test_source_text_functions() -> None:
    assert docstring_part('a"""b\\c\n\x1b[2Jd') == 'a\\"\\"\\"b\\\\c d'
    assert docstring('ends with a quote"') == 'ends with a quote"\n'
    assert docstring("two\u2028lines") == "two\nlines\n"
    assert literal(["a'\"", 1, -0.0, None, True]) == "['a\\'\"', 1, -0.0, None, True]"
    for unwritable in (float("inf"), float("nan"), [1, float("-inf")], 10**4001):
        with pytest.raises(Unwritable):
            literal(unwritable)
    assert printable("a\x1b[31mb\x1b]8;;http://x\x07c\x9b2Jd\x07\u202ee\nf") == "abcde f"
    with pytest.raises(ValueError, match="not a plain identifier"):
        identifier("\uff41")


def test_an_escape_that_would_not_read_back_is_refused() -> None:
    """The proof each escape runs on its own result (it never fails on text the escapes make)."""
    from codegen.source_text import _prove_string  # pyright: ignore[reportPrivateUsage]

    for source in ('"a" + "b"', '"""a"""; __import__("os")', '"a\\', '"""a"""\n"""b"""'):
        with pytest.raises(Unwritable):
            _prove_string(source, "ab")
    _prove_string('"a\\"b"', 'a"b')


def test_a_signature_that_would_not_compile_skips_its_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The net under the plan's unique, ASCII keywords: were two ever the same, the document
    would be skipped, not written into a module that cannot be imported."""
    import codegen.render

    monkeypatch.setattr(codegen.render, "_param", lambda field, annotation: "same: str = ...")
    other = fal_document("fal-ai/fine", {"type": "object"}, {"type": "object"})

    report = generate_into(tmp_path, field(type="string"), other)

    assert [(d.source, d.message) for d in report.errors] == [
        ("fal-ai__odd.json", "the call signature would not compile: duplicate argument 'same' "
         "in function definition (<signature>, line 1)")
    ]  # fmt: skip
    assert report.modules == 1
