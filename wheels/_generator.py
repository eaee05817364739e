"""The generator, shipped inside the runtime wheel so ``fal-typed add`` works without a checkout.

``codegen/``'s stage modules (not ``codegen/platform/``, the Platform API's generator) become the
private package ``fal_typed/_codegen/``, with the endpoint templates in
``fal_typed/_codegen/templates/`` (where an installed generator looks first). What it imports
besides the runtime (datamodel-code-generator, jinja2, ruff) is the runtime's ``codegen`` extra:
``pip install "fal-typed[codegen]"``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["GENERATOR_PACKAGE", "generator_files"]

GENERATOR_PACKAGE = "fal_typed/_codegen"


def generator_files(root: Path) -> dict[str, bytes]:
    """``{archive path: bytes}`` of the generator of the project at ``root``.

    Raises ``FileNotFoundError`` when ``root`` has no generator: a runtime wheel without it
    would offer a ``codegen`` extra that cannot work.
    """
    code, templates = root / "codegen", root / "templates"
    if not (code / "__main__.py").is_file():
        raise FileNotFoundError(f"{code}/__main__.py is missing: the generator cannot be shipped")
    files = {f"{GENERATOR_PACKAGE}/{p.name}": p.read_bytes() for p in sorted(code.glob("*.py"))}
    for template in sorted(templates.glob("*.jinja")):
        files[f"{GENERATOR_PACKAGE}/templates/{template.name}"] = template.read_bytes()
    return files
