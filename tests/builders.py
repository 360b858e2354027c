"""Small builders of ``Outcome`` values for the report, summary and undo tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from provisioning.core.models import (
    Action,
    CurrentMethods,
    Decision,
    DesiredRow,
    MethodKind,
    Operation,
    OperationResult,
    Outcome,
    OutcomeKind,
    Plan,
    Subject,
)
from provisioning.core.planner import plan

USER = "ann@contoso.test"
MOBILE, ALT, OFFICE, EMAIL = (
    MethodKind.MOBILE,
    MethodKind.ALTERNATE_MOBILE,
    MethodKind.OFFICE,
    MethodKind.EMAIL,
)
A, B, C = "+31 612345678", "+31 687654321", "+31 201234567"
ERROR = "400 badRequest: refused"


def desired(
    values: Mapping[MethodKind, str] | None = None, *, line: int = 2, user: str = USER, **kwargs
) -> DesiredRow:
    return DesiredRow(line, user, dict(values or {}), **kwargs)


def current(phones: Mapping[MethodKind, str] | None = None, *, user: str = USER, **kwargs) -> CurrentMethods:
    return CurrentMethods(user, dict(phones or {}), **kwargs)


def decision(
    subject: Subject, action: Action, reason: str = "why", previous: str | None = None, new: str | None = None
) -> Decision:
    return Decision(subject, action, reason, previous, new)


def ok(op: Operation, request_id: str = "req-1") -> OperationResult:
    return OperationResult(op, ok=True, request_id=request_id)


def failed(op: Operation, error: str = ERROR, request_id: str = "req-fail") -> OperationResult:
    return OperationResult(op, ok=False, request_id=request_id, error=error)


def outcome(
    kind: OutcomeKind,
    *,
    row: DesiredRow | None = None,
    ops: Sequence[Operation] = (),
    decisions: Sequence[Decision] = (),
    results: Sequence[OperationResult] = (),
    before: CurrentMethods | None = None,
    error: str | None = None,
    sms_state: str | None = None,
    request_ids: Sequence[str] = (),
) -> Outcome:
    """An outcome built by hand; a plan is attached when there are operations or decisions."""
    row = row or desired()
    the_plan = Plan(row.user, tuple(ops), tuple(decisions)) if ops or decisions else None
    return Outcome(
        row,
        kind,
        plan=the_plan,
        current=before if before is not None else current(user=row.user),
        results=tuple(results),
        error=error,
        sms_sign_in_state=sms_state,
        request_ids=tuple(request_ids),
    )


def planned(before: CurrentMethods, row: DesiredRow, *, fail_at: int | None = None) -> Outcome:
    """The outcome of applying the real planner's plan, every write ok up to *fail_at* (which fails)."""
    the_plan = plan(before, row)
    ops = the_plan.operations if fail_at is None else the_plan.operations[: fail_at + 1]
    results = tuple(failed(op) if i == fail_at else ok(op, f"req-{i}") for i, op in enumerate(ops))
    if any(not r.ok for r in results):
        kind = OutcomeKind.FAILED
    elif results:
        kind = OutcomeKind.CHANGED
    else:
        kind = OutcomeKind.SKIPPED if the_plan.skipped else OutcomeKind.UNCHANGED
    return Outcome(row, kind, plan=the_plan, current=before, results=results)
