"""The offline ``check`` command's output: a parsed file as JSON or an aligned text table (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

from provisioning.core.models import DesiredRow, MethodKind
from provisioning.csv_input.cells import printable
from provisioning.csv_input.reader import ParsedFile

EXIT_VALID, EXIT_INVALID_ROWS, EXIT_REJECTED = 0, 1, 2
_GAP = "  "


def check_exit_code(parsed: ParsedFile) -> int:
    """0 when every row is valid, 1 when the file is accepted but some rows are not, 2 when rejected."""
    if not parsed.accepted:
        return EXIT_REJECTED
    return EXIT_VALID if all(row.valid for row in parsed.rows) else EXIT_INVALID_ROWS


def render_check(parsed: ParsedFile, fmt: Literal["json", "text"]) -> str:
    """*parsed* as JSON (``indent=2``, fixed key order) or as text; no trailing newline."""
    if fmt == "json":
        return _render_json(parsed)
    return _render_text(parsed)


def _render_json(parsed: ParsedFile) -> str:
    document = {
        "accepted": parsed.accepted,
        "file_errors": list(parsed.file_errors),
        "warnings": list(parsed.warnings),
        "rows": [_row_json(row) for row in parsed.rows],
    }
    return json.dumps(document, indent=2)


def _row_json(row: DesiredRow) -> dict[str, object]:
    return {
        "line": row.line,
        "upn": row.user,
        "errors": list(row.errors),
        "mobile": row.values.get(MethodKind.MOBILE),
        "alternateMobile": row.values.get(MethodKind.ALTERNATE_MOBILE),
        "office": row.values.get(MethodKind.OFFICE),
        "email": row.values.get(MethodKind.EMAIL),
        "forcedUpdate": row.forced_update,
        "forcedRemoval": row.forced_removal,
        "smsSignIn": row.sms_sign_in.value if row.sms_sign_in else None,
        "defaultMethod": row.default_method.value if row.default_method else None,
    }


_HEADINGS = (
    "line",
    "upn",
    "status",
    "mobile",
    "alternateMobile",
    "office",
    "email",
    "forcedUpdate",
    "forcedRemoval",
    "smsSignIn",
    "defaultMethod",
)


def _render_text(parsed: ParsedFile) -> str:
    lines = [f"error: {printable(problem)}" for problem in parsed.file_errors]
    lines += [f"warning: {printable(warning)}" for warning in parsed.warnings]
    if not parsed.accepted:
        lines.append(f"{printable(parsed.source)}: file rejected, no rows checked")
        return "\n".join(lines)
    table = [list(_HEADINGS)] + [_row_cells(row) for row in parsed.rows]
    lines += _aligned(table)
    lines += [_row_error(row, error) for row in parsed.rows for error in row.errors]
    invalid = sum(not row.valid for row in parsed.rows)
    total = len(parsed.rows)
    noun = "row" if total == 1 else "rows"
    lines.append(f"{total} {noun}: {total - invalid} valid, {invalid} invalid")
    return "\n".join(lines)


def _row_error(row: DesiredRow, error: str) -> str:
    where = f"line {row.line}"
    return printable(error if error.startswith(f"{where} ") else f"{where}: {error}")


def _row_cells(row: DesiredRow) -> list[str]:
    document = _row_json(row)
    status = "OK" if row.valid else "INVALID"
    cells = [str(row.line), printable(row.user) or "-", status]
    for heading in _HEADINGS[3:]:
        value = document[heading]
        cells.append("-" if value is None else str(value).lower() if isinstance(value, bool) else str(value))
    return cells


def _aligned(table: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return [
        _GAP.join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
