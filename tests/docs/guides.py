"""Reading the guides (docs/*.md) the way a reader uses them, for the tests that execute them.

* :func:`fenced` / :func:`python_blocks`: the fenced code blocks of a guide. A Python example is
  a ```` ```python ```` or ```` ```py ```` block (both render the same; a ```` ```py ```` block is
  code a reader copies too); one titled ``fal-client`` shows the other client's code and is not
  run here (:func:`written_call_problems` checks the names it uses instead).
* :func:`run_blocks`: runs blocks in order in one namespace, as one program. A block whose first
  line is ``# name.py`` is a file the guide asks the reader to write: the namespace is also the
  module ``name``, so another file of the guide may ``from name import ...`` as the reader's
  would.
* :func:`written_call_problems`: the calls a guide writes in its prose and tables
  (```` `flux_dev.status(request_id, with_logs=True)` ````) and in the blocks that are not run,
  checked against the real signatures: a renamed keyword or a name that does not exist fails
  here, not in a reader's code.
* :func:`cli_problems`: the ``fal-typed`` command lines of a guide (``$ fal-typed ...`` in a
  console block, ```` `fal-typed ...` ```` and ```` `--option` ```` in the prose) checked
  against the real command line's commands and options.
"""

from __future__ import annotations

import ast
import inspect
import re
import shlex
import sys
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
PYTHON = ("python", "py")
FILE_HEADER = re.compile(r"#\s*([A-Za-z_]\w*)\.py\b")


@dataclass(frozen=True)
class Block:
    """One fenced block of a guide: its language, the rest of its info string, its code."""

    guide: str
    lang: str
    info: str
    code: str
    line: int

    @property
    def other_client(self) -> bool:
        return "fal-client" in self.info

    @property
    def runnable(self) -> bool:
        return self.lang in PYTHON and not self.other_client

    @property
    def file(self) -> str | None:
        """The module a ``# name.py ...`` first line says the block is (or continues)."""
        found = FILE_HEADER.match(self.code.lstrip())
        return found.group(1) if found else None

    @property
    def where(self) -> str:
        return f"{DOCS / self.guide}:{self.line}"


def fenced(guide: str) -> list[Block]:
    text = (DOCS / guide).read_text(encoding="utf-8")
    return [
        Block(guide, lang, info.strip(), code, text.count("\n", 0, found.start()) + 1)
        for found in FENCE.finditer(text)
        for lang, info, code in [found.groups()]
    ]


def python_blocks(guide: str) -> list[Block]:
    """The Python examples of a guide a reader would run (every python/py block but fal-client's)."""
    return [block for block in fenced(guide) if block.runnable]


