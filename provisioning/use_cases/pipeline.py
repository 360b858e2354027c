"""The serverless pipeline: fan a job's rows out to the work queue, work a chunk, record poison, sync.

Triggers call these functions and nothing else. Delivery is at least once everywhere, so each step is
idempotent: a job per blob version, a journal of the users' methods before a chunk's first write, and
outcomes that only the first complete attempt records (``storage.jobs.JobStore``); the caller whose
chunk completes a job finishes it (``use_cases.finish_job``).
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Protocol

from provisioning.core.job_records import (
    ChunkMessage,
    JobKind,
    JobRecord,
    MessagePacker,
    RawLayout,
    RawRow,
    decode_work,
    job_id_for_blob,
    may_be_valid,
    split_chunks,
)
from provisioning.core.masking import mask_text
from provisioning.core.models import (
    ALL_KINDS,
    CurrentMethods,
    DesiredRow,
    JobState,
    JobStatus,
    Outcome,
    OutcomeKind,
)
from provisioning.core.sync_rows import SyncSettings
from provisioning.csv_input.reader import ReaderLimits, iter_raw_rows, parse_raw, scan_csv
from provisioning.errors import InputError
from provisioning.graph.client import GraphClient
from provisioning.settings import InputLimits
from provisioning.storage.account import StorageSettings
from provisioning.storage.blobs import BlobStore
from provisioning.storage.jobs import JobStore
from provisioning.use_cases.executor import ChunkExecutor
from provisioning.use_cases.finish_job import JobFinisher

log = logging.getLogger(__name__)


class Services(Protocol):
    """What the pipeline's steps need of the process's wiring (``entrypoints.wiring.Services``)."""

    storage: StorageSettings
    blobs: BlobStore
    jobs: JobStore
    finisher: JobFinisher

    def limits(self) -> InputLimits: ...

    def graph(self) -> GraphClient: ...

    def chunk_executor(self) -> ChunkExecutor: ...

    def sync_settings(self) -> SyncSettings: ...


class BlobClientLike(Protocol):
    """The part of ``azure.storage.blob.BlobClient`` the CSV drop uses (the SDK-type binding)."""

    @property
    def container_name(self) -> str: ...

    @property
    def blob_name(self) -> str: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- fan-out ------------------------------------------------------------------------------------


def fan_out(
    jobs: JobStore,
    finisher: JobFinisher,
    job_id: str,
    rows: Iterable[DesiredRow | RawRow],
    *,
    dry_run: bool,
    layout: RawLayout | None = None,
    rows_total: int | None = None,
    senders: int = 8,
) -> int:
    """Send rows in chunks of up to 20 valid users, several chunks a message; returns the chunk count.

    A chunk is a contiguous window of the input, so the final report, built chunk by chunk, keeps
    the input's line order. Invalid rows ride along in their window's message and the worker records
    them without calling Graph; a window of invalid rows only is recorded at once, never queued.
    Raw rows (a CSV drop's, read by *layout*) are parsed by the worker. Up to *senders* messages are
    sent at once (storage round trips dominate), with at most twice that many waiting, so memory
    stays bounded whatever the file size.
    """
    chunk = 0
    pending: deque[Future[object]] = deque()
    parse = None if layout is None else functools.partial(parse_raw, layout=layout)
    packer = MessagePacker(job_id, dry_run, layout, parse=parse, rows_total=rows_total)
    with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="fan-out") as pool:

        def submit(task: Callable[..., object], *args: object) -> None:
            pending.append(pool.submit(task, *args))
            while len(pending) > 2 * senders:
                pending.popleft().result()

        for window in split_chunks(rows):
            if any(may_be_valid(row) for row in window):
                for text in packer.add(chunk, window):
                    submit(jobs.send_work, text)
            else:
                invalid = [
                    Outcome(row, OutcomeKind.INVALID, error="; ".join(row.errors))
                    for row in window
                    if isinstance(row, DesiredRow)  # all of them: a raw row may be valid
                ]
                submit(finisher.complete_chunk, job_id, chunk, invalid)
            chunk += 1
        for text in packer.flush():
            submit(jobs.send_work, text)
        for future in pending:
            future.result()
    return chunk


def fan_out_blob(client: BlobClientLike, services: Services) -> str:
    """The CSV drop: validate the uploaded file as a stream and fan its rows out; returns the job id.

    The same blob version delivered twice starts no second job; a delivery that died half-way through
    the fan-out is finished by the next one (re-sent chunks are idempotent).
    """
    container, name = client.container_name, client.blob_name
    props = services.blobs.properties(container, name)
    if props is None:
        log.warning("blob %s/%s is gone before it could be read", container, name)
        return ""
    job_id = job_id_for_blob(container, name, props.etag)
    existing = services.jobs.load_job(job_id)
    if existing is not None and existing.chunks is not None:
        log.info("blob %s already made job %s; not starting another", name, job_id)
        if existing.state is JobState.RUNNING:
            # The delivery that fanned it out may have died between recording the chunk count in
            # job.json and in progress.json; without the latter the job could never complete.
            services.finisher.set_chunk_count(job_id, existing.chunks)
        return job_id
    limits = services.limits()
    # Pinned to the ETag the job id was made from: both passes read that version or fail.
    source = services.blobs.open_chunks(container, name, etag=props.etag)
    reader = ReaderLimits(limits.max_file_bytes, limits.max_rows)
    scan = scan_csv(source, name=name, default_region=limits.default_region, limits=reader, size=props.size)
    record = JobRecord(
        job_id,
        JobKind.CSV,
        f"{container}/{name}",
        _now(),
        rows=scan.rows,
        managed=scan.managed,
        etag=props.etag,
    )
    if existing is None:
        services.jobs.create_job(record)
    if not scan.accepted:
        services.finisher.reject(record, scan.file_errors)
        log.warning("job %s: %s rejected: %s", job_id, name, "; ".join(scan.file_errors))
        return job_id
    layout, rows = iter_raw_rows(source, scan, default_region=limits.default_region)
    rows_total = scan.rows if limits.paced_writes else None  # unpaced: no quota share to keep even
    chunks = fan_out(
        services.jobs, services.finisher, job_id, rows, dry_run=False, layout=layout, rows_total=rows_total
    )
    services.finisher.set_chunk_count(job_id, chunks, rows=scan.rows)
    log.info("job %s: %s fanned out, %d rows in %d chunks", job_id, name, scan.rows, chunks)
    return job_id


# --- the worker ---------------------------------------------------------------------------------


def process_chunk_message(text: str, services: Services) -> None:
    """Work one queue message, its chunks side by side; a malformed one is logged and dropped (it can
    never succeed). If a chunk fails the message is delivered again: its finished chunks are only
    marked done again then.
    """
    chunks = _decoded(text, "work")
    if not chunks:
        return
    executor = services.chunk_executor()
    if len(chunks) == 1:
        process_chunk(chunks[0], executor, services.jobs, services.finisher)
        return
    with ThreadPoolExecutor(max_workers=len(chunks), thread_name_prefix="chunk") as pool:
        futures = [pool.submit(process_chunk, c, executor, services.jobs, services.finisher) for c in chunks]
    for future in futures:
        future.result()


def _decoded(text: str, queue: str) -> list[ChunkMessage]:
    """The chunks in *text*, their raw rows parsed; none (logged) when it is malformed: it can never succeed."""
    try:
        work = decode_work(text)
        return [
            ChunkMessage(
                work.job_id, c.chunk, work.dry_run, tuple(_parsed(row, work.layout) for row in c.rows)
            )
            for c in work.chunks
        ]
    except InputError as exc:
        log.warning("dropping a malformed %s message: %s", queue, mask_text(str(exc)))
        return []


def _parsed(row: DesiredRow | RawRow, layout: RawLayout | None) -> DesiredRow:
    if isinstance(row, DesiredRow):
        return row
    assert layout is not None  # decode_work refuses raw rows without a layout
    return parse_raw(row, layout)


def process_chunk(
    message: ChunkMessage, executor: ChunkExecutor, jobs: JobStore, finisher: JobFinisher
) -> bool:
    """Read, journal, plan and apply one chunk, then record its outcomes; True if that finished the job.

    A chunk whose outcomes exist already (a redelivery) is only marked done again. The journal keeps
    the methods the FIRST attempt found, so a retry after a crash reports the whole change and
    undo.csv restores the true previous values.
    """
    job, chunk = message.job_id, message.chunk
    if jobs.chunk_outcomes_exist(job, chunk):
        return finisher.complete_chunk(job, chunk, ())
    reads = executor.read(message.rows)
    journal = ChunkJournal(jobs, job, chunk)
    outcomes = executor.apply(message.rows, reads, dry_run=message.dry_run, journal=journal)
    return finisher.complete_chunk(job, chunk, outcomes)


class ChunkJournal:
    """``Journal`` of one chunk in the job store: the first attempt's record of the users' methods."""

    def __init__(self, jobs: JobStore, job_id: str, chunk: int) -> None:
        self._jobs, self._job_id, self._chunk = jobs, job_id, chunk

    def keep(self, current: Mapping[int, CurrentMethods]) -> Mapping[int, CurrentMethods]:
        if self._jobs.save_journal(self._job_id, self._chunk, current):
            return current
        return self._jobs.load_journal(self._job_id, self._chunk) or current


def record_poisoned_chunk(text: str, services: Services) -> None:
    """A message that failed every delivery: each row of its unfinished chunks becomes `failed`, so the
    job completes."""
    reason = (
        "the worker failed on this chunk on every delivery (moved to the poison queue); some of the row's "
        "changes may have been applied: check the user and run the row again"
    )
    for message in _decoded(text, "poison"):
        if services.jobs.chunk_outcomes_exist(message.job_id, message.chunk):
            services.finisher.complete_chunk(message.job_id, message.chunk, ())
            continue
        outcomes = [Outcome(row, OutcomeKind.FAILED, error=reason) for row in message.rows]
        services.finisher.complete_chunk(message.job_id, message.chunk, outcomes)
        log.error(
            "job %s chunk %d: poisoned; %d rows recorded as failed",
            message.job_id,
            message.chunk,
            len(outcomes),
        )


# --- jobs submitted by the HTTP endpoint and the nightly sync ------------------------------------


class Pipeline:
    """``JobPort`` over the job store: submit rows as a job, read a job's status.

    *taper*: a job's last messages hold fewer chunks (``MessagePacker``); worth it only where writes
    are paced (``InputLimits.paced_writes``).
    """

    def __init__(self, jobs: JobStore, finisher: JobFinisher, *, taper: bool = True) -> None:
        self._jobs = jobs
        self._finisher = finisher
        self._taper = taper

    def submit(self, rows: Sequence[DesiredRow], *, dry_run: bool, source: str) -> str:
        kind = JobKind.SYNC if source == "sync" else JobKind.HTTP
        job_id = str(uuid.uuid4())
        managed = frozenset().union(*(r.managed for r in rows)) if rows else frozenset(ALL_KINDS)
        record = JobRecord(job_id, kind, source, _now(), dry_run=dry_run, rows=len(rows), managed=managed)
        self._jobs.create_job(record)
        total = len(rows) if self._taper else None
        chunks = fan_out(self._jobs, self._finisher, job_id, rows, dry_run=dry_run, rows_total=total)
        self._finisher.set_chunk_count(job_id, chunks, rows=len(rows))
        return job_id

    def status(self, job_id: str) -> JobStatus | None:
        return self._jobs.status(job_id)


def run_nightly_sync(services: Services, *, past_due: bool = False, dry_run: bool | None = None) -> str:
    """The timer: run the directory sync once as a job; returns the job id."""
    from provisioning.graph.directory import DirectoryClient
    from provisioning.use_cases.sync import run_sync

    if past_due:
        log.info("the nightly sync is running late (past due)")
    run = run_sync(
        DirectoryClient(services.graph()),
        Pipeline(services.jobs, services.finisher, taper=services.limits().paced_writes),
        services.blobs,
        container=services.storage.state_container,
        settings=services.sync_settings(),
        default_region=services.limits().default_region,
        dry_run=dry_run,
    )
    return run.job_id
