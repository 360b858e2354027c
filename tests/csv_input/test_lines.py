"""Reading a CSV file as a stream of byte chunks: two passes, chunk ends anywhere, bounded memory (pure)."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioning.core.models import DesiredRow
from provisioning.csv_input.lines import LineReader
from provisioning.csv_input.reader import CsvScan, ReaderLimits, iter_rows, parse_csv, scan_csv
from provisioning.errors import InputError

LIMITS = ReaderLimits()
ANN, BOB = "ann@contoso.com", "bob@contoso.com"


class Source:
    """A re-openable source serving *data* in chunks of *size* bytes; counts how often it is opened."""

    def __init__(self, data: bytes, size: int = 1) -> None:
        self.data = data
        self.size = size
        self.opened = 0

    def __call__(self) -> Iterator[bytes]:
        self.opened += 1
        return (self.data[i : i + self.size] for i in range(0, len(self.data), self.size))


def never_read() -> Iterator[bytes]:
    raise AssertionError("the source was read")


def scan(data: bytes, size: int = 1, **kwargs) -> CsvScan:
    return scan_csv(Source(data, size), name="users.csv", default_region=None, limits=LIMITS, **kwargs)


def streamed(data: bytes, size: int = 1, **kwargs) -> tuple[CsvScan, list[DesiredRow]]:
    source = Source(data, size)
    result = scan_csv(source, name="users.csv", default_region=None, limits=LIMITS, **kwargs)
    rows = list(iter_rows(source, result, default_region=None)) if result.accepted else []
    return result, rows


def lines_of(data: bytes, size: int) -> list[str]:
    return list(LineReader(Source(data, size)(), max_bytes=LIMITS.max_bytes))


# --- Same answer whatever the chunks -----------------------------------------------------------

# Cells of CSV's own characters, non-ASCII ones and users that repeat (in any case).
CELL = st.lists(
    st.sampled_from([*'ab@.x,;"\r\n +31612345678ëé😀\t', ANN, ANN.upper(), "+31 612345678"]), max_size=8
).map("".join)


def _written(rows: list[list[str]], newline: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline, quoting=csv.QUOTE_MINIMAL).writerows(rows)
    return buffer.getvalue()


@settings(deadline=None, max_examples=150)
@given(
    rows=st.lists(st.lists(CELL, min_size=1, max_size=4), max_size=6),
    newline=st.sampled_from(["\r\n", "\n", "\r"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
    size=st.one_of(st.just(1), st.integers(1, 64)),
)
def test_streaming_any_chunk_size_gives_the_rows_of_a_whole_file_read(rows, newline, encoding, size):
    """Whatever the encoding and wherever chunks end, pass 2 yields exactly the whole file's rows."""
    text = _written([["UPN", "Mobile", "Note"], *rows], newline)
    data = text.encode(encoding)
    whole = parse_csv(data, source="users.csv")

    result, rows_streamed = streamed(data, size)

    assert (result.accepted, result.file_errors, result.warnings) == (
        whole.accepted,
        whole.file_errors,
        whole.warnings,
    )
    assert tuple(rows_streamed) == whole.rows
    assert result.rows == len(whole.rows)


@settings(deadline=None, max_examples=150)
@given(data=st.binary(max_size=120), size=st.integers(1, 16))
def test_arbitrary_bytes_in_any_chunks_give_the_whole_file_verdict(data, size):
    """Bad bytes are judged the same in chunks as in one piece (the size is only known at the end)."""
    whole = parse_csv(data, source="users.csv")

    result, rows = streamed(data, size)

    assert (result.accepted, result.file_errors) == (whole.accepted, whole.file_errors)
    assert tuple(rows) == whole.rows