def run_blocks(blocks: list[Block], namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``blocks`` in order in one namespace (returned). The files they name (``# name.py``)
    are importable as that module while they run and after (the caller removes them from
    ``sys.modules`` with :func:`forget_files`)."""
    module = types.ModuleType(f"docs_{blocks[0].guide[:-3].replace('-', '_')}" if blocks else "x")
    if namespace:
        module.__dict__.update(namespace)
    for block in blocks:
        if block.file is not None:
            sys.modules[block.file] = module
    for block in blocks:
        code = compile(block.code, block.where, "exec", dont_inherit=True)
        exec(code, module.__dict__)
    return module.__dict__


def forget_files(blocks: list[Block]) -> None:
    for block in blocks:
        if block.file is not None:
            sys.modules.pop(block.file, None)


# -- written calls --------------------------------------------------------------------------


#: A backticked span, and the calls written in one that is not Python (`WebhookSenders(ttl=)`).
SPAN = re.compile(r"`([^`]+)`")
WRITTEN_CALL = re.compile(r"^([A-Za-z_][\w.]*)\((.*)\)$")


def _head(func: ast.expr) -> str:
    """A call's callee as written, calls inside it dropped (``SyncClient().get_handle`` is
    looked up as ``SyncClient.get_handle``)."""
    text = ast.unparse(func)
    while True:
        shorter = re.sub(r"\([^()]*\)", "", text)
        if shorter == text:
            return text
        text = shorter


def span_calls(span: str) -> Iterator[tuple[str, str]]:
    """``(callee, arguments)`` of every call written in a backticked span."""
    try:
        tree = ast.parse(span)
    except SyntaxError:
        found = WRITTEN_CALL.match(span)
        if found:
            yield found.group(1), found.group(2)
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            arguments = [ast.unparse(a) for a in node.args] + [
                f"{k.arg}=..." if k.arg else f"**{ast.unparse(k.value)}" for k in node.keywords
            ]
            yield _head(node.func), ", ".join(arguments)


def top_level_arguments(arguments: str) -> list[str]:
    """The top-level arguments of a written call (``a, b=f(1, 2), *, c``), stripped."""
    found: list[str] = []
    depth, current = 0, ""
    for char in arguments + ",":
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            if current.strip():
                found.append(current.strip())
            current = ""
        else:
            current += char
    return found


def _table_cells(line: str) -> list[str] | None:
    stripped = line.strip()
    if not (stripped.startswith("|") and stripped.endswith("|")):
        return None
    return [cell.strip() for cell in stripped[1:-1].split("|")]


def prose_calls(guide: str) -> Iterator[tuple[str, str, str]]:
    """Every call written in backticks outside the code blocks: ``(column, head, arguments)``,
    where ``column`` is the header of the table column it is written in ("" outside tables),
    so a ``fal-client`` column is read against fal-client."""
    text = FENCE.sub("", (DOCS / guide).read_text(encoding="utf-8"))
    header: list[str] | None = None
    paragraph: list[str] = []

    def flush() -> Iterator[tuple[str, str, str]]:
        joined = " ".join(" ".join(paragraph).split())
        paragraph.clear()
        for span in SPAN.findall(joined):
            for head, arguments in span_calls(span):
                yield "", head, arguments

    for line in text.splitlines():
        cells = _table_cells(line)
        if cells is None:
            header = None
            if line.strip():
                paragraph.append(line)
            else:
                yield from flush()
            continue
        yield from flush()
        if header is None:
            header = cells
            continue
        for index, cell in enumerate(cells):
            column = header[index] if index < len(header) else ""
            for span in SPAN.findall(cell):
                for head, arguments in span_calls(span):
                    yield column, head, arguments
    yield from flush()


def block_calls(block: Block) -> Iterator[tuple[str, str, str]]:
    """The calls of a block that is not run (fal-client's), as ``(column, head, arguments)``."""
    for head, arguments in span_calls(block.code):
        yield ("fal-client" if block.other_client else ""), head, arguments


Owners = Mapping[str, Any]


def _resolve(head: str, owners: Owners) -> tuple[bool, Any]:
    """``(owned, target)``: ``owned`` when the head's first name is one the guide's owners
    describe (then ``target`` is None when a later name does not exist)."""
    first, *rest = head.split(".")
    if first in owners:
        target = owners[first]
    else:
        candidates = owners.get("", ())
        if rest or not any(hasattr(c, first) for c in candidates):
            return False, None
        target = next(getattr(c, first) for c in candidates if hasattr(c, first))
    for name in rest:
        if not hasattr(target, name):
            return True, None
        target = getattr(target, name)
    return True, target


def call_problem(head: str, arguments: str, owners: Owners) -> str | None:
    """What is wrong with a written call of an owned name (None: fine, or not ours to check)."""
    owned, target = _resolve(head, owners)
    if not owned:
        return None
    if target is None:
        return f"{head}: no such name"
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None  # a builtin without a signature: its existence is what we can check
    positional: list[object] = []
    keywords: dict[str, object] = {}
    loose = False  # `...` or `**fields`: any number of positional arguments may stand there
    for argument in top_level_arguments(arguments):
        name, sep, _ = argument.partition("=")
        if argument in ("...", "*") or argument.startswith("*"):
            loose = True
        elif sep and name.strip().isidentifier() and not name.endswith(("!", "<", ">")):
            keywords[name.strip()] = None
        else:
            positional.append(None)
    try:
        if loose:
            parameters = signature.parameters
            takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
            wrong = [k for k in keywords if k not in parameters and not takes_any]
            if wrong:
                return f"{head}({arguments}): no parameter {', '.join(wrong)}"
        else:
            signature.bind_partial(*positional, **keywords)
    except TypeError as exc:
        return f"{head}({arguments}): {exc}"
    return None


def written_call_problems(
    guide: str, owners: Owners, other_owners: Owners | None = None
) -> tuple[int, list[str]]:
    """``(checked, problems)`` for every call the guide writes (prose, tables, blocks not run):
    those under a ``fal-client`` column or in a fal-client block against ``other_owners``."""
    checked, problems = 0, []
    calls = list(prose_calls(guide))
    for block in fenced(guide):
        if block.lang in PYTHON and block.other_client:
            calls += block_calls(block)
    for column, head, arguments in calls:
        table = other_owners if column == "fal-client" else owners
        if table is None:
            continue
        owned, _ = _resolve(head, table)
        if not owned:
            continue
        checked += 1
        problem = call_problem(head, arguments, table)
        if problem is not None:
            problems.append(problem)
    return checked, problems


# -- the command line -------------------------------------------------------------------------


def cli_commands() -> dict[tuple[str, ...], set[str]]:
    """Every command of ``fal-typed`` (as its words) and the options it takes."""
    import typer.main

    from fal_typed.cli import app

    found: dict[tuple[str, ...], set[str]] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        options.add("--help")
        found[path] = options
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    found[("call",)] |= _call_options()
    return found


def _call_options() -> set[str]:
    """``fal-typed call``'s options are the endpoint's fields and the call options: a guide's
    example endpoint may not exist, so fal-ai/flux/dev's stand for them."""
    from fal_typed.cli._call import build_command
    from fal_typed.cli._spec import load_spec

    command = build_command(load_spec("fal-ai/flux/dev", DOCS.parent / "schemas"))
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)}


