"""Job records, progress bitmaps, work messages and chunking as values (pure, no Azurite)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from provisioning.core.job_records import (
    CHUNKS_PER_MESSAGE,
    MESSAGE_TEXT_BUDGET,
    TAPER,
    ChunkMessage,
    JobKind,
    JobRecord,
    MessagePacker,
    Progress,
    RawLayout,
    RawRow,
    WorkChunk,
    WorkMessage,
    decode_message,
    decode_work,
    encode_chunk,
    encode_message,
    encode_work,
    split_chunks,
)
from provisioning.core.models import JobState, MethodKind
from provisioning.errors import InputError
from tests.builders import MOBILE, A, desired

FORBIDDEN = {"httpx", "tenacity", "azure", "os", "time", "logging", "msal", "socket"}


def test_job_records_module_imports_no_io():
    """job_records is part of the functional core: it imports nothing that does I/O."""
    path = Path(__file__).parents[2] / "provisioning" / "core" / "job_records.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))

    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module}
    assert not {name.split(".")[0] for name in names} & FORBIDDEN


def test_job_record_round_trips_through_json():
    """A record read back from its JSON equals the original, managed kinds and counts included."""
    record = JobRecord(
        "job-1",
        JobKind.CSV,
        "provisioning-input/users.csv",
        "2026-01-01T00:00:00+00:00",
        dry_run=True,
        rows=41,
        managed=frozenset({MethodKind.MOBILE, MethodKind.EMAIL}),
        etag='"0x1"',
        chunks=3,
        state=JobState.COMPLETED,
        finished="2026-01-01T00:01:00+00:00",
        outcomes={"changed": 41},
    )

    assert JobRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


def test_a_damaged_job_record_is_a_value_error():
    """A job.json that is not a record raises ValueError naming the file kind."""
    with pytest.raises(ValueError, match=r"job\.json is not a job record"):
        JobRecord.from_json({"id": "x", "kind": "ftp"})


def test_progress_marks_counts_and_completes():
    """Chunks are marked once each; the job is complete when every counted chunk is done."""
    progress = Progress().mark(0).mark(9).mark(9)

    assert (progress.count, progress.is_done(9), progress.is_done(8), progress.complete) == (
        2,
        True,
        False,
        False,
    )
    assert progress.with_chunks(10).complete is False
    assert Progress().mark(0).mark(1).with_chunks(2).complete


def test_progress_is_claimed_once_and_only_when_complete():
    """The first claim on a complete job wins; claims before completion change nothing."""
    incomplete = Progress(chunks=2).mark(0).claimed_by("chunk:0")
    complete = incomplete.mark(1).claimed_by("chunk:1").claimed_by("fanout")

    assert incomplete.finaliser is None
    assert complete.finaliser == "chunk:1"


def test_progress_round_trips_as_a_compact_bitmap():
    """A thousand done chunks take a 125-byte bitmap, base64-encoded."""
    progress = Progress(chunks=1000)
    for chunk in range(1000):
        progress = progress.mark(chunk)

    document = progress.to_json()

    assert len(str(document["done"])) == 168
    assert Progress.from_json(json.loads(json.dumps(document))) == progress


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda: Progress(chunks=3).mark(3), "outside the job's 3 chunks", id="beyond-the-count"),
        pytest.param(lambda: Progress().mark(5).with_chunks(5), "already done", id="count-below-done"),
        pytest.param(lambda: Progress(chunks=4).with_chunks(5), "has 4 chunks, not 5", id="count-changes"),
    ],
)
def test_progress_refuses_contradictions(build, message):
    """Marking past the count, or a count that contradicts the marks, is a ValueError."""
    with pytest.raises(ValueError, match=message):
        build()


def test_messages_round_trip():
    """A work message decodes to the rows it was encoded from."""
    rows = (desired({MOBILE: A}, line=2), desired({}, line=3, user="bob@contoso.test", forced_removal=True))
    message = ChunkMessage("job-1", 7, True, rows)

    assert decode_message(encode_message(message)) == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("{", "not JSON", id="not-json"),
        pytest.param("[]", "expected a JSON object", id="not-an-object"),
        pytest.param(
            '{"job": "j", "chunk": "1", "dryRun": false, "rows": []}', "expected int", id="chunk-text"
        ),
        pytest.param(
            '{"job": "j", "chunk": true, "dryRun": false, "rows": []}', "expected int", id="chunk-bool"
        ),
        pytest.param('{"job": "j", "chunk": -1, "dryRun": false, "rows": []}', "chunks >= 0", id="negative"),
        pytest.param('{"job": "j", "chunk": 1, "rows": []}', "expected bool", id="no-dry-run"),
        pytest.param('{"job": "j", "chunk": 1, "dryRun": false, "rows": [{}]}', r"rows\[0\]", id="bad-row"),
    ],
)
def test_malformed_messages_are_input_errors(text, expected):
    """A message that is not a work message raises InputError saying what is wrong."""
    with pytest.raises(InputError, match=expected):
        decode_message(text)


LAYOUT = RawLayout(("UPN", "Mobile"), ("User", "Cell"), 3, "NL")


def test_a_message_of_several_chunks_and_raw_rows_round_trips():
    """Chunks of raw rows (with the fan-out's errors and duplicate lines) and parsed rows decode as encoded."""
    raw = RawRow(4, ("ann@contoso.test", "06 1234 5678"), ("line 4 has 3 fields, the header has 2",), (4, 9))
    message = WorkMessage(
        "job-1",
        False,
        (
            WorkChunk(0, (raw, desired({MOBILE: A}, line=5))),
            WorkChunk(1, (RawRow(6, ("b@contoso.test", "")),)),
        ),
        LAYOUT,
    )

    assert decode_work(encode_work(message)) == message


def test_a_one_chunk_message_of_an_earlier_version_is_still_read():
    """Messages queued before an upgrade (``{"job", "chunk", "dryRun", "rows"}``) are worked, not dropped."""
    text = '{"job":"j","chunk":3,"dryRun":true,"rows":[{"line":2,"user":"ann@contoso.test"}]}'

    work = decode_work(text)

    assert (work.job_id, work.dry_run, [c.chunk for c in work.chunks]) == ("j", True, [3])
    assert work.chunks[0].rows[0] == desired({}, line=2, user="ann@contoso.test")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '{"job":"j","dryRun":false,"chunks":[{"chunk":0,"rows":[{"line":2,"cells":["a"]}]}]}',
            "without a layout",
            id="raw-without-layout",
        ),
        pytest.param(
            '{"job":"j","dryRun":false,"layout":{"columns":["UPN","Mobile"],"names":["U","M"],"line":1,'
            '"region":null},"chunks":[{"chunk":0,"rows":[{"line":2,"cells":["a"]}]}]}',
            "one per layout column",
            id="cells-short",
        ),
        pytest.param('{"job":"j","dryRun":false,"chunks":[]}', "chunks >= 0", id="no-chunks"),
    ],
)
def test_malformed_multi_chunk_messages_are_input_errors(text, expected):
    """Raw rows need a layout and a cell per column; a message needs a chunk."""
    with pytest.raises(InputError, match=expected):
        decode_work(text)


