"""Admins' CSV files into ``DesiredRow`` values: decoding, delimiter, header and rows (pure).

``parse_csv`` never raises for bad input: file problems land in ``ParsedFile.file_errors``, row
problems in each row's ``errors``. Its pieces are public so a streaming reader can reuse them.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from provisioning import cells
from provisioning.csv_records import MAX_BYTES_SETTING, Record, decode_text, iter_records, split_lines
from provisioning.errors import InputError
from provisioning.models import DesiredRow, MethodKind
from provisioning.phones import PhoneError, check_region, normalise_phone

_T = TypeVar("_T")

__all__ = [
    "MAX_BYTES_SETTING",
    "MAX_ROWS_SETTING",
    "REGION_SETTING",
    "Column",
    "ColumnMap",
    "ParsedFile",
    "ReaderLimits",
    "map_columns",
    "mark_duplicates",
    "parse_csv",
    "parse_record",
    "sniff_delimiter",
]

MAX_ROWS_SETTING = "PROVISIONING_MAX_ROWS"
REGION_SETTING = "PROVISIONING_DEFAULT_REGION"


@dataclass(frozen=True)
class ReaderLimits:
    """Upper bounds on one input file; the shell fills them from the settings named above."""

    max_bytes: int = 64 * 1024 * 1024
    max_rows: int = 1_000_000


@dataclass(frozen=True)
class ParsedFile:
    """One file after parsing; ``rows`` is empty when the file is rejected (``accepted`` False)."""

    source: str
    accepted: bool
    file_errors: tuple[str, ...]
    warnings: tuple[str, ...]
    rows: tuple[DesiredRow, ...]
    managed: frozenset[MethodKind]


class Column(StrEnum):
    """The columns this reader understands; values are the canonical header names."""

    UPN = "UPN"
    MOBILE = "Mobile"
    ALTERNATE_MOBILE = "AlternateMobile"
    OFFICE = "OfficePhone"
    EMAIL = "AlternateEmail"
    FORCED_UPDATE = "ForcedUpdate"
    FORCED_REMOVAL = "ForcedRemoval"
    SMS_SIGN_IN = "SmsSignIn"
    DEFAULT_METHOD = "DefaultMethod"


# Header names are compared without case, spaces, "_" or "-": "User principal name" is the UPN.
_ALIASES: Mapping[str, Column] = {
    **{c.value.casefold(): c for c in Column},
    "userprincipalname": Column.UPN,
    "mobilephone": Column.MOBILE,
    "alternatemobilephone": Column.ALTERNATE_MOBILE,
    "office": Column.OFFICE,
    "email": Column.EMAIL,
}
_PHONE_COLUMNS: Mapping[Column, MethodKind] = {
    Column.MOBILE: MethodKind.MOBILE,
    Column.ALTERNATE_MOBILE: MethodKind.ALTERNATE_MOBILE,
    Column.OFFICE: MethodKind.OFFICE,
}
_KIND_OF_COLUMN: Mapping[Column, MethodKind] = {**_PHONE_COLUMNS, Column.EMAIL: MethodKind.EMAIL}


@dataclass(frozen=True)
class ColumnMap:
    """Where each known column sits, as the header names it, and the header's problems."""

    positions: Mapping[Column, int]
    names: Mapping[Column, str]
    width: int
    line: int = 1
    ignored: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def managed(self) -> frozenset[MethodKind]:
        """The method kinds with a column: a kind without one is never touched."""
        return frozenset(kind for col, kind in _KIND_OF_COLUMN.items() if col in self.positions)

    def name(self, column: Column) -> str:
        """The column's name as the header writes it."""
        return self.names.get(column, column.value)


