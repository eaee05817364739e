"""codegen.platform: fal's Platform API document in, ``fal_typed.platform._generated`` out.

A second generator beside the endpoint one, for a multi-operation REST document (every schema
inline). Stages, one module each: ``document`` (read the operations), ``schemas`` (name and
deduplicate the inline schemas), ``plan`` (each operation's method), ``render`` (models through
datamodel-code-generator as in ``codegen.models``, the client through
``templates/platform/``), ``pipeline`` (format with ruff, write, check). Document text reaches
the source only through ``text``.

    python -m codegen.platform            # regenerate src/fal_typed/platform/_generated/
    python -m codegen.platform --check    # exit 1 if it is stale (tests/platform checks this)
"""
