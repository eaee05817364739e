"""Generated modules pass basedpyright (strict) and mypy (strict, pydantic plugin).

The whole package takes minutes to check on two cores, so the suite checks a sample that covers
every shape the generator emits; ``make typecheck`` checks all of it (CI).
"""

from __future__ import annotations

from pathlib import Path

from codegen_helpers import (
    GENERATED,
    basedpyright_problems,
    corpus,
    every_nth,
    generate_into,
    module_file,
    mypy_problems,
)
from kitchen_sink import KITCHEN_SINK

SPECIAL = [
    "flux_dev",  # the README example
    "heygen_v3_video_agent",  # huge enums behind type aliases
    "bria__video_background_removal_realtime",  # a discriminated union output (RootModel)
    "openrouter__router_openai_v1_chat_completions",  # missing input schema: open input
    "fooocus",  # list-typed alias, object defaults in descriptions
    "bria__fibo_lite_generate",  # components used on both sides
    "sam_3_3d_objects",  # a default dropped as invalid
]
SAMPLE = sorted({*SPECIAL, *(e.module for e in every_nth(corpus(), 12))})
FILES = [str(module_file(GENERATED, module)) for module in SAMPLE]


def test_sample_passes_basedpyright_strict(tmp_path: Path) -> None:
    assert basedpyright_problems(tmp_path, FILES) == []


def test_every_construct_type_checks(tmp_path: Path) -> None:
    """The synthetic document with every construct and defect: its module passes both checkers."""
    generate_into(tmp_path, KITCHEN_SINK)
    module = str(module_file(tmp_path / "generated", "kitchen_sink"))
    assert basedpyright_problems(tmp_path, [module]) == []
    assert mypy_problems(tmp_path, [module]) == ""


def test_sample_passes_mypy_strict(tmp_path: Path) -> None:
    assert mypy_problems(tmp_path, FILES) == ""


USER_CODE = """\
from pathlib import Path

from fal_endpoints import flux_general

net = flux_general.ControlNet(path="https://example.com/w", control_image_url=Path("edges.png"))
request = flux_general.FluxGeneralInput(prompt="p", controlnets=[net], reference_image_url=b"x")
with open("photo.png", "rb") as photo:
    flux_general.subscribe(prompt="p", controlnets=[net], reference_image_url=photo)
"""


def test_user_code_passing_local_files_to_nested_models_type_checks(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text(USER_CODE, encoding="utf-8")
    assert basedpyright_problems(tmp_path, [str(good)]) == []
    assert mypy_problems(tmp_path, [str(good)]) == ""

    bad = tmp_path / "bad.py"
    bad.write_text(USER_CODE + 'flux_general.ControlNet(path="w", control_image_url=3)\n')
    (problem,) = basedpyright_problems(tmp_path, [str(bad)])
    assert problem.startswith(f"{bad}:9: ") and "control_image_url" in problem