def parse_csv(
    data: bytes,
    *,
    source: str,
    default_region: str | None = None,
    limits: ReaderLimits = ReaderLimits(),  # frozen, so one shared default is safe
) -> ParsedFile:
    """Parse a whole file into one ``DesiredRow`` per non-blank data row; never raises for bad input."""
    try:
        region = _setting_region(default_region)
        lines = split_lines(decode_text(data, max_bytes=limits.max_bytes))
        records = iter_records(lines, sniff_delimiter(lines))
        header = _header(records)
        columns = map_columns(header.fields, line=header.line)
        if columns.problems:
            return _rejected(source, columns.problems)
        rows = _read_rows(records, columns, region, limits.max_rows)
    except InputError as exc:
        return _rejected(source, (str(exc),))
    ignored = f"line {columns.line}: ignoring unknown columns: {', '.join(columns.ignored)}"
    return ParsedFile(
        source=source,
        accepted=True,
        file_errors=(),
        warnings=(f"{source}: {ignored}",) if columns.ignored else (),
        rows=mark_duplicates(rows, column=columns.name(Column.UPN)),
        managed=columns.managed,
    )


def _rejected(source: str, problems: Iterable[str]) -> ParsedFile:
    errors = tuple(f"{source}: {problem}" for problem in problems)
    return ParsedFile(source, False, errors, (), (), frozenset())


def _setting_region(region: str | None) -> str | None:
    if region is None or not region.strip():
        return None
    try:
        return check_region(region)
    except PhoneError as exc:
        msg = f"{REGION_SETTING}: {exc}"
        raise InputError(msg) from exc


def _header(records: Iterator[Record]) -> Record:
    header = next((record for record in records if not record.blank), None)
    if header is None:
        msg = "the file is empty (only blank lines)"
        raise InputError(msg)
    if header.error is not None:
        msg = f"{header.error} (in the header)"
        raise InputError(msg)
    return header


def _read_rows(
    records: Iterable[Record], columns: ColumnMap, region: str | None, max_rows: int
) -> list[DesiredRow]:
    rows: list[DesiredRow] = []
    for record in records:
        if record.blank:
            continue
        if len(rows) == max_rows:
            msg = f"line {record.line}: more than {max_rows:,} data rows; raise {MAX_ROWS_SETTING} or split the file"
            raise InputError(msg)
        if record.error is not None:
            rows.append(DesiredRow(record.line, "", managed=columns.managed, errors=(record.error,)))
        else:
            rows.append(parse_record(record.fields, record.line, columns, region))
    if not rows:
        msg = f"line {columns.line}: the file has a header but no data rows"
        raise InputError(msg)
    return rows


# --- Header and rows ---------------------------------------------------------------------------


def sniff_delimiter(lines: Sequence[str]) -> str:
    """Comma, semicolon or tab: whichever makes the first non-blank line a header with a UPN
    column, then the most known columns, then the most fields (comma wins ties). Data is never read.
    """
    header = next((line for line in lines if line.strip(' \t,;"\r\n')), None)
    if header is None:
        msg = "the file is empty (only blank lines)"
        raise InputError(msg)

    def score(delimiter: str) -> tuple[bool, int, int]:
        fields = next(csv.reader([header.rstrip("\r\n")], delimiter=delimiter), [])
        known = [_ALIASES.get(_header_key(field)) for field in fields]
        return Column.UPN in known, sum(k is not None for k in known), len(fields)

    return max((",", ";", "\t"), key=score)


def _header_key(name: str) -> str:
    return re.sub(r"[\s_\-\ufeff]", "", name).casefold()


def map_columns(fields: Sequence[str], *, line: int = 1) -> ColumnMap:
    """The column map for a header; ``problems`` holds its file errors (no UPN, a column twice)."""
    names = [cells.printable(raw.strip(" \t\ufeff")) for raw in fields]
    found: defaultdict[Column, list[int]] = defaultdict(list)
    for index, name in enumerate(names):
        column = _ALIASES.get(_header_key(name))
        if column is not None:
            found[column].append(index)
    problems = [_doubled(line, [names[i] for i in at], col) for col, at in found.items() if len(at) > 1]
    if Column.UPN not in found:
        shown = ", ".join(name for name in names if name) or "nothing"
        problems.append(f"line {line}: no UPN column (found: {shown}); add a UPN or UserPrincipalName column")
    positions = {col: at[0] for col, at in found.items()}
    known = {i for at in found.values() for i in at}
    return ColumnMap(
        positions=positions,
        names={col: names[i] for col, i in positions.items()},
        width=max((i + 1 for i, name in enumerate(names) if name), default=0),
        line=line,
        ignored=tuple(name for i, name in enumerate(names) if name and i not in known),
        problems=tuple(problems),
    )


