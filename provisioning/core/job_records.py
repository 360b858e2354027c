"""The pipeline's job records as values: ``job.json``, ``progress.json``, work messages, chunking (pure).

Each value converts to and from the JSON the state container and the work queue hold.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TypeVar

from provisioning.core.models import ALL_KINDS, DesiredRow, JobState, MethodKind
from provisioning.core.serialization import dumps, row_from_json, row_to_json
from provisioning.errors import InputError

# Users per work message: one Graph JSON $batch holds at most 20 requests
# (learn.microsoft.com/graph/json-batching).
CHUNK_ROWS = 20
# Chunks per work message at most, and the text a message may hold before base64 (the queue takes
# 64 KiB of base64, learn.microsoft.com/rest/api/storageservices/put-message). A send costs the fan-out
# ~3 ms of CPU (the SDK's pipeline, signing, requests), so ten chunks a message cut its sends tenfold;
# the worker applies a message's chunks side by side, and host.json's batch is sized to match.
CHUNKS_PER_MESSAGE = 10
MESSAGE_TEXT_BUDGET = 40 * 1024
# Near the end of a job of more than one message, a message holds at most a TAPER-th of the chunks left
# (``MessagePacker``): about the messages a few instances hold at once (host.json lets one hold 3), so
# they run dry together instead of one finishing a 10-chunk message while the others wait. Only where
# writes are paced: an instance idle at the end still holds its share of the quota until its heartbeat
# expires (storage/presence.py); unpaced, nothing is held and one instance runs more chunks at once
# in 10-chunk messages (bench: 75x the old script against 50x tapered, 2,000 rows).
TAPER = 12
# Job ids of blob-started jobs are uuid5 names in this namespace; never change it, or a blob delivered
# again after a deployment would start a second job.
JOB_NAMESPACE = uuid.UUID("7d3c1e0a-5f0e-4b8e-9d59-2f6c1a9e4b10")
T = TypeVar("T")
R = TypeVar("R", bound="DesiredRow | RawRow")


class JobKind(StrEnum):
    """Where a job's rows came from."""

    CSV = "csv"
    HTTP = "http"
    SYNC = "sync"


def job_id_for_blob(container: str, name: str, etag: str) -> str:
    """The job id of one version of an input blob: the same blob delivered twice maps to one job."""
    version = etag.strip().removeprefix("W/").strip('"')
    return str(uuid.uuid5(JOB_NAMESPACE, f"{container}/{name}\n{version}"))


def job_blob(job_id: str) -> str:
    """``job.json`` in the state container."""
    return f"jobs/{job_id}/job.json"


def progress_blob(job_id: str) -> str:
    """``progress.json`` in the state container."""
    return f"jobs/{job_id}/progress.json"


def outcomes_blob(job_id: str, chunk: int) -> str:
    """A chunk's outcomes in the state container."""
    return f"jobs/{job_id}/chunks/{chunk:06d}.json"


def journal_blob(job_id: str, chunk: int) -> str:
    """A chunk's journal (the users' methods before its first write) in the state container."""
    return f"jobs/{job_id}/chunks/{chunk:06d}.journal.json"


def report_blob(job_id: str, name: str) -> str:
    """A report file (``report.csv``, ``summary.json``, ``undo.csv``) in the report container."""
    return f"{job_id}/{name}"


