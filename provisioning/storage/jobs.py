"""Job bookkeeping over Azure Storage: job records, the work queue, chunk journals and outcomes, progress.

State container, under ``jobs/{job_id}/``: ``job.json`` (``JobRecord``), ``progress.json``
(``Progress``: a bitmap of done chunks, updated with ETag concurrency), ``chunks/{n:06d}.journal.json``
(the users' methods before the chunk's first write) and ``chunks/{n:06d}.json`` (its outcomes). Both
chunk blobs are written only if absent, so a redelivered message never changes what the first
complete attempt recorded. Finishing a job (its reports) is ``use_cases.finish_job``'s.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

from provisioning.core.job_records import (
    ChunkTally,
    JobRecord,
    Progress,
    job_blob,
    journal_blob,
    outcomes_blob,
    progress_blob,
    report_blob,
)
from provisioning.core.models import CurrentMethods, JobState, JobStatus, Outcome
from provisioning.core.serialization import current_from_json, current_to_json, outcome_to_json
from provisioning.core.summary import writes_applied
from provisioning.errors import InputError
from provisioning.storage.account import StorageSettings
from provisioning.storage.blobs import BlobStore
from provisioning.storage.group_commit import GroupCommit
from provisioning.storage.report_blobs import REPORT_CSV, SUMMARY_JSON, UNDO_CSV
from provisioning.storage.work_queue import WorkQueue

__all__ = ["JobStore"]

FANOUT = "fanout"  # the finaliser token of set_chunk_count; chunk completions use "chunk:N"
MAX_UPDATE_ATTEMPTS = 200  # ETag races on progress.json; each retry backs off with jitter
T = TypeVar("T")


class JobStore:
    """The primitives a pipeline job is built from; safe to share between threads and processes.

    Every chunk completion costs O(1) storage calls: its outcomes, then one read and one conditional
    write of ``progress.json``, repeated only when another process won the race (threads of one
    process share their writes, ``group_commit``). The write that finds every chunk done claims the
    job's end for its caller (``complete_chunk`` and ``set_chunk_count`` return True), so exactly one
    caller finishes the job (a redelivery of its message claims it again, and finishing is idempotent).
    """

    def __init__(
        self,
        blobs: BlobStore,
        settings: StorageSettings,
        queue: WorkQueue,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._blobs = blobs
        self._settings = settings
        self._queue = queue
        self._sleep = sleep
        self._marks = GroupCommit(self._mark_chunks)

    # --- job.json ---------------------------------------------------------------------------------

    def create_job(self, record: JobRecord) -> bool:
        """Record a new job; False when it exists (the same blob delivered twice starts no second job)."""
        return self._blobs.put_json(
            self._state, job_blob(record.job_id), record.to_json(), if_none_match=True
        )

    def load_job(self, job_id: str) -> JobRecord | None:
        """The job's record, or None when there is no such job."""
        found = self._blobs.get_json(self._state, job_blob(job_id))
        return None if found is None else JobRecord.from_json(found[0])

    def set_chunk_count(self, job_id: str, chunks: int, *, rows: int | None = None) -> bool:
        """End of the fan-out: record the chunk count (and the row count, when only now known).

        True when every chunk is already done: this call claimed the job's end, and its caller finishes it.
        """
        self._update_job(job_id, lambda r: replace(r, chunks=chunks, rows=r.rows if rows is None else rows))
        progress = self._update_progress(job_id, lambda p: p.with_chunks(chunks).claimed_by(FANOUT))
        return progress.finaliser == FANOUT

    # --- the work queue ----------------------------------------------------------------------------

    def send_work(self, text: str) -> None:
        """Send one work message (``MessagePacker``'s text); ``ValueError`` if over the queue's 64 KiB."""
        self._queue.send(text)

    # --- chunks ------------------------------------------------------------------------------------

    def save_journal(self, job_id: str, chunk: int, current: Mapping[int, CurrentMethods]) -> bool:
        """Record the users' methods (by input line) as read before the chunk's first write.

        Written only if absent: False means an earlier attempt recorded the true "before" already.
        """
        value = {str(line): current_to_json(methods) for line, methods in current.items()}
        return self._blobs.put_json(self._state, journal_blob(job_id, chunk), value, if_none_match=True)

    def load_journal(self, job_id: str, chunk: int) -> dict[int, CurrentMethods] | None:
        """The chunk's journal by input line, or None when no attempt wrote one."""
        found = self._blobs.get_json(self._state, journal_blob(job_id, chunk))
        if found is None:
            return None
        if not isinstance(found[0], dict):
            msg = f"{journal_blob(job_id, chunk)}: expected a JSON object"
            raise InputError(msg)
        return {int(line): current_from_json(value, f"journal[{line}]") for line, value in found[0].items()}

    def chunk_outcomes_exist(self, job_id: str, chunk: int) -> bool:
        """Whether an attempt has recorded the chunk's outcomes (a redelivered message can stop here)."""
        return self._blobs.exists(self._state, outcomes_blob(job_id, chunk))

    def complete_chunk(self, job_id: str, chunk: int, outcomes: Sequence[Outcome]) -> bool:
        """Save the chunk's outcomes if absent and mark it done.

        True when this call's mark found every chunk done: it claimed the job's end, and its caller
        finishes the job. A redelivery of the claiming chunk claims it again (the first attempt may
        have died while finishing); finishing a job that is no longer running does nothing.
        """
        value = [outcome_to_json(outcome) for outcome in outcomes]
        self._blobs.put_json(self._state, outcomes_blob(job_id, chunk), value, if_none_match=True)
        token = f"chunk:{chunk}"
        tally = (len(outcomes), writes_applied(outcomes))
        return self._marks.mark(job_id, chunk, token, tally).finaliser == token

    def progress(self, job_id: str) -> Progress:
        """The job's ``progress.json`` (empty when none was written yet)."""
        return self._load_progress(job_id)

    # --- the end of a job -------------------------------------------------------------------------

    def mark_completed(self, job_id: str, finished: str, outcomes: Mapping[str, int]) -> bool:
        """Record the job as completed with its outcome counts; False when it was no longer running."""

        def complete(r: JobRecord) -> JobRecord:
            if r.state is not JobState.RUNNING:
                return r
            return replace(r, state=JobState.COMPLETED, finished=finished, outcomes=dict(outcomes))

        before, _ = self._update_job(job_id, complete)
        return before.state is JobState.RUNNING

    def rejection(self, record: JobRecord, finished: str) -> tuple[JobRecord, bool] | None:
        """The record of *record*'s file rejected as a whole (at *finished*) and whether the job exists
        already; None when its job fanned out already.

        The job may not exist yet, or exist as created but not fanned out (``chunks`` None); a job
        already rejected keeps its record (its reports are written again).
        """
        existing = self.load_job(record.job_id)
        if existing is not None and existing.state is not JobState.REJECTED and existing.chunks is not None:
            return None
        rejected = existing if existing is not None else record
        if rejected.state is not JobState.REJECTED:
            rejected = replace(rejected, state=JobState.REJECTED, chunks=0, finished=finished)
        return rejected, existing is not None

    def mark_rejected(self, rejected: JobRecord, *, exists: bool) -> bool:
        """Record *rejected* (from ``rejection``); True iff this call made the job rejected."""
        if not exists:
            return self.create_job(rejected)

        def reject(r: JobRecord) -> JobRecord:
            return rejected if r.state is JobState.RUNNING and r.chunks is None else r

        before, _ = self._update_job(rejected.job_id, reject)
        return before.state is JobState.RUNNING and before.chunks is None

    def status(self, job_id: str) -> JobStatus | None:
        """The job's progress (two reads: the record and ``progress.json``), or None when there is no such job."""
        record = self.load_job(job_id)
        if record is None:
            return None
        rejected = record.state is JobState.REJECTED
        progress = Progress() if rejected else self._load_progress(job_id)
        files: tuple[str, ...] = ()
        if record.state is JobState.COMPLETED:
            files = (REPORT_CSV, SUMMARY_JSON) if record.dry_run else (REPORT_CSV, SUMMARY_JSON, UNDO_CSV)
        elif rejected:
            files = (REPORT_CSV, SUMMARY_JSON)
        reports = self._settings.report_container
        return JobStatus(
            job_id=job_id,
            kind=record.kind.value,
            source=record.source,
            state=record.state,
            rows=record.rows,
            chunks=record.chunks if record.chunks is not None else progress.chunks,
            chunks_done=progress.count,
            started=record.started,
            finished=record.finished,
            dry_run=record.dry_run,
            report={name: self._blobs.url(reports, report_blob(job_id, name)) for name in files},
            outcomes=dict(record.outcomes),
            rows_done=record.rows if record.state is JobState.COMPLETED else progress.rows_done,
            writes_applied=progress.writes_done,
        )

    # --- internals ---------------------------------------------------------------------------------

    @property
    def _state(self) -> str:
        return self._settings.state_container

    def _load_progress(self, job_id: str) -> Progress:
        found = self._blobs.get_json(self._state, progress_blob(job_id))
        return Progress() if found is None else Progress.from_json(found[0])

    def _update_progress(self, job_id: str, change: Callable[[Progress], Progress]) -> Progress:
        def read(data: object | None) -> Progress:
            return Progress() if data is None else Progress.from_json(data)

        return self._update(progress_blob(job_id), read, change, Progress.to_json)[1]

    def _mark_chunks(self, job_id: str, chunks: Mapping[int, ChunkTally], token: str) -> Progress:
        def change(progress: Progress) -> Progress:
            for chunk in sorted(chunks):
                progress = progress.mark(chunk, chunks[chunk])
            return progress.claimed_by(token)

        return self._update_progress(job_id, change)

    def _update_job(
        self, job_id: str, change: Callable[[JobRecord], JobRecord]
    ) -> tuple[JobRecord, JobRecord]:
        def read(data: object | None) -> JobRecord:
            if data is None:
                msg = f"no job {job_id}"
                raise ValueError(msg)
            return JobRecord.from_json(data)

        return self._update(job_blob(job_id), read, change, JobRecord.to_json)

    def _update(
        self,
        name: str,
        read: Callable[[object | None], T],
        change: Callable[[T], T],
        write: Callable[[T], object],
    ) -> tuple[T, T]:
        """Read-modify-write of one state blob with ETag optimistic concurrency; (before, after)."""
        for attempt in range(MAX_UPDATE_ATTEMPTS):
            found = self._blobs.get_json(self._state, name)
            etag = None if found is None else found[1]
            before = read(None if found is None else found[0])
            after = change(before)
            if after == before and etag is not None:
                return before, after
            if self._blobs.put_json(
                self._state, name, write(after), if_match=etag, if_none_match=etag is None
            ):
                return before, after
            # Another writer won the race: back off a little (full jitter) and read again.
            self._sleep(random.uniform(0, min(0.25, 0.01 * 2**attempt)))
        msg = f"{name}: still contended after {MAX_UPDATE_ATTEMPTS} attempts"
        raise RuntimeError(msg)