def test_the_packer_fills_messages_up_to_the_chunk_count_then_the_byte_budget():
    """Ten chunks a message by default; a smaller budget closes messages earlier; none is lost."""
    rows = [desired({MOBILE: A}, line=n, user=f"user{n:05d}@contoso.test") for n in range(2, 2 + 20 * 12)]
    windows = list(split_chunks(rows))

    def pack(budget: int = MESSAGE_TEXT_BUDGET) -> list[WorkMessage]:
        packer = MessagePacker("job", False, budget=budget)
        texts = [t for n, window in enumerate(windows) for t in packer.add(n, window)] + packer.flush()
        return [decode_work(t) for t in texts]

    by_count = pack()
    assert [len(m.chunks) for m in by_count] == [CHUNKS_PER_MESSAGE, 12 - CHUNKS_PER_MESSAGE]
    largest = max(len(encode_chunk(WorkChunk(n, tuple(w))).encode()) for n, w in enumerate(windows))
    by_size = pack(budget=largest * 2 + 2)
    assert [len(m.chunks) for m in by_size] == [2] * 6
    for messages in (by_count, by_size):
        assert [c.chunk for m in messages for c in m.chunks] == list(range(12))
        assert [r for m in messages for c in m.chunks for r in c.rows] == rows


def test_a_raw_chunk_over_the_budget_is_sent_parsed():
    """A raw chunk whose cells alone exceed the budget goes parsed (its long values shown shortened)."""
    huge = RawRow(2, ("ann@contoso.test", "6" * 5000))
    parsed = desired({}, line=2, user="ann@contoso.test", errors=("Cell: not a phone number",))
    packer = MessagePacker("job", False, LAYOUT, parse=lambda row: parsed, budget=1000)

    texts = packer.add(0, [huge]) + packer.flush()

    assert [c.rows for c in decode_work(texts[0]).chunks] == [(parsed,)]


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([], id="empty"),
        pytest.param([desired(line=n) for n in range(21)], id="too-many"),
        pytest.param([RawRow(n, ("u",)) for n in range(21)], id="too-many-raw"),
        pytest.param([desired(line=2, errors=("bad",))], id="invalid-row-only"),
        pytest.param(
            [desired(line=2)] + [desired(line=n, errors=("bad",)) for n in range(3, 24)], id="21-invalid"
        ),
    ],
)
def test_only_one_to_twenty_valid_rows_make_a_chunk(rows):
    """A chunk carries 1 to 20 rows that may be valid (and at most 20 invalid); else a ValueError."""
    with pytest.raises(ValueError, match="1 to 20 valid rows"):
        MessagePacker("job", False).add(0, rows)


