"""The offline ``check`` command's output: a file's rows as JSON or an aligned text table, streamed.

Rows are written as they are read, so a file of a million rows is checked in bounded memory: JSON
goes out row by row; the text table, whose column widths depend on every row, keeps its cells and
error lines in *spool* buffers (the CLI gives temporary files) until the widths are known.
Without I/O of its own: *out* and *spool* are the caller's.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Literal

from provisioning.core.models import DesiredRow, MethodKind
from provisioning.core.ports import TextSink
from provisioning.csv_input.cells import printable
from provisioning.csv_input.reader import ParsedFile

EXIT_VALID, EXIT_INVALID_ROWS, EXIT_REJECTED = 0, 1, 2
_GAP = "  "
Spool = Callable[[], IO[str]]  # a new, empty text buffer to write, rewind and read back


@dataclass(frozen=True)
class CheckedFile:
    """What ``check`` reports of one file: the reader's verdict and its rows (read once, if accepted)."""

    source: str
    accepted: bool
    file_errors: tuple[str, ...]
    warnings: tuple[str, ...]
    rows: Iterable[DesiredRow]

    @classmethod
    def of(cls, parsed: ParsedFile) -> CheckedFile:
        """A file parsed whole in memory."""
        return cls(parsed.source, parsed.accepted, parsed.file_errors, parsed.warnings, parsed.rows)


def check_exit_code(parsed: ParsedFile) -> int:
    """0 when every row is valid, 1 when the file is accepted but some rows are not, 2 when rejected."""
    if not parsed.accepted:
        return EXIT_REJECTED
    return EXIT_VALID if all(row.valid for row in parsed.rows) else EXIT_INVALID_ROWS


def render_check(parsed: ParsedFile, fmt: Literal["json", "text"]) -> str:
    """*parsed* as JSON (``indent=2``, fixed key order) or as text; no trailing newline."""
    out = io.StringIO()
    write_check(CheckedFile.of(parsed), fmt, out)
    return out.getvalue()


def write_check(
    checked: CheckedFile, fmt: Literal["json", "text"], out: TextSink, *, spool: Spool = io.StringIO
) -> int:
    """Write ``render_check``'s text to *out* as the rows are read; the exit code (``check_exit_code``'s)."""
    if fmt == "json":
        return _write_json(checked, out)
    return _write_text(checked, out, spool)


# --- JSON -----------------------------------------------------------------------------------------


def _write_json(checked: CheckedFile, out: TextSink) -> int:
    """``json.dumps(document, indent=2)`` of the whole file, byte for byte, one row at a time."""
    head: dict[str, object] = {
        "accepted": checked.accepted,
        "file_errors": list(checked.file_errors),
        "warnings": list(checked.warnings),
    }
    out.write(json.dumps(head, indent=2).removesuffix("\n}") + ',\n  "rows": [')
    rows = checked.rows if checked.accepted else ()
    invalid = count = 0
    for row in rows:
        out.write(
            ("," if count else "") + "\n    " + json.dumps(_row_json(row), indent=2).replace("\n", "\n    ")
        )
        count, invalid = count + 1, invalid + (not row.valid)
    out.write("\n  ]\n}" if count else "]\n}")
    return _exit_code(checked.accepted, invalid)


def _exit_code(accepted: bool, invalid: int) -> int:
    if not accepted:
        return EXIT_REJECTED
    return EXIT_INVALID_ROWS if invalid else EXIT_VALID


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


# --- text -----------------------------------------------------------------------------------------

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


class _Lines:
    """Lines joined by ``\\n`` as they come, no trailing newline."""

    def __init__(self, out: TextSink) -> None:
        self._out = out
        self._first = True

    def add(self, line: str) -> None:
        self._out.write(line if self._first else f"\n{line}")
        self._first = False


def _write_text(checked: CheckedFile, out: TextSink, spool: Spool) -> int:
    """Errors and warnings, the table (widths from every row), each row's errors, a count line."""
    lines = _Lines(out)
    for problem in checked.file_errors:
        lines.add(f"error: {printable(problem)}")
    for warning in checked.warnings:
        lines.add(f"warning: {printable(warning)}")
    if not checked.accepted:
        lines.add(f"{printable(checked.source)}: file rejected, no rows checked")
        return EXIT_REJECTED
    widths = [len(heading) for heading in _HEADINGS]
    total = invalid = 0
    # One JSON array (cells) or string (an error line) per spooled line: no cell can break a line.
    with spool() as cells, spool() as errors:
        for row in checked.rows:
            row_cells = _row_cells(row)
            widths = [max(width, len(cell)) for width, cell in zip(widths, row_cells, strict=True)]
            cells.write(json.dumps(row_cells) + "\n")
            errors.writelines(json.dumps(_row_error(row, error)) + "\n" for error in row.errors)
            total, invalid = total + 1, invalid + (not row.valid)
        lines.add(_aligned(_HEADINGS, widths))
        cells.seek(0)
        for text in cells:
            lines.add(_aligned(json.loads(text), widths))
        errors.seek(0)
        for text in errors:
            lines.add(json.loads(text))
    noun = "row" if total == 1 else "rows"
    lines.add(f"{total} {noun}: {total - invalid} valid, {invalid} invalid")
    return _exit_code(True, invalid)


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


def _aligned(cells: Sequence[str], widths: Sequence[int]) -> str:
    return _GAP.join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
