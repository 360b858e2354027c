"""One row's outcome from its plan and the results of its writes (pure).

A row ends as ``changed`` when a write was applied (or, in a dry run, planned), ``failed`` when one
failed, ``skipped`` when the planner refused it and ``unchanged`` otherwise. On a retry the outcome
describes the whole change since the first attempt's read, so the report and ``undo.csv`` stay true.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from provisioning.core.masking import mask_text
from provisioning.core.models import (
    AddEmail,
    AddPhone,
    CurrentMethods,
    DeleteEmail,
    DeletePhone,
    DesiredRow,
    MethodKind,
    Operation,
    OperationResult,
    Outcome,
    OutcomeKind,
    Plan,
    SetSmsSignIn,
    method_key,
)
from provisioning.core.planner import plan
from provisioning.errors import GraphError


def not_read(row: DesiredRow, found: Mapping[int, CurrentMethods | Outcome]) -> Outcome:
    """The outcome a row has before any write: invalid, or its read failed."""
    outcome = found[row.line]
    assert isinstance(outcome, Outcome), f"line {row.line} was read"
    return outcome


def planned_outcome(row: DesiredRow, the_plan: Plan, current: CurrentMethods) -> Outcome:
    """A dry run's outcome: what applying *the_plan* would do."""
    kind = _kind(the_plan, (), planned=True)
    return Outcome(row, kind, plan=the_plan, current=current, sms_sign_in_state=current.sms_sign_in_state)


def finish_outcome(
    row: DesiredRow,
    the_plan: Plan,
    current: CurrentMethods,
    results: Sequence[OperationResult],
    *,
    before: CurrentMethods | None = None,
    sms_state: str | None = None,
    sms_read: bool = False,
) -> Outcome:
    """The outcome of applying *the_plan*; with *before* (a retry), the whole change since then.

    *sms_state* is the mobile's state read after an SMS sign-in change (when *sms_read*).
    """
    if before is not None and before != current:
        the_plan, results, current = _since(row, before, results)
    return Outcome(
        row,
        _kind(the_plan, results, planned=False),
        plan=the_plan,
        current=current,
        results=tuple(results),
        error=next((r.error for r in results if not r.ok), None),
        sms_sign_in_state=sms_state if sms_read else current.sms_sign_in_state,
        request_ids=tuple(r.request_id for r in results if r.request_id),
    )


def sms_applied(results: Sequence[OperationResult]) -> bool:
    """Whether an SMS sign-in change was applied (the mobile's state is then read again)."""
    return any(r.ok and isinstance(r.operation, SetSmsSignIn) for r in results)


def describe_error(exc: GraphError) -> str:
    """The error for the report: the adapter's message, with status and code when it lacks them."""
    text = exc.message
    tag = " ".join(str(part) for part in (exc.status, exc.code) if part)
    if tag and tag not in text:
        text = f"{text} ({tag})"
    return mask_text(text)


def applied(op: Operation, now: CurrentMethods) -> bool:
    """Whether *now* (a re-read) shows *op* took effect: an earlier try whose answer was lost applied it."""
    match op:
        case AddPhone(kind=kind, number=number):
            have = now.phones.get(kind)
            return have is not None and method_key(kind, have) == method_key(kind, number)
        case AddEmail(address=address):
            return now.email is not None and method_key(MethodKind.EMAIL, now.email) == method_key(
                MethodKind.EMAIL, address
            )
        case SetSmsSignIn(enable=enable):
            return (now.sms_sign_in_state == "ready") == enable
        case DeletePhone(kind=kind):
            return kind not in now.phones
        case DeleteEmail():
            return now.email is None
        case _:
            return False


def _since(
    row: DesiredRow, before: CurrentMethods, done_now: Sequence[OperationResult]
) -> tuple[Plan, tuple[OperationResult, ...], CurrentMethods]:
    """The plan from *before*, with each of its writes marked as done now, done earlier, or failed."""
    original = plan(before, row)
    now = {_identity(r.operation): r for r in done_now}
    results = [
        now.pop(_identity(op)) if _identity(op) in now else OperationResult(op, ok=True)
        for op in original.operations
    ]
    results += now.values()  # writes the original plan did not foresee (the tenant changed meanwhile)
    return original, tuple(results), before


def _identity(op: Operation) -> tuple[str, str]:
    """What an operation does to whom, whatever the values: the same step of the same plan."""
    return type(op).__name__, str(getattr(op, "kind", ""))


def _kind(the_plan: Plan, results: Sequence[OperationResult], *, planned: bool) -> OutcomeKind:
    if any(not r.ok for r in results):
        return OutcomeKind.FAILED
    if (planned and the_plan.operations) or any(r.ok for r in results):
        return OutcomeKind.CHANGED
    return OutcomeKind.SKIPPED if the_plan.skipped else OutcomeKind.UNCHANGED
