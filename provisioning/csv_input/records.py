"""CSV records of a file's lines, the header's column map, and one record into a ``DesiredRow`` (pure).

``csv_input.lines`` turns bytes into lines before this; ``csv_input.reader`` reads a whole file with these.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from provisioning.core.masking import mask_text
from provisioning.core.models import DesiredRow, MethodKind
from provisioning.core.phones import normalise_phone
from provisioning.csv_input import cells
from provisioning.errors import CellError, InputError, PhoneError

_T = TypeVar("_T")

__all__ = [
    "Column",
    "ColumnMap",
    "Record",
    "is_blank_line",
    "is_comment_line",
    "iter_records",
    "map_columns",
    "parse_record",
    "sep_line_delimiter",
    "sniff_delimiter",
    "user_key",
]

DELIMITERS = (",", ";", "\t", "|")  # in the order that wins a tie when sniffing
_FIELD_LIMIT = csv.field_size_limit()  # the csv module's per-field limit (128 KiB characters)


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
    raises ``InputError``, since everything after it would be one field. So does a quoted field
    that runs over several lines past the csv module's field limit: reading on after it would
    silently drop every row it swallowed.
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
            text = str(exc)
            if "unexpected end of data" in text:
                raise InputError(_never_closed(start)) from exc
            if "field larger than field limit" in text and reader.line_num - consumed > 1:
                spread = f"it runs on over {reader.line_num - consumed:,} lines"
                raise InputError(_never_closed(start, spread)) from exc
            record = Record(start, (), f"line {start}: {_csv_problem(exc)}")
        consumed = reader.line_num
        yield record


def _never_closed(line: int, detail: str = "") -> str:
    extra = f" ({detail})" if detail else ""
    return f'line {line}: a quoted field is never closed{extra}; check the " characters on this line'


def _csv_problem(exc: csv.Error) -> str:
    if "expected after" in str(exc):
        return 'text after a closing quote; a quoted field must end with " (write "" for a quote inside it)'
    if "field larger than field limit" in str(exc):
        return f"a field is longer than {_FIELD_LIMIT:,} characters; no cell of this file can be that long"
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

    def pick(self, fields: Sequence[str]) -> tuple[str, ...]:
        """The record's cells in the known columns, in ``positions`` order ("" where missing)."""
        width = len(fields)
        return tuple(fields[i] if i < width else "" for i in self.positions.values())


def is_blank_line(line: str) -> bool:
    """Whether a physical line holds nothing but spaces, delimiters, quotes and stray byte order
    marks (never a header)."""
    return not line.strip(' \t,;|"\r\n\ufeff')


def is_comment_line(line: str) -> bool:
    """Whether a line before the header is a comment: ``#`` first, as PowerShell's ``#TYPE`` line,
    and no UPN column (a header may well start with a ``#`` column of row numbers).
    """
    return line.lstrip(" \t\ufeff").startswith("#") and not any(
        _header_score(line, delimiter)[0] for delimiter in DELIMITERS
    )


# Excel's "sep=;" first line names the delimiter; a spreadsheet that re-saved it may have quoted
# it or added delimiters after it.
_SEP_LINE = re.compile(r'"?sep=(?P<delimiter>[^"\r\n]?)"?[ \t,;|"]*', re.IGNORECASE)


def sep_line_delimiter(line: str, number: int) -> str | None:
    """The delimiter an Excel ``sep=`` line names, or None when *line* is not one.

    Raises ``InputError`` for a ``sep=`` line naming a delimiter this reader does not split on.
    """
    match = _SEP_LINE.fullmatch(line.rstrip("\r\n").lstrip(" \ufeff"))
    if match is None:
        return None
    delimiter = match["delimiter"]
    if delimiter not in DELIMITERS:
        named = f"names {cells.show(delimiter)} as the delimiter" if delimiter else "names no delimiter"
        msg = f"line {number}: the sep= line {named}; use sep=, sep=; sep=| or a tab, or delete the line"
        raise InputError(msg)
    return delimiter


