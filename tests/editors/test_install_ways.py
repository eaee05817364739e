"""Every mistake found and named, in every way of installing.

The project is installed three ways (editable; the runtime and endpoint wheels; a checkout on
PYTHONPATH), each in a fresh venv. basedpyright and mypy then check a user's script holding one
mistake per marked line across three endpoints (``user_code/mistakes.py``: wrong enum value,
wrong type, missing required field, misspelled keyword, in sync and async calls; a wrong
nested model field, a wrong list element, None where it is not allowed, a file field given a
number, a misspelled output attribute, an async call not awaited, wrong call option types).
Each mistake must be reported on its own line with the field, value or type at fault in the
message, and nothing else may be; the same calls written right (``user_code/correct.py``) must
pass both checkers in strict mode.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from checkers import Reports, basedpyright, marked_mistakes, mypy
from installs import ENDPOINT_IDS, Install

from fal_typed.naming import module_name

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("editors-venvs")]

USER_CODE = Path(__file__).parent / "user_code"
MISTAKES = USER_CODE / "mistakes.py"
CORRECT = USER_CODE / "correct.py"
CHECKERS = {"basedpyright": basedpyright, "mypy": mypy}


def unmet(reports: Reports, expected: dict[int, str]) -> list[str]:
    """Each way ``reports`` differ from ``expected``, as readable lines (empty: they agree)."""
    problems = [
        f"line {line}: {word!r} not reported: {reports.get(line, [])}"
        for line, word in sorted(expected.items())
        if not any(word in message for message in reports.get(line, []))
    ]
    problems += [
        f"line {line}: reported, but no mistake there: {messages}"
        for line, messages in sorted(reports.items())
        if line not in expected
    ]
    return problems


def test_the_script_holds_at_least_eight_kinds_of_mistake() -> None:
    assert len(marked_mistakes(MISTAKES)) >= 12
    source = MISTAKES.read_text(encoding="utf-8")
    assert all(module_name(endpoint_id) in source for endpoint_id in ENDPOINT_IDS)


def test_each_install_imports_the_generated_package(install: Install, checkout: Path) -> None:
    for endpoint_id in ENDPOINT_IDS:
        module = module_name(endpoint_id)
        found = install.module_file(module)
        assert found.name == "__init__.py" and (found.parent / "py.typed").is_file()
        if install.name == "wheels":
            assert install.venv.site_packages in found.parents
        else:
            assert found == checkout / "generated" / "fal_endpoints" / module / "__init__.py"


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_every_mistake_is_reported_on_its_line_naming_the_field(
    install: Install, checker: str, tmp_path: Path
) -> None:
    run = CHECKERS[checker]
    reports = run(install.venv.python, install.env(), tmp_path, MISTAKES, "standard")
    problems = unmet(reports, marked_mistakes(MISTAKES))
    assert not problems, f"{checker} ({install.name}):\n" + "\n".join(problems)


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_the_correct_script_passes_in_strict_mode(
    install: Install, checker: str, tmp_path: Path
) -> None:
    run = CHECKERS[checker]
    reports = run(install.venv.python, install.env(), tmp_path, CORRECT, "strict")
    assert reports == {}, f"{checker} ({install.name}): {reports}"
