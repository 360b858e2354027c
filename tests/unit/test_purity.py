"""The functional core stays pure: a guard against I/O imports slipping into it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PURE_MODULES = [
    "models.py",
    "planner.py",
    "csv_input.py",
    "csv_records.py",
    "csv_stream.py",
    "job_records.py",
    "cells.py",
    "check.py",
    "phones.py",
    "masking.py",
    "serialization.py",
    "sync_rows.py",
    "api_input.py",
    "openapi.py",
    "refusals.py",
    "reports.py",
    "summary.py",
    "undo.py",
    "writes.py",
    "spreadsheet.py",
    "conformance_record.py",
    "conformance_restore.py",
    "conformance_steps.py",
]
FORBIDDEN = {"httpx", "tenacity", "azure", "os", "time", "logging", "msal", "socket"}


@pytest.mark.parametrize("module", PURE_MODULES)
def test_core_module_imports_no_io(module):
    """The functional core imports nothing that does I/O."""
    path = Path(__file__).parents[2] / "provisioning" / module
    tree = ast.parse(path.read_text(encoding="utf-8"))

    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module}
    assert not {name.split(".")[0] for name in names} & FORBIDDEN
