"""Byte chunks of a CSV file into checked physical lines: encoding, decoding, line ends (pure).

Chunk boundaries may fall anywhere (inside a UTF-8 or UTF-16 character, between CR and LF), so
memory stays at about one chunk plus the longest line, whatever the file's size.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator

from provisioning.errors import InputError

__all__ = ["MAX_BYTES_SETTING", "LineReader", "check_size"]

MAX_BYTES_SETTING = "PROVISIONING_MAX_FILE_BYTES"

_HEAD = 8  # bytes enough for every byte order mark and file signature below
# Files admins upload by mistake, named so the error says what was sent instead of a CSV.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "an Excel workbook or another ZIP archive"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
)
# UTF-32 is ruled out first: its LE byte order mark starts with UTF-16 LE's.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SAVE_AS = "save the file as UTF-8 (in Excel: Save As > CSV UTF-8)"
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_EOF_MARK = "\x1a"  # an old DOS end-of-file marker; harmless as the file's last character
# A file's problems, most important first: the whole file is read before one is reported, so the
# answer never depends on where a chunk ends or which problem comes first in the file.
_NUL, _UNDECODABLE, _CONTROL_CHAR = range(3)


def check_size(size: int, max_bytes: int) -> None:
    """Raise ``InputError`` when a file of *size* bytes is empty or bigger than *max_bytes*."""
    if size == 0:
        msg = "the file is empty (0 bytes)"
        raise InputError(msg)
    if size > max_bytes:
        raise _too_big(size, max_bytes)


def _too_big(size: int | None, max_bytes: int) -> InputError:
    """The size limit's error; *size* is None when reading stopped at the limit, size unknown."""
    what = "the file is over" if size is None else f"the file is {size:,} bytes, over"
    msg = f"{what} the limit of {max_bytes:,} bytes; raise {MAX_BYTES_SETTING} or split the file"
    return InputError(msg)


class LineReader:
    """The physical lines of a CSV file given as byte chunks, each with its ending (CRLF, LF or CR).

    Reads UTF-8 with or without BOM and UTF-16 with BOM. Iterating raises ``InputError`` for
    anything else, naming the problem a whole-file read would: after a first problem the rest is
    still read (a NUL byte outranks a decode error, which outranks a control character). Only
    going over *max_bytes* stops at once. ``encoding`` is set once the first bytes are read.
    """

    def __init__(self, chunks: Iterable[bytes], *, max_bytes: int) -> None:
        self._chunks = chunks
        self._max_bytes = max_bytes
        self.encoding = ""

    def __iter__(self) -> Iterator[str]:
        raw = _counted(self._chunks, self._max_bytes)
        head = _head(raw)
        problem = _head_problem(head)
        if problem is not None:
            for _ in raw:  # going over the size limit outranks this problem
                pass
            raise InputError(problem)
        bom, codec = next(((bom, codec) for bom, codec in _BOMS if head.startswith(bom)), (b"", "utf-8"))
        self.encoding = "utf-8-sig" if bom == codecs.BOM_UTF8 else codec
        text = _Text(codec, offset=len(bom), nul_check=not bom)
        yield from text.feed(head[len(bom) :])
        for chunk in raw:
            yield from text.feed(chunk)
        yield from text.finish()


