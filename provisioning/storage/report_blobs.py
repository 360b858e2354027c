"""A job's final reports, written chunk by chunk: ``report.csv``, ``summary.json``, ``undo.csv``.

Chunk outcomes are read in chunk order (a few ahead, in parallel) and appended to block-staged
blobs, so a job of a million rows never sits in memory whole.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from provisioning.core.job_records import JobRecord, outcomes_blob, report_blob
from provisioning.core.models import JobState, Outcome
from provisioning.core.reports import render_report_csv
from provisioning.core.serialization import outcome_from_json
from provisioning.core.summary import Summary, summarise, summary_document
from provisioning.core.undo import render_undo_csv
from provisioning.storage.account import StorageSettings
from provisioning.storage.blobs import BlobStore

REPORT_CSV = "report.csv"
SUMMARY_JSON = "summary.json"
UNDO_CSV = "undo.csv"
CSV_CONTENT = "text/csv; charset=utf-8"
JSON_CONTENT = "application/json"


def outcome_counts(summary: Summary) -> dict[str, int]:
    """Rows per outcome, as ``summary.json`` and ``JobStatus.outcomes`` name them."""
    return {
        "changed": summary.changed,
        "unchanged": summary.unchanged,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "invalid": summary.invalid,
    }


class ReportWriter:
    """Writes a job's reports to the report container from its chunk outcomes in the state container."""

    def __init__(self, blobs: BlobStore, settings: StorageSettings, *, prefetch: int = 16) -> None:
        self._blobs = blobs
        self._settings = settings
        self._prefetch = prefetch

    def write_completed(self, record: JobRecord, finished: str) -> Summary:
        """Write all three reports (no ``undo.csv`` for a dry run) from chunks ``0..record.chunks``.

        Reads each chunk blob once; raises ``ValueError`` when one is missing.
        """
        reports, job_id = self._settings.report_container, record.job_id
        report = self._blobs.block_writer(reports, report_blob(job_id, REPORT_CSV), content_type=CSV_CONTENT)
        undo = None
        if not record.dry_run:
            undo = self._blobs.block_writer(reports, report_blob(job_id, UNDO_CSV), content_type=CSV_CONTENT)
            undo.write(render_undo_csv((), managed=record.managed))
        report.write(render_report_csv(()))
        summary = summarise(())
        for outcomes in self._read_chunks(job_id, record.chunks or 0):
            report.write(render_report_csv(outcomes, header=False))
            if undo is not None:
                undo.write(render_undo_csv(outcomes, managed=record.managed, header=False))
            summary += summarise(outcomes)
        report.commit()
        if undo is not None:
            undo.commit()
        document = summary_document(
            summary, source=record.source, started=record.started, finished=finished, dry_run=record.dry_run
        )
        head = {"job": job_id, "state": JobState.COMPLETED.value}
        self._put_summary(job_id, head | document)
        return summary

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

    def _put_summary(self, job_id: str, document: dict[str, object]) -> None:
        text = json.dumps(document, indent=2) + "\n"
        name = report_blob(job_id, SUMMARY_JSON)
        self._blobs.put_text(self._settings.report_container, name, text, content_type=JSON_CONTENT)

    def _read_chunks(self, job_id: str, chunks: int) -> Iterator[list[Outcome]]:
        """Each chunk's outcomes in chunk order, with up to ``prefetch`` reads in flight."""
        with ThreadPoolExecutor(max_workers=self._prefetch, thread_name_prefix="finalise") as pool:
            pending: deque[Future[list[Outcome]]] = deque()
            for chunk in range(chunks):
                pending.append(pool.submit(self._read_chunk, job_id, chunk))
                if len(pending) >= self._prefetch:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def _read_chunk(self, job_id: str, chunk: int) -> list[Outcome]:
        name = outcomes_blob(job_id, chunk)
        found = self._blobs.get_json(self._settings.state_container, name)
        if found is None or not isinstance(found[0], list):
            msg = f"{name}: the chunk is marked done but its outcomes are missing or not a list"
            raise ValueError(msg)
        return [outcome_from_json(item, f"{name}[{i}]") for i, item in enumerate(found[0])]
