"""A job's report blobs: ``report.csv``, ``summary.json`` and ``undo.csv`` in the report container.

The chunks' outcomes are read from the state container in chunk order (a few ahead, in parallel), and
the reports are block-staged blobs written as the text is made, so a job of a million rows never
sits in memory whole. What the reports say is the core's (``core.job_report``).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from provisioning.core.job_records import JobRecord, outcomes_blob, report_blob
from provisioning.core.models import JobState, Outcome
from provisioning.core.reports import render_report_csv
from provisioning.core.serialization import outcome_from_json
from provisioning.storage.account import StorageSettings
from provisioning.storage.blobs import BlobStore, BlockWriter

REPORT_CSV = "report.csv"
SUMMARY_JSON = "summary.json"
UNDO_CSV = "undo.csv"
CSV_CONTENT = "text/csv; charset=utf-8"
JSON_CONTENT = "application/json"


@dataclass(frozen=True)
class ReportBlobs:
    """A completed job's report blobs being written: ``undo`` is None for a dry run."""

    job_id: str
    report: BlockWriter
    undo: BlockWriter | None


class ReportStore:
    """Reads a job's chunk outcomes and writes its reports to the report container."""

    def __init__(self, blobs: BlobStore, settings: StorageSettings, *, prefetch: int = 16) -> None:
        self._blobs = blobs
        self._settings = settings
        self._prefetch = prefetch

    def open_completed(self, record: JobRecord) -> ReportBlobs:
        """Block writers for the job's ``report.csv`` and (unless a dry run) ``undo.csv``."""
        reports, job_id = self._settings.report_container, record.job_id
        report = self._blobs.block_writer(reports, report_blob(job_id, REPORT_CSV), content_type=CSV_CONTENT)
        undo = None
        if not record.dry_run:
            undo = self._blobs.block_writer(reports, report_blob(job_id, UNDO_CSV), content_type=CSV_CONTENT)
        return ReportBlobs(job_id, report, undo)

    def commit_completed(self, blobs: ReportBlobs, document: dict[str, object]) -> None:
        """Commit the written reports, then ``summary.json`` (so a summary never points at nothing)."""
        blobs.report.commit()
        if blobs.undo is not None:
            blobs.undo.commit()
        head = {"job": blobs.job_id, "state": JobState.COMPLETED.value}
        self._put_summary(blobs.job_id, head | document)

    def write_rejected(self, record: JobRecord, file_errors: Sequence[str]) -> None:
        """``summary.json`` with the reasons the file was rejected, and a ``report.csv`` of just the header."""
        document = {
            "job": record.job_id,
            "state": JobState.REJECTED.value,
            "source": record.source,
            "dryRun": record.dry_run,
            "started": record.started,
            "finished": record.finished,
            "rows": record.rows,
            "errors": list(file_errors),
        }
        self._put_summary(record.job_id, document)
        name = report_blob(record.job_id, REPORT_CSV)
        self._blobs.put_text(
            self._settings.report_container, name, render_report_csv(()), content_type=CSV_CONTENT
        )

    def chunk_outcomes(self, job_id: str, chunks: int) -> Iterator[list[Outcome]]:
        """Each chunk's outcomes in chunk order, with up to ``prefetch`` reads in flight.

        Raises ``ValueError`` when a chunk's outcomes are missing.
        """
        with ThreadPoolExecutor(max_workers=self._prefetch, thread_name_prefix="finish-job") as pool:
            pending: deque[Future[list[Outcome]]] = deque()
            for chunk in range(chunks):
                pending.append(pool.submit(self._read_chunk, job_id, chunk))
                if len(pending) >= self._prefetch:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def _put_summary(self, job_id: str, document: dict[str, object]) -> None:
        text = json.dumps(document, indent=2) + "\n"
        name = report_blob(job_id, SUMMARY_JSON)
        self._blobs.put_text(self._settings.report_container, name, text, content_type=JSON_CONTENT)

    def _read_chunk(self, job_id: str, chunk: int) -> list[Outcome]:
        name = outcomes_blob(job_id, chunk)
        found = self._blobs.get_json(self._settings.state_container, name)
        if found is None or not isinstance(found[0], list):
            msg = f"{name}: the chunk is marked done but its outcomes are missing or not a list"
            raise ValueError(msg)
        return [outcome_from_json(item, f"{name}[{i}]") for i, item in enumerate(found[0])]