def _command_lines(guide: str) -> Iterator[str]:
    for block in fenced(guide):
        if block.lang in ("console", "text", "bash", "shell", ""):
            for line in block.code.splitlines():
                line = line.strip()
                if line.startswith("$ fal-typed "):
                    yield line[2:]
    prose = " ".join(FENCE.sub("", (DOCS / guide).read_text(encoding="utf-8")).split())
    yield from re.findall(r"`(fal-typed [^`]+)`", prose)


def _words(line: str) -> list[str]:
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        words = line.split()
    return [w for w in words[1:] if w not in ("&", "|")]


def cli_problems(guide: str) -> tuple[int, list[str]]:
    """``(checked, problems)``: each ``fal-typed`` line's command and options exist, and each
    option written alone in the prose (```` `--max-cost 25` ````) is one of the commands the
    guide shows."""
    commands = cli_commands()
    shown: set[tuple[str, ...]] = set()
    checked, problems = 0, []
    for line in _command_lines(guide):
        words = _words(line)
        path: tuple[str, ...] = ()
        while words and (*path, words[0]) in commands:
            path = (*path, words.pop(0))
        if not path:
            problems.append(f"{line!r}: no such command")
            continue
        shown.add(path)
        checked += 1
        for word in words:
            option = word.split("=", 1)[0]
            if option.startswith("-") and option not in commands[path]:
                problems.append(f"{line!r}: {' '.join(path)} has no option {option}")
    prose = " ".join(FENCE.sub("", (DOCS / guide).read_text(encoding="utf-8")).split())
    known = set().union(*(commands[p] for p in shown)) if shown else set()
    for written in re.findall(r"`(--[a-z][\w-]*)[^`]*`", prose):
        checked += 1
        if written not in known:
            problems.append(f"{written}: not an option of {sorted(' '.join(p) for p in shown)}")
    return checked, problems


def free_names(code: str) -> list[str]:
    """The names a block uses that it neither defines nor imports (nor are builtins): what a
    reader who copies the block alone gets a NameError for."""
    import builtins
    import symtable

    top = symtable.symtable(code, "block", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    used: set[str] = set()

    def walk(table: symtable.SymbolTable) -> None:
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (table is top or symbol.is_global()):
                used.add(symbol.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    return sorted(n for n in used - defined if not hasattr(builtins, n) and n != "__name__")
