"""The pipeline's job records as values: ``job.json``, ``progress.json``, work messages, chunking (pure).

Each value converts to and from the JSON the state container and the work queue hold.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TypeVar

from provisioning.core.models import ALL_KINDS, DesiredRow, JobState, MethodKind
from provisioning.core.serialization import dumps, row_from_json, row_to_json
from provisioning.errors import InputError

# Users per work message: one Graph JSON $batch holds at most 20 requests
# (learn.microsoft.com/graph/json-batching).
CHUNK_ROWS = 20
# Job ids of blob-started jobs are uuid5 names in this namespace; never change it, or a blob delivered
# again after a deployment would start a second job.
JOB_NAMESPACE = uuid.UUID("7d3c1e0a-5f0e-4b8e-9d59-2f6c1a9e4b10")
T = TypeVar("T")


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
class ChunkMessage:
    """One work message: up to ``CHUNK_ROWS`` valid rows of a job, to apply (or plan) together."""

    job_id: str
    chunk: int
    dry_run: bool
    rows: tuple[DesiredRow, ...]


def encode_message(message: ChunkMessage) -> str:
    """The message as compact JSON: ``{"job", "chunk", "dryRun", "rows"}``."""
    return dumps(
        {
            "job": message.job_id,
            "chunk": message.chunk,
            "dryRun": message.dry_run,
            "rows": [row_to_json(row) for row in message.rows],
        }
    )


def decode_message(text: str) -> ChunkMessage:
    """The message in *text*; raises ``InputError`` naming what is wrong with it."""
    try:
        data: object = json.loads(text)
    except ValueError as exc:
        msg = f"work message: not JSON ({exc})"
        raise InputError(msg) from exc
    try:
        obj = _object(data)
        job, chunk = _typed(obj.get("job"), str), _typed(obj.get("chunk"), int)
        dry_run, rows = _typed(obj.get("dryRun"), bool), _typed(obj.get("rows"), list)
    except TypeError as exc:
        msg = f"work message: {exc} (fields: job, chunk, dryRun, rows)"
        raise InputError(msg) from exc
    if not job or chunk < 0:
        msg = f"work message: job {job!r}, chunk {chunk}: expected a job id and a chunk number >= 0"
        raise InputError(msg)
    parsed = tuple(row_from_json(row, f"rows[{i}]") for i, row in enumerate(rows))
    return ChunkMessage(job, chunk, dry_run, parsed)


def split_chunks(rows: Iterable[DesiredRow], *, size: int = CHUNK_ROWS) -> Iterator[list[DesiredRow]]:
    """Consecutive windows of *rows* with at most *size* valid and *size* invalid rows each.

    Numbering the windows in order keeps the report in input order: a job's report is its chunks'
    outcomes in chunk order. Invalid rows ride along in their window's message (the worker records
    them without Graph); a window with no valid row never reaches the queue
    (``JobStore.record_outcomes_without_queue``). Queue messages stay at one per *size* valid rows.
    """
    window: list[DesiredRow] = []
    valid = invalid = 0
    for row in rows:
        if (row.valid and valid == size) or (not row.valid and invalid == size):
            yield window
            window, valid, invalid = [], 0, 0
        window.append(row)
        valid, invalid = valid + row.valid, invalid + (not row.valid)
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
