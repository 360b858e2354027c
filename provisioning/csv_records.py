"""Bytes of a CSV file into records: encodings, line ends and quoting (pure).

The first half of reading a file; ``csv_input`` maps the records to ``DesiredRow`` values.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from provisioning.errors import InputError

MAX_BYTES_SETTING = "PROVISIONING_MAX_FILE_BYTES"


@dataclass(frozen=True)
class Record:
    """One CSV record: the physical line it starts on and its fields, or why it is unreadable."""

    line: int
    fields: tuple[str, ...]
    error: str | None = None

    @property
    def blank(self) -> bool:
        return self.error is None and not any(f.strip() for f in self.fields)


# --- Text: bytes to physical lines ------------------------------------------------------------

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, ""),  # before UTF-16 LE, whose BOM starts the same way
    (codecs.BOM_UTF32_BE, ""),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SAVE_AS = "save the file as UTF-8 (in Excel: Save As > CSV UTF-8)"
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def decode_text(data: bytes, *, max_bytes: int) -> str:
    """The file's text: UTF-8 with or without BOM, or UTF-16 with BOM; ``InputError`` otherwise."""
    if not data:
        msg = "the file is empty (0 bytes)"
        raise InputError(msg)
    if len(data) > max_bytes:
        msg = f"the file is {len(data):,} bytes, over the limit of {max_bytes:,} bytes"
        msg = f"{msg}; raise {MAX_BYTES_SETTING} or split the file"
        raise InputError(msg)
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        msg = f"not a text file (an Excel workbook?); {_SAVE_AS}"
        raise InputError(msg)
    for bom, encoding in _BOMS:
        if data.startswith(bom) and not encoding:
            msg = f"the file is UTF-32, which is not supported; {_SAVE_AS}"
            raise InputError(msg)
        if data.startswith(bom):
            return _checked(_decode(data, encoding, len(bom)))
    nul = data.find(b"\x00")
    if nul >= 0:
        msg = f"not a text file: NUL byte at byte offset {nul} (UTF-16 needs a byte order mark)"
        msg = f"{msg}; {_SAVE_AS}"
        raise InputError(msg)
    return _checked(_decode(data, "utf-8", 0))


def _decode(data: bytes, encoding: str, skip: int) -> str:
    try:
        return data[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        line = _line_of(data[skip:offset].decode(encoding, errors="replace"))
        label = "UTF-8" if encoding == "utf-8" else "UTF-16"
        msg = f"line {line}: not {label}: byte 0x{data[offset]:02X} at byte offset {offset} cannot be decoded"
        msg = f"{msg}; {_SAVE_AS}"
        raise InputError(msg) from exc


def _checked(text: str) -> str:
    text = text.removesuffix("\x1a")  # an old DOS end-of-file marker is harmless
    bad = _CONTROL.search(text)
    if bad is not None:
        char = f"U+{ord(bad.group()):04X}"
        msg = f"line {_line_of(text[: bad.start()])}: not a text file: control character {char}"
        raise InputError(msg)
    return text


def _line_of(prefix: str) -> int:
    """The line number of the character right after *prefix*."""
    return len(split_lines(prefix + "x"))


def split_lines(text: str) -> list[str]:
    """Physical lines with their endings (CRLF, LF or CR), as ``csv.reader`` wants them."""
    return _LINE.findall(text)


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
