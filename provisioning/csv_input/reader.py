"""Admins' CSV files into ``DesiredRow`` values, read in two streaming passes with bounded memory (pure).

``scan_csv`` reads a file once to judge it (encoding, header, limits, duplicate users);
``iter_rows`` reads it again and yields its rows one by one. ``parse_csv`` does both for bytes in
memory. None of them raises for bad input: file problems land in ``file_errors``, row problems
in each row's ``errors``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from provisioning.core.job_records import RawLayout, RawRow
from provisioning.core.models import DesiredRow, MethodKind
from provisioning.core.phones import check_region
from provisioning.csv_input.lines import MAX_BYTES_SETTING, LineReader, check_size
from provisioning.csv_input.records import (
    Column,
    ColumnMap,
    Record,
    is_blank_line,
    is_comment_line,
    iter_records,
    map_columns,
    parse_record,
    sep_line_delimiter,
    sniff_delimiter,
    user_key,
    width_error,
)
from provisioning.errors import InputError, PhoneError

__all__ = [
    "MAX_BYTES_SETTING",
    "MAX_ROWS_SETTING",
    "REGION_SETTING",
    "CsvScan",
    "CsvSource",
    "ParsedFile",
    "ReaderLimits",
    "hash_user",
    "iter_raw_rows",
    "iter_rows",
    "parse_csv",
    "parse_raw",
    "scan_csv",
]

MAX_ROWS_SETTING = "PROVISIONING_MAX_ROWS"
REGION_SETTING = "PROVISIONING_DEFAULT_REGION"

_CHUNK = 1 << 20  # parse_csv streams bytes held in memory in pieces of this size
_BUCKETS = 64  # pass 1 files user hashes by their top 6 bits, so sorting needs 1/64 of them at once


class CsvSource(Protocol):
    """A file's bytes in chunks of any size, from the start on every call (the reader calls it twice)."""

    def __call__(self) -> Iterable[bytes]: ...


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


@dataclass(frozen=True)
class CsvScan:
    """Pass 1 over a file: the verdict, and what pass 2 needs to read the rows.

    ``rows`` counts the non-blank data rows. ``duplicates`` maps each user (case-folded) that is
    on more than one row to those rows' lines; it grows with the repeated users only.
    """

    name: str
    accepted: bool
    file_errors: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    managed: frozenset[MethodKind] = frozenset()
    rows: int = 0
    encoding: str = ""
    delimiter: str = ","
    columns: ColumnMap | None = None
    duplicates: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    limits: ReaderLimits = ReaderLimits()  # frozen, so one shared default is safe