# --- Chunk ends inside line ends and characters ------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 1024])
def test_a_crlf_split_between_chunks_is_one_line_end(size):
    """CR at the end of one chunk and LF at the start of the next make one line end, not two."""
    data = b"UPN\r\nann@contoso.com\r\rbob@contoso.com\r\n"

    assert lines_of(data, size) == ["UPN\r\n", "ann@contoso.com\r", "\r", "bob@contoso.com\r\n"]
    _, rows = streamed(data, size)
    assert [(row.line, row.user) for row in rows] == [(2, ANN), (4, BOB)]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("UPN,Note\nann@contoso.com,zoë 😀\n".encode(), id="utf-8"),
        pytest.param("UPN,Note\nann@contoso.com,zoë 😀\n".encode("utf-16"), id="utf-16-surrogate-pair"),
    ],
)
@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_a_character_split_between_chunks_is_decoded_whole(data, size):
    """A multi-byte UTF-8 character or a UTF-16 surrogate pair split by a chunk end reads intact."""
    assert lines_of(data, size) == ["UPN,Note\n", "ann@contoso.com,zoë 😀\n"]


@pytest.mark.parametrize("size", [1, 3, 14, 4096])
def test_a_decode_error_names_its_byte_offset_and_line_across_chunks(size):
    """A Windows-1252 byte is reported at its offset in the file, not in its chunk."""
    data = "UPN,Mobile\r\nann@contoso.com,\r\nzoë@contoso.com,\r\n".encode("cp1252")

    result = scan(data, size)

    assert result.file_errors == (
        "users.csv: line 3: not UTF-8: byte 0xEB at byte offset 32 cannot be decoded; "
        "save the file as UTF-8 (in Excel: Save As > CSV UTF-8)",
    )


def test_a_nul_byte_after_a_decode_error_still_outranks_it():
    """The whole file is read before a text problem is named, so chunking never changes which one."""
    data = b"UPN\n\xff\n" + b"ann@contoso.com\n" * 10 + b"\x00\n"

    assert scan(data, 3).file_errors == parse_csv(data, source="users.csv").file_errors
    assert "NUL byte at byte offset 166" in scan(data, 3).file_errors[0]


def test_a_dos_end_of_file_marker_split_off_in_its_own_chunk_is_ignored():
    """A final Ctrl-Z is harmless even when it arrives alone; one in the middle is not."""
    assert streamed(b"UPN\nann@contoso.com\n\x1a", 1)[0].accepted
    assert streamed(b"UPN\n\x1aann@contoso.com\n", 1)[0].file_errors == (
        "users.csv: line 2: not a text file: control character U+001A",
    )


# --- Size -----------------------------------------------------------------------------------


def test_a_known_size_over_the_limit_rejects_without_reading():
    """Given the blob's size, an oversized file is rejected before the source is opened."""
    result = scan_csv(
        never_read, name="big.csv", default_region=None, limits=ReaderLimits(max_bytes=10), size=11
    )

    assert result.file_errors == (
        "big.csv: the file is 11 bytes, over the limit of 10 bytes; "
        "raise PROVISIONING_MAX_FILE_BYTES or split the file",
    )


def test_a_known_empty_size_rejects_without_reading():
    """A zero-byte blob is empty without a read."""
    result = scan_csv(never_read, name="e.csv", default_region=None, limits=LIMITS, size=0)

    assert result.file_errors == ("e.csv: the file is empty (0 bytes)",)


def test_an_unknown_size_stops_reading_at_the_limit():
    """Without a size, reading stops as soon as the limit is passed, even on an endless source."""

    def endless() -> Iterator[bytes]:
        yield b"UPN\n"
        while True:
            yield b"ann@contoso.com\n"

    result = scan_csv(endless, name="big.csv", default_region=None, limits=ReaderLimits(max_bytes=1000))

    assert result.file_errors == (
        "big.csv: the file is over the limit of 1,000 bytes; raise PROVISIONING_MAX_FILE_BYTES or split the file",
    )


# --- Duplicates -------------------------------------------------------------------------------