def _doubled(line: int, names: list[str], column: Column) -> str:
    both = "both" if len(names) == 2 else "all"
    return (
        f"line {line}: columns {', '.join(names[:-1])} and {names[-1]} {both} mean {column.value}; keep one"
    )


def parse_record(
    fields: Sequence[str], line: int, columns: ColumnMap, default_region: str | None
) -> DesiredRow:
    """One data record into a ``DesiredRow``; every problem becomes a string in ``errors``.

    Cells that parse are kept even when others fail, so a report can show them.
    """
    errors: list[str] = []
    filled = max((i + 1 for i, f in enumerate(fields) if f.strip()), default=0)
    if filled > columns.width:
        errors.append(f"line {line} has {filled} fields, the header has {columns.width}")
    if not _text(fields, columns, Column.UPN).strip():
        errors.append(f"{columns.name(Column.UPN)}: empty; every row needs a user (UPN or object id)")
    cell = functools.partial(_cell, fields, columns, errors)
    user = cell(Column.UPN, cells.parse_user)
    phone = functools.partial(normalise_phone, default_region=default_region)
    values = {kind: cell(col, phone) for col, kind in _PHONE_COLUMNS.items()}
    values[MethodKind.EMAIL] = cell(Column.EMAIL, cells.parse_email)
    return DesiredRow(
        line=line,
        user=user or "",
        values={kind: value for kind, value in values.items() if value is not None},
        managed=columns.managed,
        forced_update=cell(Column.FORCED_UPDATE, cells.parse_bool) or False,
        forced_removal=cell(Column.FORCED_REMOVAL, cells.parse_bool) or False,
        sms_sign_in=cell(Column.SMS_SIGN_IN, cells.parse_sms_sign_in),
        default_method=cell(Column.DEFAULT_METHOD, cells.parse_default_method),
        errors=tuple(errors),
    )


def _cell(
    fields: Sequence[str], columns: ColumnMap, errors: list[str], column: Column, parse: Callable[[str], _T]
) -> _T | None:
    """The parsed cell, or None when the column is missing, the cell empty or unparsable (then an
    error naming the column goes into *errors*)."""
    text = _text(fields, columns, column)
    if not text.strip():
        return None
    try:
        return parse(text)
    except (cells.CellError, PhoneError) as exc:
        errors.append(f"{columns.name(column)}: {exc}")
        return None


def _text(fields: Sequence[str], columns: ColumnMap, column: Column) -> str:
    index = columns.positions.get(column)
    return fields[index] if index is not None and index < len(fields) else ""


def mark_duplicates(rows: Sequence[DesiredRow], *, column: str = "UPN") -> tuple[DesiredRow, ...]:
    """*rows* with an error on every row whose user (case-insensitive) is on another row too."""
    lines: defaultdict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.user:
            lines[row.user.casefold()].append(row.line)
    return tuple(_with_duplicate_error(row, lines[row.user.casefold()], column) for row in rows)


def _with_duplicate_error(row: DesiredRow, lines: list[int], column: str) -> DesiredRow:
    others = [str(line) for line in lines if line != row.line]
    if not row.user or not others:
        return row
    where = f"line {others[0]}" if len(others) == 1 else f"lines {', '.join(others)}"
    error = f"{column}: the same user is also on {where}; keep one row per user"
    return dataclasses.replace(row, errors=(*row.errors, error))
