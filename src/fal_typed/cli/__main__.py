"""``python -m fal_typed.cli``: the ``fal-typed`` command."""

from . import main

main()