def test_duplicates_far_apart_are_found_and_name_each_other():
    """A user on line 2 and again 5,000 lines later: both rows name the other; others are untouched."""
    users = [f"user{i}@contoso.com" for i in range(5000)]
    text = "UPN\n" + "\n".join([ANN, *users, "Ann@Contoso.COM", *users[:1]]) + "\n"

    result, rows = streamed(text.encode(), size=4096)

    assert result.duplicates == {ANN: (2, 5003), "user0@contoso.com": (3, 5004)}
    errors = {row.line: row.errors for row in rows if row.errors}
    assert errors == {
        2: ("UPN: the same user is also on line 5003; keep one row per user",),
        3: ("UPN: the same user is also on line 5004; keep one row per user",),
        5003: ("UPN: the same user is also on line 2; keep one row per user",),
        5004: ("UPN: the same user is also on line 3; keep one row per user",),
    }


def test_users_whose_hashes_collide_are_not_duplicates():
    """With a hash that maps every user alike, only real repeats (any case) are reported."""
    text = f"UPN\n{ANN}\n{BOB}\ncy@contoso.com\n{ANN.upper()}\n"

    result, rows = streamed(text.encode(), size=5, user_hash=lambda key: 7)

    assert result.duplicates == {ANN: (2, 5)}
    assert [(row.line, row.valid) for row in rows] == [(2, False), (3, True), (4, True), (5, False)]


def test_a_file_without_duplicates_is_read_twice_and_one_with_them_three_times():
    """Checking hash matches against real users costs a third read, only when hashes match."""
    clean, repeated = Source(f"UPN\n{ANN}\n{BOB}\n".encode(), 4), Source(f"UPN\n{ANN}\n{ANN}\n".encode(), 4)

    for source in (clean, repeated):
        result = scan_csv(source, name="u.csv", default_region=None, limits=LIMITS)
        list(iter_rows(source, result, default_region=None))

    assert (clean.opened, repeated.opened) == (2, 3)


# --- The two passes ---------------------------------------------------------------------------


def test_the_scan_reports_counts_encoding_and_delimiter():
    """Pass 1 counts non-blank data rows and records what pass 2 needs."""
    data = codecs.BOM_UTF8 + f"Name;UPN;Mobile\n\n;{ANN};+31 612345678\n;;\nx;{BOB};\n".encode()

    result = scan(data, 3)

    assert (result.accepted, result.rows, result.encoding, result.delimiter) == (True, 2, "utf-8-sig", ";")
    assert result.warnings == ("users.csv: line 1: ignoring unknown columns: Name",)


def test_rows_are_yielded_one_at_a_time_while_the_file_is_read():
    """Pass 2 yields the first row before reading the rest of the file."""
    data = f"UPN\n{ANN}\n{BOB}\n".encode()
    result = scan(data)

    def first_chunk_only() -> Iterator[bytes]:
        yield data[:30]
        raise AssertionError("read past the first chunk")

    assert next(iter_rows(first_chunk_only, result, default_region=None)).user == ANN


def test_many_blank_lines_before_the_header_are_skipped_without_being_kept():
    """A header after more than a megabyte of blank lines still reads right, lines counted; the
    lines before the header are skipped as they stream by, so no third read is needed."""
    source = Source((" , \n" * 300_000 + f"UPN\n{ANN}\n").encode(), 1 << 16)

    result = scan_csv(source, name="u.csv", default_region=None, limits=LIMITS)
    rows = list(iter_rows(source, result, default_region=None))

    assert [(row.line, row.user) for row in rows] == [(300_002, ANN)]
    assert source.opened == 2


def test_reading_rows_of_a_rejected_scan_is_a_programming_error():
    """iter_rows refuses a rejected scan at once, instead of yielding nothing."""
    rejected = scan(b"Name\nAnn\n")

    with pytest.raises(ValueError, match="rejected"):
        iter_rows(never_read, rejected, default_region=None)


def test_a_source_that_changed_between_passes_raises_in_pass_two():
    """If the file is not what the scan saw, pass 2 raises InputError rather than guessing."""
    result = scan(f"UPN\n{ANN}\n".encode())

    with pytest.raises(InputError, match="NUL byte"):
        list(iter_rows(Source(f"UPN\n{ANN}\x00\n".encode()), result, default_region=None))
