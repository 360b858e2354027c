"""CSV records of a file's lines, the header's column map, and one record into a ``DesiredRow`` (pure).

``csv_stream`` turns bytes into lines before this; ``csv_input`` reads a whole file with these.
"""

from __future__ import annotations

import csv
import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from provisioning import cells
from provisioning.errors import InputError
from provisioning.models import DesiredRow, MethodKind
from provisioning.phones import PhoneError, normalise_phone

_T = TypeVar("_T")

__all__ = [
    "Column",
    "ColumnMap",
    "Record",
    "is_blank_line",
    "iter_records",
    "map_columns",
    "parse_record",
    "sniff_delimiter",
    "user_key",
]


@dataclass(frozen=True)
class Record:
    """One CSV record: the physical line it starts on and its fields, or why it is unreadable."""

    line: int
    fields: tuple[str, ...]
    error: str | None = None

    @property
    def blank(self) -> bool:
        return self.error is None and not any(f.strip() for f in self.fields)


def iter_records(lines: Iterable[str], delimiter: str, *, first_line: int = 1) -> Iterator[Record]:
    """Records with the physical line each starts on; blank lines come through as blank records.

    Bad quoting becomes a ``Record`` with ``error``; a quote still open at the end of the text
    raises ``InputError``, since everything after it would be one field.
    """
    reader = csv.reader(lines, delimiter=delimiter, strict=True, skipinitialspace=True)
    consumed = 0
    while True:
        start = first_line + consumed
        try:
            record = Record(start, tuple(next(reader)))
        except StopIteration:
            return
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                msg = f'line {start}: a quoted field is never closed; check the " characters on this line'
                raise InputError(msg) from exc
            record = Record(start, (), f"line {start}: {_csv_problem(exc)}")
        consumed = reader.line_num
        yield record


def _csv_problem(exc: csv.Error) -> str:
    if "expected after" in str(exc):
        return 'text after a closing quote; a quoted field must end with " (write "" for a quote inside it)'
    return f"cannot be read as CSV ({exc})"


# --- The header ---------------------------------------------------------------------------------


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

    @functools.cached_property  # read for every row
    def managed(self) -> frozenset[MethodKind]:
        """The method kinds with a column: a kind without one is never touched."""
        return frozenset(kind for col, kind in _KIND_OF_COLUMN.items() if col in self.positions)

    def name(self, column: Column) -> str:
        """The column's name as the header writes it."""
        return self.names.get(column, column.value)

    def cell(self, fields: Sequence[str], column: Column) -> str:
        """The record's cell in *column*, or "" when the column or the cell is missing."""
        index = self.positions.get(column)
        return fields[index] if index is not None and index < len(fields) else ""


def is_blank_line(line: str) -> bool:
    """Whether a physical line holds nothing but spaces, delimiters and quotes (never a header)."""
    return not line.strip(' \t,;"\r\n')


def sniff_delimiter(header: str) -> str:
    """Comma, semicolon or tab: whichever makes *header* (the first non-blank line) name a UPN
    column, then the most known columns, then the most fields (comma wins ties). Data is never read.
    """

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
    if not columns.cell(fields, Column.UPN).strip():
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
    text = columns.cell(fields, column)
    if not text.strip():
        return None
    try:
        return parse(text)
    except (cells.CellError, PhoneError) as exc:
        errors.append(f"{columns.name(column)}: {exc}")
        return None


def user_key(fields: Sequence[str], columns: ColumnMap) -> str | None:
    """The record's user as duplicates are found (case-folded), or None if it has no valid user."""
    text = columns.cell(fields, Column.UPN)
    if not text.strip():
        return None
    try:
        return cells.parse_user(text).casefold()
    except cells.CellError:
        return None
