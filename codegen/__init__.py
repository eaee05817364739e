"""The fal_endpoints code generator: fal OpenAPI documents in, typed Python modules out.

Stages, one module each: :mod:`.load` (read documents) -> :mod:`.normalise` (repair upstream
defects) -> :mod:`.plan` (names, sides, signatures) -> :mod:`.models` and :mod:`.render`
(source text) -> :mod:`.write` (format, compare, write only what changed). :mod:`.pipeline`
runs them over a process pool; ``python -m codegen`` is the command line.
"""