def _counted(chunks: Iterable[bytes], max_bytes: int) -> Iterator[bytes]:
    """*chunks* without empty ones; ``InputError`` as soon as they add up to more than *max_bytes*."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            raise _too_big(None, max_bytes)
        if chunk:
            yield chunk


def _head(raw: Iterator[bytes]) -> bytes:
    head = b""
    for chunk in raw:
        head += chunk
        if len(head) >= _HEAD:
            return head
    if not head:
        msg = "the file is empty (0 bytes)"
        raise InputError(msg)
    return head


def _head_problem(head: bytes) -> str | None:
    kind = next((kind for signature, kind in _SIGNATURES if head.startswith(signature)), None)
    if kind is not None:
        return f"not a text file (it looks like {kind}); {_SAVE_AS}"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return f"the file is UTF-32, which is not supported; {_SAVE_AS}"
    return None


class _Text:
    """Decodes, checks and splits the bytes after the BOM; keeps the first problem of each kind."""

    def __init__(self, codec: str, *, offset: int, nul_check: bool) -> None:
        self._codec = codec
        self._decoder = codecs.getincrementaldecoder(codec)("strict")
        self._offset = offset  # bytes of the file before the next chunk
        self._nul_check = nul_check  # without a BOM, a NUL byte means UTF-16 or a binary file
        self._problems: dict[int, str] = {}
        self._breaks = _Breaks()
        self._lines = _Lines()
        self._held = ""  # a trailing end-of-file marker, until we know whether more text follows

    def feed(self, chunk: bytes) -> list[str]:
        start, self._offset = self._offset, self._offset + len(chunk)
        if self._nul_check and _NUL not in self._problems and (nul := chunk.find(b"\x00")) >= 0:
            where = f"NUL byte at byte offset {start + nul} (UTF-16 needs a byte order mark)"
            self._problems[_NUL] = f"not a text file: {where}; {_SAVE_AS}"
        if _NUL in self._problems or _UNDECODABLE in self._problems:
            return []
        text = self._decode(chunk, start, final=False)
        return [] if text is None else self._checked_lines(text, final=False)

    def finish(self) -> list[str]:
        """The last lines, or ``InputError`` for the most important problem seen."""
        lines: list[str] = []
        if _NUL not in self._problems and _UNDECODABLE not in self._problems:
            text = self._decode(b"", self._offset, final=True)
            lines = [] if text is None else self._checked_lines(text, final=True)
        if self._problems:
            raise InputError(self._problems[min(self._problems)])
        return lines

    def _decode(self, chunk: bytes, start: int, *, final: bool) -> str | None:
        buffered = len(self._decoder.getstate()[0])  # bytes of a character split by the chunk end
        try:
            return self._decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            prefix = exc.object[: exc.start].decode(self._codec, errors="replace")
            line = self._breaks.line_at(prefix, len(prefix))
            label = "UTF-8" if self._codec == "utf-8" else "UTF-16"
            where = f"byte 0x{exc.object[exc.start]:02X} at byte offset {start - buffered + exc.start}"
            self._problems[_UNDECODABLE] = f"line {line}: not {label}: {where} cannot be decoded; {_SAVE_AS}"
            return None

    def _checked_lines(self, raw: str, *, final: bool) -> list[str]:
        held = len(self._held)
        text, self._held = self._held + raw, ""
        if final:
            text = text.removesuffix(_EOF_MARK)
        elif text.endswith(_EOF_MARK):
            text, self._held = text[:-1], _EOF_MARK
        if _CONTROL_CHAR not in self._problems and (bad := _CONTROL.search(text)) is not None:
            line = self._breaks.line_at(raw, max(0, bad.start() - held))
            char = f"U+{ord(bad.group()):04X}"
            self._problems[_CONTROL_CHAR] = f"line {line}: not a text file: control character {char}"
        self._breaks.feed(raw)
        if self._problems:
            return []
        return self._lines.feed(text) + (self._lines.flush() if final else [])


def _break_count(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


class _Breaks:
    """Counts the line breaks (CRLF as one) of the text so far, to name the line of a problem."""

    def __init__(self) -> None:
        self._count = 0
        self._after_cr = False

    def feed(self, text: str) -> None:
        self._count += _break_count(text) - (self._after_cr and text.startswith("\n"))
        if text:
            self._after_cr = text.endswith("\r")

    def line_at(self, text: str, position: int) -> int:
        """The line of ``text[position]``, where *text* is what follows the text so far."""
        before = text[:position]
        return 1 + self._count + _break_count(before) - (self._after_cr and before.startswith("\n"))


class _Lines:
    """Splits text into lines across chunk ends; a CR at the end waits for a possible LF."""

    def __init__(self) -> None:
        self._parts: list[str] = []  # the unfinished line, joined only once a break arrives

    def feed(self, text: str) -> list[str]:
        self._parts.append(text)
        if "\n" not in text and "\r" not in text:
            return []
        pending = "".join(self._parts)
        end = len(pending) - 1 if pending.endswith("\r") else len(pending)
        cut = max(pending.rfind("\n", 0, end), pending.rfind("\r", 0, end)) + 1
        self._parts = [pending[cut:]]
        return _LINE.findall(pending, 0, cut)

    def flush(self) -> list[str]:
        pending, self._parts = "".join(self._parts), []
        return _LINE.findall(pending)
