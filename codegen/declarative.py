"""Check that datamodel-code-generator's output declares models and does nothing else.

Its output embeds document text (descriptions, enum values, defaults, patterns, property names)
and is imported by users, so it is parsed and checked against the few shapes it legitimately
has before any of it is kept: imports of typing, pydantic and fal_typed names; classes without
decorators whose bodies hold a docstring, field declarations and ``model_config = ConfigDict(...)``;
annotations built from names the module defines or imports, literals, ``X | Y``, ``X[...]``
and ``Field(...)``; values that are literals. The only calls are ``Field`` and ``ConfigDict``
with literal arguments. Anything else (another call, an attribute, a lambda, a statement
smuggled in through an escaping bug) is a :class:`~codegen.diagnostics.DocumentError`: the
document is skipped and never becomes code.
"""

from __future__ import annotations

import ast
from typing import cast

from .diagnostics import DocumentError

__all__ = ["check_declarative"]

_MODULES = frozenset({"__future__", "typing", "typing_extensions", "pydantic", "fal_typed"})
_CALLS = frozenset({"Field", "ConfigDict"})
_BUILTIN_TYPES = frozenset(
    {"str", "int", "float", "bool", "bytes", "list", "dict", "tuple", "set", "frozenset", "object"}
)


def check_declarative(tree: ast.Module) -> None:
    """Raise DocumentError unless ``tree`` only imports names and declares model classes."""
    names = set(_BUILTIN_TYPES)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            if not _allowed_module(node.module) or node.level:
                _refuse(node, f"imports from {node.module!r}")
            for alias in node.names:
                if alias.name == "*" or alias.asname is not None:
                    _refuse(node, "a star or renamed import")
                names.add(alias.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
        elif _is_type_alias(node):
            names.add(cast("ast.Name", cast("ast.AnnAssign", node).target).id)
        else:
            _refuse(node, f"a top-level {type(node).__name__}")
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            _check_class(node, names)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            _check_type(node.value, names)


def _is_type_alias(node: ast.stmt) -> bool:
    """``Name: TypeAlias = <type>``: how models.py names a long field type."""
    return (
        isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and isinstance(node.annotation, ast.Name)
        and node.annotation.id == "TypeAlias"
        and node.value is not None
    )


def _allowed_module(module: str | None) -> bool:
    """typing, pydantic and the runtime's own modules (the Platform API's bases live in one)."""
    return module in _MODULES or (module or "").startswith("fal_typed.")


def _refuse(node: ast.AST, what: str) -> None:
    line = getattr(node, "lineno", "?")
    raise DocumentError(
        f"datamodel-code-generator wrote {what} (line {line}), not a declaration: refused"
    )


def _check_class(node: ast.ClassDef, names: set[str]) -> None:
    if node.decorator_list or node.keywords or getattr(node, "type_params", None):
        _refuse(node, f"class {node.name} with decorators or keywords")
    for base in node.bases:
        _check_type(base, names)
    fields: set[str] = set()
    for index, statement in enumerate(node.body):
        if isinstance(statement, ast.Expr) and index == 0:
            if not (
                isinstance(statement.value, ast.Constant) and isinstance(statement.value.value, str)
            ):
                _refuse(statement, "an expression statement")
        elif isinstance(statement, ast.AnnAssign):
            if not isinstance(statement.target, ast.Name):
                _refuse(statement, "an assignment to something other than a name")
            elif statement.target.id in fields:  # the second would silently replace the first
                _refuse(statement, f"two fields named {statement.target.id!r} in class {node.name}")
            else:
                fields.add(statement.target.id)
            _check_type(statement.annotation, names)
            if statement.value is not None:
                _check_value(statement.value)
        elif isinstance(statement, ast.Assign):
            targets = [t.id for t in statement.targets if isinstance(t, ast.Name)]
            if targets != ["model_config"] or not _is_call(statement.value, "ConfigDict"):
                _refuse(statement, "an assignment other than model_config = ConfigDict(...)")
            _check_value(statement.value)
        elif not isinstance(statement, ast.Pass):
            _refuse(statement, f"a {type(statement).__name__} in class {node.name}")


def _is_call(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


def _check_type(node: ast.expr, names: set[str]) -> None:
    """An annotation: evaluated by pydantic when the class is created, so no call but Field."""
    if isinstance(node, ast.Name):
        if node.id not in names:
            _refuse(node, f"the unknown name {node.id!r}")
    elif isinstance(node, ast.Subscript):
        if not isinstance(node.value, ast.Name):
            _refuse(node, "a subscript of something other than a name")
        _check_type(node.value, names)
        _check_type(node.slice, names)
    elif isinstance(node, ast.Tuple):
        for element in node.elts:
            _check_type(element, names)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        _check_type(node.left, names)
        _check_type(node.right, names)
    elif _is_call(node, "Field"):
        _check_value(node)
    else:
        _check_value(node)  # Literal[...] members, None


def _check_value(node: ast.expr) -> None:
    """A literal: constants, negated numbers, lists, tuples and dicts of them, Field/ConfigDict."""
    if isinstance(node, ast.Constant):
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        if isinstance(node.operand, ast.Constant) and isinstance(
            node.operand.value, (int, float, complex)
        ):
            return
        _refuse(node, "an operator on something other than a number")
    elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        for element in node.elts:
            _check_value(element)
    elif isinstance(node, ast.Dict):
        for key in node.keys:
            if key is None:
                _refuse(node, "a ** in a dict")
            else:
                _check_value(key)
        for value in node.values:
            _check_value(value)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CALLS:
        if node.args:
            _refuse(node, f"positional arguments to {node.func.id}")
        for keyword in node.keywords:
            if keyword.arg is None:
                _refuse(node, f"** arguments to {node.func.id}")
            _check_value(keyword.value)
    else:
        _refuse(node, f"the expression {ast.unparse(node)[:60]!r}")
