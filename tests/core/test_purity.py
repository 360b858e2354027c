"""The functional core stays pure: no I/O import slips into it.

What is pure is read from the tree, never from a list kept here: every module under ``provisioning/core/``
and ``provisioning/csv_input/``, and every other module whose docstring's first line says "(pure".
``lint-imports`` (pyproject.toml) holds the same folders to the layer contracts, indirect imports included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "provisioning"
PURE_FOLDERS = ("core", "csv_input")
FORBIDDEN = {"httpx", "tenacity", "azure", "os", "time", "logging", "msal", "socket", "jwt", "cryptography"}


def _declares_pure(path: Path) -> bool:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return "(pure" in doc.split("\n\n", 1)[0]


def pure_modules() -> list[Path]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        folder = path.relative_to(PACKAGE).parts[0]
        if folder in PURE_FOLDERS or _declares_pure(path):
            found.append(path)
    return found


def test_the_pure_set_is_read_from_the_tree():
    names = {p.relative_to(PACKAGE).as_posix() for p in pure_modules()}
    assert {"core/planner.py", "csv_input/reader.py", "entrypoints/http/input.py"} <= names
    assert "graph/client.py" not in names


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_core_module_imports_no_io(path):
    """The functional core imports nothing that does I/O."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module}
    assert not {name.split(".")[0] for name in names} & FORBIDDEN
