"""Ports: the Protocols the service depends on; adapters and test fakes satisfy them structurally."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from provisioning.core.models import CurrentMethods, DesiredRow, JobStatus, Operation


class GraphPort(Protocol):
    """What the service needs from Microsoft Graph, one user at a time.

    Every method raises ``GraphError`` (``TransientGraphError`` only after the retry policy gave up).
    """

    def read_methods(self, user: str) -> CurrentMethods:
        """All the user's methods in one read: phones (with the mobile's SMS state), email, the others.

        ``default_known`` is False in the result; a 404 for the user raises ``PermanentGraphError``.
        """
        ...

    def read_default_method(self, user: str) -> tuple[str | None, bool | None]:
        """The user's default method and whether system-preferred MFA is on (beta signInPreferences)."""
        ...

    def apply(self, operation: Operation) -> str | None:
        """Perform one write; return Graph's ``request-id``.

        An add that timed out or met a 5xx is retried only after re-reading the user's methods: a
        method that now holds the wanted value counts as success.
        """
        ...

    def read_sms_sign_in_state(self, user: str) -> str | None:
        """The mobile phone's ``smsSignInState`` now, or None when the user has no mobile."""
        ...


class Journal(Protocol):
    """Keeps the users' methods as read before a chunk's first write, so undo restores the truth.

    The first attempt's record wins: a retry after a crash half-way gets the methods that attempt
    read, not the ones its own writes left.
    """

    def keep(self, current: Mapping[int, CurrentMethods]) -> Mapping[int, CurrentMethods]:
        """Record *current* (by input line) unless an earlier attempt did; the record that holds."""
        ...


class TextSink(Protocol):
    """Where a report's text goes as it is made (a block-staged blob, a file)."""

    def write(self, text: str) -> None: ...


class JobPort(Protocol):
    """Starting and watching pipeline jobs (implemented over Azure Storage)."""

    def submit(self, rows: Sequence[DesiredRow], *, dry_run: bool, source: str) -> str:
        """Record a job for *rows* (valid and invalid alike), fan its valid rows out; return the job id."""
        ...

    def status(self, job_id: str) -> JobStatus | None:
        """The job's progress, or None when there is no such job."""
        ...