@dataclass(frozen=True)
class JobRecord:
    """``job.json``: what a job is and where it stands; ``chunks`` is None until the fan-out ends."""

    job_id: str
    kind: JobKind
    source: str
    started: str
    dry_run: bool = False
    rows: int = 0
    managed: frozenset[MethodKind] = frozenset(ALL_KINDS)
    etag: str | None = None  # the input blob's ETag, for csv jobs
    chunks: int | None = None
    state: JobState = JobState.RUNNING
    finished: str | None = None
    outcomes: Mapping[str, int] = field(default_factory=dict)  # counts per outcome, once completed

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.job_id,
            "kind": self.kind.value,
            "source": self.source,
            "etag": self.etag,
            "started": self.started,
            "dryRun": self.dry_run,
            "rows": self.rows,
            "chunks": self.chunks,
            "managed": [kind.value for kind in ALL_KINDS if kind in self.managed],
            "state": self.state.value,
            "finished": self.finished,
            "outcomes": dict(self.outcomes),
        }

    @classmethod
    def from_json(cls, data: object) -> JobRecord:
        """The record in *data*; raises ``ValueError`` when the stored document is not one."""
        try:
            obj = _object(data)
            return cls(
                job_id=_typed(obj["id"], str),
                kind=JobKind(_typed(obj["kind"], str)),
                source=_typed(obj["source"], str),
                started=_typed(obj["started"], str),
                dry_run=_typed(obj["dryRun"], bool),
                rows=_typed(obj["rows"], int),
                managed=frozenset(MethodKind(k) for k in _typed(obj["managed"], list)),
                etag=_optional(obj.get("etag"), str),
                chunks=_optional(obj.get("chunks"), int),
                state=JobState(_typed(obj["state"], str)),
                finished=_optional(obj.get("finished"), str),
                outcomes={str(k): _typed(v, int) for k, v in _object(obj.get("outcomes", {})).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"job.json is not a job record: {exc!r}"
            raise ValueError(msg) from exc


ChunkTally = tuple[int, int]  # a done chunk's rows and the writes Graph accepted for them


@dataclass(frozen=True)
class Progress:
    """``progress.json``: which chunks are done (a bitmap), how many there are, who finalises.

    ``finaliser`` names the completion that found the job complete first (``chunk:N`` or
    ``fanout``); only that caller, or a redelivery of it, writes the reports.
    """

    done: bytes = b""  # bit n (byte n // 8, bit n % 8) set when chunk n is done
    chunks: int | None = None
    finaliser: str | None = None
    rows_done: int = 0  # rows of the done chunks, and the writes Graph accepted for them
    writes_done: int = 0

    def is_done(self, chunk: int) -> bool:
        byte = chunk // 8
        return byte < len(self.done) and bool(self.done[byte] >> (chunk % 8) & 1)

    @property
    def count(self) -> int:
        return int.from_bytes(self.done, "little").bit_count()

    @property
    def complete(self) -> bool:
        return self.chunks is not None and self.count == self.chunks

    def mark(self, chunk: int, tally: ChunkTally = (0, 0)) -> Progress:
        """This progress with *chunk* done, its *tally* (rows, writes applied) added once; raises
        ``ValueError`` for a chunk beyond the count."""
        if chunk < 0 or (self.chunks is not None and chunk >= self.chunks):
            msg = f"chunk {chunk} is outside the job's {self.chunks} chunks"
            raise ValueError(msg)
        if self.is_done(chunk):
            return self
        done = bytearray(self.done.ljust(chunk // 8 + 1, b"\0"))
        done[chunk // 8] |= 1 << (chunk % 8)
        rows, writes = tally
        return replace(
            self, done=bytes(done), rows_done=self.rows_done + rows, writes_done=self.writes_done + writes
        )

    def with_chunks(self, chunks: int) -> Progress:
        """This progress with the chunk count known; raises ``ValueError`` if it contradicts it."""
        if self.chunks not in (None, chunks) or chunks < 0:
            msg = f"the job has {self.chunks} chunks, not {chunks}"
            raise ValueError(msg)
        if int.from_bytes(self.done, "little") >> chunks:
            msg = f"chunks at or beyond {chunks} are already done"
            raise ValueError(msg)
        return replace(self, chunks=chunks)

    def claimed_by(self, token: str) -> Progress:
        """This progress with *token* as the finaliser, if it is complete and nobody claimed it yet."""
        if self.complete and self.finaliser is None:
            return replace(self, finaliser=token)
        return self

    def to_json(self) -> dict[str, object]:
        return {
            "chunks": self.chunks,
            "count": self.count,  # for people reading the blob; the bitmap is the truth
            "done": base64.b64encode(self.done).decode("ascii"),
            "finaliser": self.finaliser,
            "rows": self.rows_done,
            "writes": self.writes_done,
        }

    @classmethod
    def from_json(cls, data: object) -> Progress:
        """The progress in *data*; raises ``ValueError`` when the stored document is not one."""
        try:
            obj = _object(data)
            done = base64.b64decode(_typed(obj["done"], str), validate=True)
            return cls(
                done,
                _optional(obj.get("chunks"), int),
                _optional(obj.get("finaliser"), str),
                _optional(obj.get("rows"), int) or 0,  # absent in records written before the tallies
                _optional(obj.get("writes"), int) or 0,
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            msg = f"progress.json is not a progress record: {exc!r}"
            raise ValueError(msg) from exc


@dataclass(frozen=True)
class RawRow:
    """A CSV data row as the fan-out read it: the cells of the file's known columns, not yet parsed.

    Parsing (phone numbers above all) is most of the CPU a fan-out would spend on a row, so the CSV
    drop leaves it to the workers, which run many at once. *errors* are what the fan-out found (a row
    wider than the header), *same* the other lines naming the same user.
    """

    line: int
    cells: tuple[str, ...]
    errors: tuple[str, ...] = ()
    same: tuple[int, ...] = ()


def may_be_valid(row: DesiredRow | RawRow) -> bool:
    """Whether *row* may need Graph: a parsed row without errors, or any raw one (parsed later)."""
    return isinstance(row, RawRow) or row.valid


@dataclass(frozen=True)
class RawLayout:
    """How a message's raw rows read: the column of each cell (canonical and as the header wrote it),
    the header's line and the default region in force when the file was fanned out."""

    columns: tuple[str, ...]
    names: tuple[str, ...]
    line: int
    region: str | None


@dataclass(frozen=True)
class ChunkMessage:
    """One chunk of a job: up to ``CHUNK_ROWS`` valid rows, to apply (or plan) together."""

    job_id: str
    chunk: int
    dry_run: bool
    rows: tuple[DesiredRow, ...]


@dataclass(frozen=True)
class WorkChunk:
    """One chunk as a work message carries it: parsed rows, or raw rows its message's layout reads."""

    chunk: int
    rows: tuple[DesiredRow | RawRow, ...]


@dataclass(frozen=True)
class WorkMessage:
    """One work message: consecutive chunks of a job (one to ``CHUNKS_PER_MESSAGE``)."""

    job_id: str
    dry_run: bool
    chunks: tuple[WorkChunk, ...]
    layout: RawLayout | None = None


def encode_work(message: WorkMessage) -> str:
    """The message as compact JSON: ``{"job", "dryRun", "layout"?, "chunks": [{"chunk", "rows"}]}``."""
    texts = [encode_chunk(chunk) for chunk in message.chunks]
    return _assemble(message.job_id, message.dry_run, message.layout, texts)


def encode_chunk(chunk: WorkChunk) -> str:
    """One chunk's JSON text, as ``encode_work`` puts it in a message."""
    return dumps({"chunk": chunk.chunk, "rows": [_row_json(row) for row in chunk.rows]})


def _assemble(job_id: str, dry_run: bool, layout: RawLayout | None, chunk_texts: Iterable[str]) -> str:
    head: dict[str, object] = {"job": job_id, "dryRun": dry_run}
    if layout is not None:
        head["layout"] = {
            "columns": list(layout.columns),
            "names": list(layout.names),
            "line": layout.line,
            "region": layout.region,
        }
    return f'{dumps(head)[:-1]},"chunks":[{",".join(chunk_texts)}]}}'


class MessagePacker:
    """Packs a job's consecutive chunks into work messages: up to *per_message* chunks and *budget*
    bytes of text each (a chunk over the budget on its own goes alone: ``WorkQueue.send`` judges it).

    *parse* turns a chunk's raw rows into parsed ones when its raw text alone is over the budget
    (a cell far longer than any valid value; the parsed form shows such values shortened).
    """

    def __init__(
        self,
        job_id: str,
        dry_run: bool,
        layout: RawLayout | None = None,
        *,
        parse: Callable[[RawRow], DesiredRow] | None = None,
        per_message: int = CHUNKS_PER_MESSAGE,
        budget: int = MESSAGE_TEXT_BUDGET,
        rows_total: int | None = None,
    ) -> None:
        self._job_id, self._dry_run, self._layout, self._parse = job_id, dry_run, layout, parse
        self._per_message, self._budget = per_message, budget
        # a job that fits in one message is not tapered: one instance works its chunks side by side
        small = rows_total is None or _chunks_for(rows_total) <= per_message
        self._rows_left = None if small else rows_total
        self._texts: list[str] = []
        self._size = 0

    def add(self, chunk: int, rows: Sequence[DesiredRow | RawRow]) -> list[str]:
        """Take one chunk; returns the messages it completed (none or one).

        Raises ``ValueError`` unless the chunk has 1 to ``CHUNK_ROWS`` rows that may be valid (raw
        ones count) and at most ``CHUNK_ROWS`` invalid ones.
        """
        valid = sum(1 for row in rows if may_be_valid(row))
        if not 0 < valid <= CHUNK_ROWS or len(rows) - valid > CHUNK_ROWS:
            msg = (
                f"chunk {chunk}: a work message carries 1 to {CHUNK_ROWS} valid rows and at most "
                f"{CHUNK_ROWS} invalid ones, got {valid} and {len(rows) - valid}"
            )
            raise ValueError(msg)
        text = encode_chunk(WorkChunk(chunk, tuple(rows)))
        size = len(text.encode("utf-8"))
        if size > self._budget and self._parse is not None and any(isinstance(r, RawRow) for r in rows):
            parse = self._parse
            parsed = tuple(parse(r) if isinstance(r, RawRow) else r for r in rows)
            text = encode_chunk(WorkChunk(chunk, parsed))
            size = len(text.encode("utf-8"))
        done = self.flush() if self._texts and self._size + size + 1 > self._budget else []
        self._texts.append(text)
        self._size += size + 1
        if self._rows_left is not None:
            self._rows_left -= len(rows)
        if len(self._texts) >= self._limit():
            done += self.flush()
        return done

    def _limit(self) -> int:
        """Chunks for the message being filled: ``per_message``, and near the end of a tapered job a
        ``TAPER``-th of the chunks left (the last ``TAPER`` chunks one a message)."""
        if self._rows_left is None:
            return self._per_message
        return max(1, min(self._per_message, _chunks_for(self._rows_left) // TAPER))

    def flush(self) -> list[str]:
        """The message of the chunks taken since the last one, if any."""
        if not self._texts:
            return []
        text = _assemble(self._job_id, self._dry_run, self._layout, self._texts)
        self._texts, self._size = [], 0
        return [text]


def _chunks_for(rows: int) -> int:
    """The chunks *rows* rows take at least (``CHUNK_ROWS`` a chunk; none for none or fewer)."""
    return -(-max(rows, 0) // CHUNK_ROWS)


def _row_json(row: DesiredRow | RawRow) -> dict[str, object]:
    if isinstance(row, DesiredRow):
        return row_to_json(row)
    raw: dict[str, object] = {"line": row.line, "cells": list(row.cells)}
    if row.errors:
        raw["errors"] = list(row.errors)
    if row.same:
        raw["same"] = list(row.same)
    return raw


def encode_message(message: ChunkMessage) -> str:
    """A one-chunk work message of parsed rows."""
    chunk = WorkChunk(message.chunk, message.rows)
    return encode_work(WorkMessage(message.job_id, message.dry_run, (chunk,)))


def decode_work(text: str) -> WorkMessage:
    """The message in *text*; raises ``InputError`` naming what is wrong with it.

    Reads the one-chunk shape (``{"job", "chunk", "dryRun", "rows"}``) of messages queued by
    earlier versions too.
    """
    try:
        data: object = json.loads(text)
    except ValueError as exc:
        msg = f"work message: not JSON ({exc})"
        raise InputError(msg) from exc
    try:
        obj = _object(data)
        job, dry_run = _typed(obj.get("job"), str), _typed(obj.get("dryRun"), bool)
        listed = [obj] if "chunks" not in obj else [_object(c) for c in _typed(obj["chunks"], list)]
        layout = None if obj.get("layout") is None else _layout(_object(obj["layout"]))
        spans = [(_typed(c.get("chunk"), int), _typed(c.get("rows"), list)) for c in listed]
    except TypeError as exc:
        msg = f"work message: {exc} (fields: job, dryRun, chunks of chunk and rows, layout)"
        raise InputError(msg) from exc
    if not job or not spans or any(number < 0 for number, _ in spans):
        msg = f"work message: job {job!r}, chunks {[n for n, _ in spans]}: expected a job id and chunks >= 0"
        raise InputError(msg)
    chunks = tuple(
        WorkChunk(
            number, tuple(_row_from(row, f"chunk {number}: rows[{i}]", layout) for i, row in enumerate(rows))
        )
        for number, rows in spans
    )
    return WorkMessage(job, dry_run, chunks, layout)


def decode_message(text: str) -> ChunkMessage:
    """The one chunk of parsed rows in *text*; raises ``InputError`` for any other message."""
    work = decode_work(text)
    rows = work.chunks[0].rows if len(work.chunks) == 1 else ()
    parsed = tuple(row for row in rows if isinstance(row, DesiredRow))
    if len(work.chunks) != 1 or len(parsed) != len(rows):
        msg = "work message: expected one chunk of parsed rows"
        raise InputError(msg)
    return ChunkMessage(work.job_id, work.chunks[0].chunk, work.dry_run, parsed)


def _layout(obj: dict[str, object]) -> RawLayout:
    columns = tuple(_typed(c, str) for c in _typed(obj.get("columns"), list))
    names = tuple(_typed(n, str) for n in _typed(obj.get("names"), list))
    if len(names) != len(columns):
        msg = f"layout: {len(columns)} columns but {len(names)} names"
        raise TypeError(msg)
    return RawLayout(columns, names, _typed(obj.get("line"), int), _optional(obj.get("region"), str))


def _row_from(data: object, path: str, layout: RawLayout | None) -> DesiredRow | RawRow:
    if not isinstance(data, dict) or "cells" not in data:
        return row_from_json(data, path)
    if layout is None:
        msg = f"work message: {path}: a raw row in a message without a layout"
        raise InputError(msg)
    try:
        cells = tuple(_typed(c, str) for c in _typed(data["cells"], list))
        errors = tuple(_typed(e, str) for e in _typed(data.get("errors", []), list))
        same = tuple(_typed(n, int) for n in _typed(data.get("same", []), list))
        raw = RawRow(_typed(data.get("line"), int), cells, errors, same)
    except TypeError as exc:
        msg = f"work message: {path}: {exc}"
        raise InputError(msg) from exc
    if len(cells) != len(layout.columns) or set(data) - {"line", "cells", "errors", "same"}:
        msg = f"work message: {path}: expected line, cells (one per layout column), errors, same"
        raise InputError(msg)
    return raw


def split_chunks(rows: Iterable[R], *, size: int = CHUNK_ROWS) -> Iterator[list[R]]:
    """Consecutive windows of *rows* with at most *size* valid and *size* invalid rows each (a raw
    row counts as valid: it is parsed later).

    Numbering the windows in order keeps the report in input order: a job's report is its chunks'
    outcomes in chunk order. Invalid rows ride along in their window's message (the worker records
    them without Graph); a window with no valid row never reaches the queue
    (``JobStore.record_outcomes_without_queue``).
    """
    window: list[R] = []
    valid = invalid = 0
    for row in rows:
        ok = may_be_valid(row)
        if (ok and valid == size) or (not ok and invalid == size):
            yield window
            window, valid, invalid = [], 0, 0
        window.append(row)
        valid, invalid = valid + ok, invalid + (not ok)
    if window:
        yield window


def _object(data: object) -> dict[str, object]:
    if not isinstance(data, dict):
        msg = "expected a JSON object"
        raise TypeError(msg)
    return data


def _typed(value: object, kind: type[T]) -> T:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        msg = f"expected {kind.__name__}, got {value!r}"
        raise TypeError(msg)
    return value


def _optional(value: object, kind: type[T]) -> T | None:
    return None if value is None else _typed(value, kind)
