"""What happened to each planned write of a row: applied, failed, or never attempted (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from provisioning.core.models import (
    Decision,
    Operation,
    OperationResult,
    Outcome,
    OutcomeKind,
    SetSmsSignIn,
    Subject,
)
from provisioning.core.planner import operation_subject

FAILED = "failed"
NOT_ATTEMPTED = "not attempted"


@dataclass(frozen=True)
class SubjectStatus:
    """One subject of one row as it went: the decision's action, or ``failed`` / ``not attempted``."""

    action: str
    reason: str
    previous: str
    new: str


def attempts(outcome: Outcome) -> list[tuple[Operation, OperationResult | None]]:
    """Each planned write with its result, in plan order; None for a write never attempted."""
    pending = list(outcome.results)
    paired: list[tuple[Operation, OperationResult | None]] = []
    for op in outcome.plan.operations if outcome.plan else ():
        index = next((i for i, r in enumerate(pending) if r.operation == op), None)
        paired.append((op, pending.pop(index) if index is not None else None))
    return paired


def aborted(outcome: Outcome) -> bool:
    """Whether the row stopped early, so a planned write without a result was skipped, not dry-run."""
    return outcome.kind is OutcomeKind.FAILED or any(not r.ok for r in outcome.results)


# What Graph's smsSignInState after an applied enableSmsSignIn means, when it is not "ready" (the
# phone method itself is set either way, so the row is changed, with this warning)
_SMS_NOT_TAKEN = {
    "phoneNumberNotUnique": (
        "another user already uses this number for SMS sign-in; turn it off for them or give this user "
        "another mobile, then run the row again"
    ),
    "notAllowedByPolicy": (
        "the tenant's SMS authentication method policy does not include this user; add them to its "
        "targets (Entra admin center, Authentication methods, SMS) and run the row again"
    ),
    "notConfigured": (
        "SMS sign-in is not configured for this user: turn on 'Use for sign-in' in the SMS method's "
        "policy, then run the row again"
    ),
    "notSupported": "Graph does not support SMS sign-in for this user or number",
    "notEnabled": "Graph still reports SMS sign-in off after enabling it; run the row again",
}


def sms_warning(outcome: Outcome) -> str | None:
    """Why SMS sign-in did not take after an applied enable, from the state read back; else None."""
    enabled = any(
        r.ok and isinstance(r.operation, SetSmsSignIn) and r.operation.enable for r in outcome.results
    )
    state = outcome.sms_sign_in_state
    if not enabled or state is None or state == "ready":
        return None
    reason = _SMS_NOT_TAKEN.get(state, "Graph reports a state this tool does not know")
    return f"SMS sign-in did not take ({state}): {reason}"


def subject_statuses(outcome: Outcome) -> dict[Subject, SubjectStatus]:
    """What happened to every subject the row's plan mentions."""
    decisions = {d.subject: d for d in outcome.plan.decisions} if outcome.plan else {}
    paired = attempts(outcome)
    first_failure = next((operation_subject(op) for op, r in paired if r is not None and not r.ok), None)
    statuses: dict[Subject, SubjectStatus] = {}
    for subject in Subject:
        decision = decisions.get(subject)
        mine = [result for op, result in paired if operation_subject(op) is subject]
        if decision is None and not mine:
            continue
        status = _as_decided(decision)
        failed = next((r for r in mine if r is not None and not r.ok), None)
        if failed is not None:
            status = replace(status, action=FAILED, reason=failed.error or "the write failed")
        elif aborted(outcome) and any(r is None for r in mine):
            cause = f"after the {first_failure} write failed" if first_failure else f"({outcome.error})"
            status = replace(status, action=NOT_ATTEMPTED, reason=f"not attempted {cause}")
        elif subject is Subject.SMS_SIGN_IN and (warning := sms_warning(outcome)) is not None:
            status = replace(status, reason=warning)
        statuses[subject] = status
    return statuses


def _as_decided(decision: Decision | None) -> SubjectStatus:
    if decision is None:  # a write without a decision: the planner's bug, still reported
        return SubjectStatus("", "", "", "")
    return SubjectStatus(decision.action.value, decision.reason, decision.previous or "", decision.new or "")
