"""The layout of the house, checked so that anyone can repeat it.

- Apps import in one direction only. LAYERS lists the packages from the bottom up; a package may import
  the ones below it and never one above it, so no two apps can import each other, even through a third.
- Public APIs only: no Django SQL-compiler internals, no private names of Channels, asgiref or Django,
  except in the one module allowed to (ALLOWED_INTERNALS, with the reason).
- No module over MAX_CODE_LINES lines of code (blank lines, comments and docstrings aside), migrations
  and tests aside: a module that grows past it holds more than one concern.

The parsing is plain `ast`: every `import` and `from … import` statement, at any depth (an import inside a
function is still a dependency).
"""

import ast
import io
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Bottom to top. Why each one sits where it does is in the README's layout section.
LAYERS = ["core", "accounts", "printing", "fiscal", "orders", "kds", "sync", "config"]

# The only modules that may touch framework internals, and why.
ALLOWED_INTERNALS = {
    # Django's ASGI handler runs a sync view in a new thread per request, so each request opens and
    # closes its database connection; core/http.py runs the whole request in one pool thread instead.
    # It subclasses django.core.handlers.asgi.ASGIHandler and names the internals it relies on; a test
    # pins the Django versions it was checked against (tests/test_http.py).
    "core/http.py",
}

MAX_CODE_LINES = 550

PRIVATE_MODULES = ("django.db.models.sql",)
FRAMEWORKS = ("django", "channels", "asgiref", "daphne")
# Internals whose names carry no underscore: asgiref's per-thread state of sync_to_async, and the ORM's
# SQL compiler (reached from a queryset as `query.get_compiler`).
UNPREFIXED_INTERNALS = ("SyncToAsync.threadlocal", "get_compiler")


def python_files():
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def package_of(path: Path) -> str:
    return path.relative_to(ROOT).parts[0]


def imports(path: Path):
    """(module, names, line) for every import statement in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, [alias.name for alias in node.names], node.lineno


def attribute_chains(path: Path):
    """Dotted names as written (`asgiref.sync.SyncToAsync.threadlocal`) with their line."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            parts = []
            current = node
            while isinstance(current, (ast.Attribute, ast.Call)):
                if isinstance(current, ast.Call):  # `a.b().c` reads as a.b.c
                    current = current.func
                    continue
                parts.append(current.attr)
                current = current.value
            if isinstance(current, ast.Name):
                parts.append(current.id)
                yield ".".join(reversed(parts)), node.lineno


def code_lines(path: Path) -> int:
    source = path.read_text()
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines.update(n for n in range(token.start[0], token.end[0] + 1) if n not in docstrings)
    return len(lines)


def upward_imports():
    rank = {name: i for i, name in enumerate(LAYERS)}
    for path in python_files():
        here = package_of(path)
        for module, _names, line in imports(path):
            top = module.split(".")[0]
            if top in rank and top != here and rank[top] > rank[here]:
                yield f"{path.relative_to(ROOT)}:{line} imports {module} ({here} sits below {top})"


def internals_used():
    for path in python_files():
        relative = str(path.relative_to(ROOT))
        if relative in ALLOWED_INTERNALS:
            continue
        for module, names, line in imports(path):
            top = module.split(".")[0]
            if module.startswith(PRIVATE_MODULES):
                yield f"{relative}:{line} imports {module}"
            elif top in FRAMEWORKS:
                private = [n for n in names if n.startswith("_")] + [p for p in module.split(".") if p.startswith("_")]
                if private:
                    yield f"{relative}:{line} imports private {module}: {', '.join(private)}"
        for chain, line in attribute_chains(path):
            parts = chain.split(".")
            framework_private = parts[0] in FRAMEWORKS and any(p.startswith("_") and p != "__name__" for p in parts[1:])
            if framework_private or any(name in chain for name in UNPREFIXED_INTERNALS):
                yield f"{relative}:{line} uses {chain}"


def test_every_package_of_the_project_has_a_layer():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == set(LAYERS)


def test_apps_import_in_one_direction_only():
    assert list(upward_imports()) == []


def test_no_framework_internals_outside_the_allowed_module():
    assert list(internals_used()) == []


def test_no_module_is_a_god_module():
    too_long = {str(p.relative_to(ROOT)): n for p in python_files() if (n := code_lines(p)) > MAX_CODE_LINES}
    assert too_long == {}


@pytest.mark.parametrize("source, expected", [
    ("import os\n\n# a comment\n\n\ndef f():\n    '''Doc\n    string.'''\n    return 1\n", 3),
    ("x = (\n    1,\n    2,\n)\n", 4),
])
def test_code_lines_leave_out_blank_lines_comments_and_docstrings(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source)
    assert code_lines(path) == expected


def test_the_checks_see_a_violation(tmp_path, monkeypatch):
    """The checks can fail: a fiscal module importing orders and reaching into framework internals."""
    (tmp_path / "fiscal").mkdir()
    (tmp_path / "fiscal" / "bad.py").write_text(
        "from orders.models import Order\n"
        "import asgiref.sync\n"
        "x = asgiref.sync.SyncToAsync.threadlocal\n"
        "from django.db.models.sql import Query\n"
        "from channels.layers import _private\n"
        "y = Order.objects.all().query.get_compiler('default')\n"
    )
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    monkeypatch.setattr(f"{__name__}.LAYERS", ["fiscal", "orders"])
    assert list(upward_imports()) == ["fiscal/bad.py:1 imports orders.models (fiscal sits below orders)"]
    assert sorted(internals_used()) == [
        "fiscal/bad.py:3 uses asgiref.sync.SyncToAsync.threadlocal",
        "fiscal/bad.py:4 imports django.db.models.sql",
        "fiscal/bad.py:5 imports private channels.layers: _private",
        "fiscal/bad.py:6 uses Order.objects.all.query.get_compiler",
    ]