def hash_user(key: str) -> int:
    """A stable 64-bit hash of a case-folded user (Python's own ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def parse_csv(
    data: bytes,
    *,
    source: str,
    default_region: str | None = None,
    limits: ReaderLimits = ReaderLimits(),  # frozen, so one shared default is safe
) -> ParsedFile:
    """Parse a whole file into one ``DesiredRow`` per non-blank data row; never raises for bad input."""

    def chunks() -> Iterator[bytes]:
        return (data[start : start + _CHUNK] for start in range(0, len(data), _CHUNK))

    scan = scan_csv(chunks, name=source, default_region=default_region, limits=limits, size=len(data))
    rows = tuple(iter_rows(chunks, scan, default_region=default_region)) if scan.accepted else ()
    return ParsedFile(source, scan.accepted, scan.file_errors, scan.warnings, rows, scan.managed)


# --- Pass 1 ------------------------------------------------------------------------------------


def scan_csv(
    source: CsvSource,
    *,
    name: str,
    default_region: str | None,
    limits: ReaderLimits,
    size: int | None = None,
    user_hash: Callable[[str], int] = hash_user,
) -> CsvScan:
    """Pass 1: read *source* once and judge the file; never raises for bad input.

    Given *size* (say, the blob's length), an empty or oversized file is rejected without calling
    *source*. Memory is about 12 bytes per data row: a 64-bit hash of its user (*user_hash*, into
    [0, 2**64)) and its line. Rows whose hashes match are checked against their real users by
    reading *source* again up to the last of them, so a hash collision never makes a duplicate.
    """
    try:
        _setting_region(default_region)
        if size is not None:
            check_size(size, limits.max_bytes)
        return _scan(source, name, limits, user_hash)
    except InputError as exc:
        return _rejected(name, (str(exc),))


def _scan(source: CsvSource, name: str, limits: ReaderLimits, user_hash: Callable[[str], int]) -> CsvScan:
    reader = LineReader(source(), max_bytes=limits.max_bytes)
    lines: Iterator[str] = iter(reader)
    try:
        delimiter, first, lines = _header_onwards(lines)
        records = iter_records(lines, delimiter, first_line=first)
        header = _header(records)
        columns = map_columns(header.fields, line=header.line)
        if columns.problems:
            _drain(lines)
            return _rejected(name, columns.problems)
        rows, users = _tally(records, columns, limits.max_rows, user_hash)
    except InputError:
        _drain(lines)  # a text problem further on outranks this one, as in a whole-file read
        raise
    ignored = f"line {columns.line}: ignoring unknown columns: {', '.join(columns.ignored)}"
    duplicates = _duplicates(source, delimiter, columns, users.suspect_lines(), limits.max_bytes)
    return CsvScan(
        name=name,
        accepted=True,
        file_errors=(),
        warnings=(f"{name}: {ignored}",) if columns.ignored else (),
        managed=columns.managed,
        rows=rows,
        encoding=reader.encoding,
        delimiter=delimiter,
        columns=columns,
        duplicates=duplicates,
        limits=limits,
    )


def _rejected(name: str, problems: Iterable[str]) -> CsvScan:
    return CsvScan(name, False, tuple(f"{name}: {problem}" for problem in problems))


def _setting_region(region: str | None) -> str | None:
    if region is None or not region.strip():
        return None
    try:
        return check_region(region)
    except PhoneError as exc:
        msg = f"{REGION_SETTING}: {exc}"
        raise InputError(msg) from exc


def _drain(lines: Iterator[str]) -> None:
    for _ in lines:
        pass


def _header_onwards(lines: Iterator[str]) -> tuple[str, int, Iterator[str]]:
    """The delimiter, the header's line and the lines from the header on.

    Lines before the header are skipped as lines, never parsed as CSV: blank ones, ``#`` comments
    (PowerShell's ``Export-Csv`` writes a ``#TYPE`` line first) and Excel's ``sep=;`` line, whose
    delimiter wins over the one sniffed from the header.
    """
    named: str | None = None
    preamble = False
    for number, line in enumerate(lines, start=1):
        if is_blank_line(line):
            continue
        if named is None and not preamble and (named := sep_line_delimiter(line, number)) is not None:
            preamble = True
            continue
        if is_comment_line(line):
            preamble = True
            continue
        return named or sniff_delimiter(line), number, itertools.chain([line], lines)
    if preamble:
        msg = "the file has no header line, only blank lines, # comments or a sep= line"
        raise InputError(msg)
    msg = "the file is empty (only blank lines)"
    raise InputError(msg)


def _header(records: Iterator[Record]) -> Record:
    header = next((record for record in records if not record.blank), None)
    if header is None:
        msg = "the file is empty (only blank lines)"
        raise InputError(msg)
    if header.error is not None:
        msg = f"{header.error} (in the header)"
        raise InputError(msg)
    return header


def _tally(
    records: Iterable[Record], columns: ColumnMap, max_rows: int, user_hash: Callable[[str], int]
) -> tuple[int, _Users]:
    rows, users = 0, _Users(user_hash)
    for record in records:
        if record.blank:
            continue
        if rows == max_rows:
            msg = f"line {record.line}: more than {max_rows:,} data rows; raise {MAX_ROWS_SETTING} or split the file"
            raise InputError(msg)
        rows += 1
        key = None if record.error is not None else user_key(record.fields, columns)
        if key is not None:
            users.add(key, record.line)
    if not rows:
        msg = f"line {columns.line}: the file has a header but no data rows"
        raise InputError(msg)
    return rows, users


class _Users:
    """Who is on which line, compactly: each row's user hash and line, in arrays by hash bucket."""

    def __init__(self, user_hash: Callable[[str], int]) -> None:
        self._hash = user_hash
        self._hashes = [array("Q") for _ in range(_BUCKETS)]
        self._lines = [array("I") for _ in range(_BUCKETS)]  # 32 bits: any file under 4 GiB

    def add(self, key: str, line: int) -> None:
        value = self._hash(key)
        bucket = value >> 58  # the top 6 bits of 64
        self._hashes[bucket].append(value)
        self._lines[bucket].append(line)

    def suspect_lines(self) -> set[int]:
        """The lines whose user's hash is on another line too: the same user, or a collision."""
        found: set[int] = set()
        for hashes, lines in zip(self._hashes, self._lines, strict=True):
            repeated = {a for a, b in itertools.pairwise(sorted(hashes)) if a == b}
            if repeated:
                found.update(line for value, line in zip(hashes, lines, strict=True) if value in repeated)
        return found


def _duplicates(
    source: CsvSource, delimiter: str, columns: ColumnMap, suspects: set[int], max_bytes: int
) -> dict[str, tuple[int, ...]]:
    """The users really on more than one of the *suspects* lines, by reading up to the last one."""
    if not suspects:
        return {}
    last = max(suspects)
    groups: defaultdict[str, list[int]] = defaultdict(list)
    for record in _data_records(source, delimiter, columns, max_bytes):
        if record.line > last:
            break
        key = user_key(record.fields, columns) if record.line in suspects else None
        if key is not None:
            groups[key].append(record.line)
    return {key: tuple(lines) for key, lines in groups.items() if len(lines) > 1}


# --- Pass 2 ------------------------------------------------------------------------------------


def iter_rows(source: CsvSource, scan: CsvScan, *, default_region: str | None) -> Iterator[DesiredRow]:
    """Pass 2: one ``DesiredRow`` per non-blank data row of an accepted *scan*, in file order.

    Reads *source* once more and holds one row at a time. A user on several rows gets an error
    on each, naming the other lines. Raises ``ValueError`` for a rejected scan, and
    ``InputError`` only if *source* no longer reads as it did during the scan.
    """
    if not scan.accepted or scan.columns is None:
        msg = f"{scan.name} was rejected by scan_csv; it has no rows to read"
        raise ValueError(msg)
    return _rows(source, scan, scan.columns, _setting_region(default_region))


def _rows(source: CsvSource, scan: CsvScan, columns: ColumnMap, region: str | None) -> Iterator[DesiredRow]:
    column = columns.name(Column.UPN)
    for record in _data_records(source, scan.delimiter, columns, scan.limits.max_bytes):
        if record.blank:
            continue
        if record.error is not None:
            row = DesiredRow(record.line, "", managed=columns.managed, errors=(record.error,))
        else:
            row = parse_record(record.fields, record.line, columns, region)
        same = scan.duplicates.get(row.user.casefold()) if row.user else None
        yield row if same is None else _with_duplicate_error(row, same, column)


def iter_raw_rows(
    source: CsvSource, scan: CsvScan, *, default_region: str | None
) -> tuple[RawLayout, Iterator[DesiredRow | RawRow]]:
    """Pass 2 without the parsing: the rows ``iter_rows`` would yield, as raw cells ``parse_raw`` reads.

    The fan-out of a CSV drop spends most of its CPU parsing cells (phone numbers above all); this
    leaves that to the workers. A record the CSV layer could not read comes parsed (it is an error
    already). Raises as ``iter_rows`` does.
    """
    if not scan.accepted or scan.columns is None:
        msg = f"{scan.name} was rejected by scan_csv; it has no rows to read"
        raise ValueError(msg)
    columns = scan.columns
    layout = RawLayout(
        columns=tuple(column.value for column in columns.positions),
        names=tuple(columns.name(column) for column in columns.positions),
        line=columns.line,
        region=_setting_region(default_region),
    )
    return layout, _raw_rows(source, scan, columns)


def _raw_rows(source: CsvSource, scan: CsvScan, columns: ColumnMap) -> Iterator[DesiredRow | RawRow]:
    duplicates = scan.duplicates
    for record in _data_records(source, scan.delimiter, columns, scan.limits.max_bytes):
        if record.blank:
            continue
        if record.error is not None:
            yield DesiredRow(record.line, "", managed=columns.managed, errors=(record.error,))
            continue
        fields = record.fields
        too_wide = width_error(fields, record.line, columns)
        key = user_key(fields, columns) if duplicates else None
        same = duplicates.get(key, ()) if key is not None else ()
        yield RawRow(record.line, columns.pick(fields), () if too_wide is None else (too_wide,), same)


def parse_raw(row: RawRow, layout: RawLayout) -> DesiredRow:
    """The ``DesiredRow`` ``iter_rows`` would have yielded for the record *row* holds."""
    columns = _layout_columns(layout)
    parsed = parse_record(row.cells, row.line, columns, layout.region)
    if row.errors:
        parsed = dataclasses.replace(parsed, errors=(*row.errors, *parsed.errors))
    return _with_duplicate_error(parsed, row.same, columns.name(Column.UPN)) if row.same else parsed


@functools.lru_cache(maxsize=64)
def _layout_columns(layout: RawLayout) -> ColumnMap:
    """The column map of a layout's cells (a job's messages share one layout)."""
    try:
        order = [Column(name) for name in layout.columns]
    except ValueError as exc:
        msg = f"work message: layout: unknown column ({exc})"
        raise InputError(msg) from exc
    return ColumnMap(
        positions={column: i for i, column in enumerate(order)},
        names=dict(zip(order, layout.names, strict=True)),
        width=len(order),
        line=layout.line,
    )


def _data_records(source: CsvSource, delimiter: str, columns: ColumnMap, max_bytes: int) -> Iterator[Record]:
    """The records after the header, read from the start of *source* again.

    The lines before the header are skipped as lines, as pass 1 did: a quote in a comment line
    must not start a field.
    """
    lines = itertools.islice(LineReader(source(), max_bytes=max_bytes), columns.line - 1, None)
    records = iter_records(lines, delimiter, first_line=columns.line)
    next(records, None)  # the header
    return records


def _with_duplicate_error(row: DesiredRow, lines: tuple[int, ...], column: str) -> DesiredRow:
    others = [str(line) for line in lines if line != row.line]
    if not others:
        return row
    where = f"line {others[0]}" if len(others) == 1 else f"lines {', '.join(others)}"
    error = f"{column}: the same user is also on {where}; keep one row per user"
    return dataclasses.replace(row, errors=(*row.errors, error))