def sniff_delimiter(header: str) -> str:
    """Comma, semicolon, tab or pipe: whichever makes *header* (the first non-blank line) name a UPN
    column, then the most known columns, then the most fields (comma wins ties). Data is never read.
    """

    return max(DELIMITERS, key=lambda delimiter: _header_score(header, delimiter))


def _header_score(header: str, delimiter: str) -> tuple[bool, int, int]:
    """Whether *header* split on *delimiter* names a UPN column, its known columns, its fields."""
    fields = next(csv.reader([header.rstrip("\r\n")], delimiter=delimiter), [])
    known = [_ALIASES.get(_header_key(field)) for field in fields]
    return Column.UPN in known, sum(k is not None for k in known), len(fields)


def _header_key(name: str) -> str:
    """*name* without case, spaces, "_", "-" or invisible format characters (zero-width, BOM)."""
    visible = "".join(ch for ch in name if unicodedata.category(ch) != "Cf")
    return re.sub(r"[\s_\-]", "", visible).casefold()


def map_columns(fields: Sequence[str], *, line: int = 1) -> ColumnMap:
    """The column map for a header; ``problems`` holds its file errors (no UPN, a column twice).

    Names are matched on the raw text (so a no-break space or zero-width space does not hide a
    column) and shown printable; an unknown name is masked (it may be a phone or email: a data row
    taken for the header), since file errors are logged.
    """
    names = [cells.printable(raw.strip(" \t\ufeff")) for raw in fields]
    found: defaultdict[Column, list[int]] = defaultdict(list)
    for index, raw in enumerate(fields):
        column = _ALIASES.get(_header_key(raw))
        if column is not None:
            found[column].append(index)
    problems = [_doubled(line, [names[i] for i in at], col) for col, at in found.items() if len(at) > 1]
    if Column.UPN not in found:
        problems.append(_no_upn_column(line, fields, names))
    positions = {col: at[0] for col, at in found.items()}
    known = {i for at in found.values() for i in at}
    return ColumnMap(
        positions=positions,
        names={col: names[i] for col, i in positions.items()},
        width=max((i + 1 for i, name in enumerate(names) if name), default=0),
        line=line,
        ignored=tuple(mask_text(name) for i, name in enumerate(names) if name and i not in known),
        problems=tuple(problems),
    )


def _no_upn_column(line: int, fields: Sequence[str], names: Sequence[str]) -> str:
    shown = ", ".join(mask_text(name) for name in names if name) or "nothing"
    if any(_is_user(field) for field in fields):
        return (
            f"line {line}: no header; this line holds a user, not column names (found: {shown}); "
            "add a first line naming the columns, e.g. UPN,Mobile"
        )
    return f"line {line}: no UPN column (found: {shown}); add a UPN or UserPrincipalName column"


def _is_user(field: str) -> bool:
    try:
        cells.parse_user(field)
    except CellError:
        return False
    return True


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
    if (too_wide := width_error(fields, line, columns)) is not None:
        errors.append(too_wide)
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


def width_error(fields: Sequence[str], line: int, columns: ColumnMap) -> str | None:
    """The error of a record with more filled fields than the header names, or None."""
    filled = max((i + 1 for i, f in enumerate(fields) if f.strip()), default=0)
    if filled > columns.width:
        return f"line {line} has {filled} fields, the header has {columns.width}"
    return None


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
    except (CellError, PhoneError) as exc:
        errors.append(f"{columns.name(column)}: {exc}")
        return None


def user_key(fields: Sequence[str], columns: ColumnMap) -> str | None:
    """The record's user as duplicates are found (case-folded), or None if it has no valid user."""
    text = columns.cell(fields, Column.UPN)
    if not text.strip():
        return None
    try:
        return cells.parse_user(text).casefold()
    except CellError:
        return None
