"""Outcomes -> ``report.csv`` and the ``plan`` listing (pure).

Values are unmasked (the report is the admin's record) and spreadsheet-safe (see ``spreadsheet``).
The summary and undo renderers live in ``summary`` and ``undo``; they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence

from provisioning.core.masking import mask_email, mask_phone, mask_text, mask_user
from provisioning.core.models import Action, Outcome, OutcomeKind, Subject
from provisioning.core.planner import operation_subject
from provisioning.core.spreadsheet import neutralise_cell, write_csv
from provisioning.core.summary import Summary, format_summary_line, render_summary, summarise
from provisioning.core.undo import render_undo_csv
from provisioning.core.writes import SubjectStatus, sms_warning, subject_statuses

__all__ = [
    "REPORT_COLUMNS",
    "Summary",
    "format_summary_line",
    "mask_email",
    "mask_phone",
    "mask_text",
    "mask_user",
    "render_plan_blocks",
    "render_plan_text",
    "render_report_csv",
    "render_summary",
    "render_undo_csv",
    "row_reason",
    "summarise",
]

# --- report.csv -----------------------------------------------------------------------------------

REPORT_SUBJECTS = (
    Subject.MOBILE,
    Subject.ALTERNATE_MOBILE,
    Subject.OFFICE,
    Subject.EMAIL,
    Subject.DEFAULT_METHOD,
)
REPORT_COLUMNS: tuple[str, ...] = (
    "line",
    "upn",
    "outcome",
    "reason",
    *(f"{s}_{field}" for s in REPORT_SUBJECTS for field in ("action", "previous", "new", "reason")),
    "smsSignIn_action",
    "smsSignIn_reason",
    "smsSignInState",
    "request_ids",
)
_WRITES = (Action.ADD, Action.UPDATE, Action.DELETE)


def render_report_csv(outcomes: Sequence[Outcome], *, header: bool = True) -> str:
    """``report.csv``: a header and one line per outcome, in input order; values unmasked.

    Every cell goes through ``spreadsheet.neutralise_cell`` (its module docstring says why). Without
    *header* only the lines are rendered: a job writes its report chunk by chunk.
    """
    text = write_csv(REPORT_COLUMNS, (_report_row(o) for o in outcomes), cell=neutralise_cell)
    # The header is write_csv's first line: column names hold no line break.
    return text if header else text.partition("\r\n")[2]


def _report_row(outcome: Outcome) -> dict[str, str]:
    row = {
        "line": str(outcome.row.line),
        "upn": outcome.row.user,
        "outcome": outcome.kind.value,
        "reason": row_reason(outcome),
    }
    statuses = subject_statuses(outcome)
    empty = SubjectStatus("", "", "", "")
    for subject in REPORT_SUBJECTS:
        status = statuses.get(subject, empty)
        row |= {
            f"{subject}_action": status.action,
            f"{subject}_previous": status.previous,
            f"{subject}_new": status.new,
            f"{subject}_reason": status.reason,
        }
    sms = statuses.get(Subject.SMS_SIGN_IN, empty)
    row |= {
        "smsSignIn_action": sms.action,
        "smsSignIn_reason": sms.reason,
        "smsSignInState": outcome.sms_sign_in_state or "",
        "request_ids": " ".join(_request_ids(outcome)),
    }
    return row


def row_reason(outcome: Outcome) -> str:
    """The row-level reason: errors, the failure, the skips, or a short summary of the changes."""
    decisions = outcome.plan.decisions if outcome.plan else ()
    match outcome.kind:
        case OutcomeKind.INVALID:
            return "; ".join(outcome.row.errors) or outcome.error or ""
        case OutcomeKind.FAILED:
            failed = next((r for r in outcome.results if not r.ok), None)
            if outcome.error is None and failed is not None:
                return f"{operation_subject(failed.operation)}: {failed.error or 'the write failed'}"
            return outcome.error or ""
        case OutcomeKind.SKIPPED:
            skips = [f"{d.subject}: {d.reason}" for d in decisions if d.action is Action.SKIP]
            return "; ".join(skips) or outcome.error or ""
        case OutcomeKind.CHANGED:
            changes = ", ".join(f"{d.action} {d.subject}" for d in decisions if d.action in _WRITES)
            warning = sms_warning(outcome)
            return changes if warning is None else f"{changes}; warning: {warning}"
        case _:
            return "nothing to change"


def _request_ids(outcome: Outcome) -> list[str]:
    ids = [*outcome.request_ids, *(r.request_id for r in outcome.results if r.request_id)]
    return list(dict.fromkeys(ids))


# --- The plan listing -----------------------------------------------------------------------------


def render_plan_text(outcomes: Sequence[Outcome]) -> str:
    """A listing for the terminal (values unmasked): one block per row, then the dry-run summary line.

    Subjects the row asks nothing of (``none``) are left out.
    """
    return render_plan_blocks(outcomes) + format_summary_line(summarise(outcomes), dry_run=True) + "\n"


def render_plan_blocks(outcomes: Sequence[Outcome]) -> str:
    """``render_plan_text`` without its summary line: the CLI prints a big file's blocks chunk by chunk."""
    lines: list[str] = []
    for outcome in outcomes:
        lines.append(f"line {outcome.row.line}  {outcome.row.user}  {outcome.kind}")
        if outcome.kind in (OutcomeKind.INVALID, OutcomeKind.FAILED):
            lines.append(f"  {row_reason(outcome)}")
        for subject, status in subject_statuses(outcome).items():
            if status.action in ("", Action.NONE.value):
                continue
            values = _values(status)
            lines.append(f"  {subject:<16}{status.action:<14}{values:<34}  ({status.reason})".rstrip())
    return "".join(f"{line}\n" for line in lines)


def _values(status: SubjectStatus) -> str:
    previous, new = status.previous, status.new
    if previous == new:
        return previous
    return f"{previous or '(none)'} -> {new or '(none)'}"