def test_chunks_are_windows_in_input_order_with_invalid_rows_riding_along():
    """Windows hold up to *size* valid rows (invalid ones ride along), so chunk order is line order."""
    rows = [desired(line=n, errors=("bad",) if n in {4, 5, 9} else ()) for n in range(2, 12)]

    chunks = [[row.line for row in chunk] for chunk in split_chunks(rows, size=3)]

    assert chunks == [[2, 3, 4, 5, 6], [7, 8, 9, 10], [11]]


def test_a_long_invalid_run_closes_its_window():
    """More than *size* invalid rows in a row start a new window, so no message grows without bound."""
    rows = [desired(line=n, errors=("bad",) if n > 2 else ()) for n in range(2, 10)]

    chunks = [[row.line for row in chunk] for chunk in split_chunks(rows, size=3)]

    assert chunks == [[2, 3, 4, 5], [6, 7, 8], [9]]


def test_near_the_end_of_a_job_messages_taper_to_single_chunks():
    """Given the job's row count, messages hold at most a TAPER-th of the chunks left: full ones first,
    then ever smaller, the last TAPER chunks one a message; every chunk sent once, in order."""
    rows = [desired({MOBILE: A}, line=n, user=f"user{n:05d}@contoso.test") for n in range(2, 2 + 20 * 300)]
    packer = MessagePacker("job", False, rows_total=len(rows))

    texts = [t for n, window in enumerate(split_chunks(rows)) for t in packer.add(n, window)] + packer.flush()
    sizes = [len(decode_work(t).chunks) for t in texts]

    assert sizes[0] == CHUNKS_PER_MESSAGE
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-TAPER:] == [1] * TAPER
    assert [c.chunk for t in texts for c in decode_work(t).chunks] == list(range(300))


def test_a_job_that_fits_in_one_message_is_not_tapered():
    """A job of at most CHUNKS_PER_MESSAGE chunks goes as one message: one instance works its chunks
    side by side (the redelivery e2e test depends on such a message)."""
    rows = [desired({MOBILE: A}, line=n, user=f"user{n:05d}@contoso.test") for n in range(2, 2 + 20 * 3)]
    packer = MessagePacker("job", False, rows_total=len(rows))

    texts = [t for n, window in enumerate(split_chunks(rows)) for t in packer.add(n, window)] + packer.flush()

    assert [len(decode_work(t).chunks) for t in texts] == [3]
