"""Ports: the Protocols the use cases depend on; adapters and test fakes satisfy them structurally."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from provisioning.core.models import CurrentMethods, DesiredRow, JobStatus


class Journal(Protocol):
    """Keeps the users' methods as read before a chunk's first write, so undo restores the truth.

    The first attempt's record wins: a retry after a crash half-way gets the methods that attempt
    read, not the ones its own writes left.
    """

    def keep(self, current: Mapping[int, CurrentMethods]) -> Mapping[int, CurrentMethods]:
        """Record *current* (by input line) unless an earlier attempt did; the record that holds."""
        ...


class TextSink(Protocol):
    """Where a report's text goes as it is made (a block-staged blob, a file opened in text mode)."""

    def write(self, text: str, /) -> object: ...


class JobPort(Protocol):
    """Starting and watching pipeline jobs (implemented over Azure Storage)."""

    def submit(self, rows: Sequence[DesiredRow], *, dry_run: bool, source: str) -> str:
        """Record a job for *rows* (valid and invalid alike), fan its valid rows out; return the job id."""
        ...

    def status(self, job_id: str) -> JobStatus | None:
        """The job's progress, or None when there is no such job."""
        ...
