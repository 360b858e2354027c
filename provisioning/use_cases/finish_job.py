"""Finish a job: its reports from the chunks' outcomes, then its record as completed; or reject a file.

The caller that claimed a job's end (``JobStore.complete_chunk`` or ``set_chunk_count`` returned
True) finishes it. Finishing is idempotent: a redelivered message that claims the end again after a
crash half-way rewrites the same reports, and a job that is no longer running is left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from provisioning.core.job_records import JobRecord
from provisioning.core.job_report import write_job_reports
from provisioning.core.models import JobState, Outcome
from provisioning.core.summary import summary_document
from provisioning.storage.jobs import JobStore
from provisioning.storage.report_blobs import ReportStore


def _utc_now() -> datetime:
    return datetime.now(UTC)


class JobFinisher:
    """Writes a job's ``report.csv``, ``undo.csv`` and ``summary.json`` and marks the job completed."""

    def __init__(
        self, jobs: JobStore, reports: ReportStore, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._jobs = jobs
        self._reports = reports
        self._clock = clock

    def complete_chunk(self, job_id: str, chunk: int, outcomes: Sequence[Outcome]) -> bool:
        """Record a chunk's outcomes; the call that completes the last chunk finishes the job (True)."""
        return self._jobs.complete_chunk(job_id, chunk, outcomes) and self.finish(job_id)

    def set_chunk_count(self, job_id: str, chunks: int, *, rows: int | None = None) -> bool:
        """End a fan-out; when every chunk is done already, finish the job (True)."""
        return self._jobs.set_chunk_count(job_id, chunks, rows=rows) and self.finish(job_id)

    def finish(self, job_id: str) -> bool:
        """Write the job's reports and mark it completed; False when it was no longer running.

        Raises ``ValueError`` when there is no such job or some of its chunks are not done.
        """
        record = self._jobs.load_job(job_id)
        if record is None:
            msg = f"no job {job_id}"
            raise ValueError(msg)
        if record.state is not JobState.RUNNING:
            return False
        progress = self._jobs.progress(job_id)
        if not progress.complete or progress.chunks is None:
            msg = f"job {job_id}: {progress.count} of {progress.chunks} chunks done; nothing to finish yet"
            raise ValueError(msg)
        record = replace(record, chunks=progress.chunks)
        finished = self._now()
        blobs = self._reports.open_completed(record)
        chunks = self._reports.chunk_outcomes(job_id, progress.chunks)
        summary = write_job_reports(chunks, blobs.report, blobs.undo, managed=record.managed)
        document = summary_document(
            summary, source=record.source, started=record.started, finished=finished, dry_run=record.dry_run
        )
        self._reports.commit_completed(blobs, document)
        return self._jobs.mark_completed(job_id, finished, summary.outcome_counts())

    def reject(self, record: JobRecord, file_errors: Sequence[str]) -> bool:
        """Record a file rejected as a whole: reports with the reasons, nothing enqueued.

        True iff this call made the job rejected; a job already rejected gets its reports written
        again, and a job that fanned out or completed is left alone (False).
        """
        found = self._jobs.rejection(record, self._now())
        if found is None:
            return False
        rejected, exists = found
        self._reports.write_rejected(rejected, file_errors)  # before job.json: status never points at nothing
        return self._jobs.mark_rejected(rejected, exists=exists)

    def _now(self) -> str:
        return self._clock().isoformat(timespec="seconds")
