"""Counts over a run: ``summarise``, ``summary.json`` and the one-line summary the CLI prints (pure)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import assert_never

from provisioning.core.models import (
    AddEmail,
    AddPhone,
    DeleteEmail,
    DeletePhone,
    OperationResult,
    Outcome,
    OutcomeKind,
    SetDefaultMethod,
    SetSmsSignIn,
    UpdateEmail,
    UpdatePhone,
)
from provisioning.core.writes import aborted, attempts


@dataclass(frozen=True)
class Summary:
    """Counts over one run: rows per outcome, applied writes per kind, and how the writes went."""

    rows: int
    changed: int
    unchanged: int
    skipped: int
    failed: int
    invalid: int
    added: int
    updated: int
    deleted: int
    default_method: int
    sms_sign_in: int
    writes_applied: int
    writes_failed: int
    writes_not_attempted: int
    writes_planned: int

    def __add__(self, other: Summary) -> Summary:
        """Counts over both runs (or both chunks of one run): every field is a sum."""
        fields = (f.name for f in dataclasses.fields(self))
        return Summary(**{name: getattr(self, name) + getattr(other, name) for name in fields})

    def outcome_counts(self) -> dict[str, int]:
        """Rows per outcome, as ``summary.json`` and ``JobStatus.outcomes`` name them."""
        return {
            "changed": self.changed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
            "invalid": self.invalid,
        }


def summarise(outcomes: Sequence[Outcome]) -> Summary:
    """Count outcomes and writes; a dry run has planned writes and nothing applied."""
    kinds = Counter(o.kind for o in outcomes)
    applied = Counter(_action_counter(r) for o in outcomes for r in o.results if r.ok)
    paired = [(o, result) for o in outcomes for _, result in attempts(o)]
    return Summary(
        rows=len(outcomes),
        changed=kinds[OutcomeKind.CHANGED],
        unchanged=kinds[OutcomeKind.UNCHANGED],
        skipped=kinds[OutcomeKind.SKIPPED],
        failed=kinds[OutcomeKind.FAILED],
        invalid=kinds[OutcomeKind.INVALID],
        added=applied["add"],
        updated=applied["update"],
        deleted=applied["delete"],
        default_method=applied["defaultMethod"],
        sms_sign_in=applied["smsSignIn"],
        writes_applied=sum(applied.values()),
        writes_failed=sum(not r.ok for o in outcomes for r in o.results),
        writes_not_attempted=sum(r is None and aborted(o) for o, r in paired),
        writes_planned=len(paired),
    )


def writes_applied(outcomes: Sequence[Outcome]) -> int:
    """The writes Graph accepted for *outcomes* (``summarise(...).writes_applied``)."""
    return summarise(outcomes).writes_applied


def _action_counter(result: OperationResult) -> str:
    match result.operation:
        case AddPhone() | AddEmail():
            return "add"
        case UpdatePhone() | UpdateEmail():
            return "update"
        case DeletePhone() | DeleteEmail():
            return "delete"
        case SetDefaultMethod():
            return "defaultMethod"
        case SetSmsSignIn():
            return "smsSignIn"
        case _:  # pragma: no cover - the match is exhaustive
            assert_never(result.operation)


def render_summary(
    outcomes: Sequence[Outcome],
    *,
    source: str,
    started: str,
    finished: str,
    dry_run: bool,
    graph_requests: int | None = None,
) -> str:
    """``summary.json`` (indent 2); every outcome and action key is present, zero or not."""
    document = summary_document(
        summarise(outcomes),
        source=source,
        started=started,
        finished=finished,
        dry_run=dry_run,
        graph_requests=graph_requests,
    )
    return json.dumps(document, indent=2) + "\n"


def summary_document(
    summary: Summary,
    *,
    source: str,
    started: str,
    finished: str,
    dry_run: bool,
    graph_requests: int | None = None,
) -> dict[str, object]:
    """The ``summary.json`` document for counts already made (a job adds up its chunks' summaries)."""
    s = summary
    return {
        "source": source,
        "dryRun": dry_run,
        "started": started,
        "finished": finished,
        "rows": s.rows,
        "outcomes": s.outcome_counts(),
        "actions": {
            "add": s.added,
            "update": s.updated,
            "delete": s.deleted,
            "defaultMethod": s.default_method,
            "smsSignIn": s.sms_sign_in,
        },
        "writes": {
            "applied": s.writes_applied,
            "failed": s.writes_failed,
            "notAttempted": s.writes_not_attempted,
        },
        "graphRequests": graph_requests,
    }


def format_summary_line(summary: Summary, *, dry_run: bool = False) -> str:
    """``40 rows: 25 changed, 10 unchanged, 3 skipped, 1 failed, 1 invalid; 48 writes applied, 1 failed``.

    With *dry_run* the tail counts the planned writes instead.
    """
    s = summary
    head = (
        f"{s.rows} {'row' if s.rows == 1 else 'rows'}: {s.changed} changed, {s.unchanged} unchanged, "
        f"{s.skipped} skipped, {s.failed} failed, {s.invalid} invalid"
    )
    if dry_run:
        return f"{head}; {s.writes_planned} writes planned"
    tail = f"{s.writes_applied} writes applied, {s.writes_failed} failed"
    if s.writes_not_attempted:
        tail += f", {s.writes_not_attempted} not attempted"
    return f"{head}; {tail}"
