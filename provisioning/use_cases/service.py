"""The executor: read each user's methods, plan, apply in the plan's order, and record one outcome per row.

Per-user Graph failures become values (``Outcome``); only bugs and configuration errors escape.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from provisioning.core.masking import mask_text, mask_user
from provisioning.core.models import (
    CurrentMethods,
    DesiredRow,
    Operation,
    OperationResult,
    Outcome,
    OutcomeKind,
    Plan,
    SetSmsSignIn,
)
from provisioning.core.planner import needs_default_method, plan
from provisioning.core.ports import GraphPort
from provisioning.errors import AuthenticationError, GraphError

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


def provision(
    rows: Sequence[DesiredRow],
    graph: GraphPort,
    *,
    dry_run: bool,
    concurrency: int = 1,
    progress: Progress | None = None,
) -> list[Outcome]:
    """One outcome per row, in input order. With *dry_run* nothing is written.

    Rows run concurrently (up to *concurrency* users at a time); one user's operations always run
    in the plan's order. An authentication failure stops the run (it would fail every row).
    """
    total = len(rows)
    done = 0
    lock = threading.Lock()

    def run(row: DesiredRow) -> Outcome:
        nonlocal done
        outcome = provision_row(row, graph, dry_run=dry_run)
        with lock:
            done += 1
            if progress is not None:
                progress(done, total)
        return outcome

    if concurrency <= 1:
        return [run(row) for row in rows]
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="provision") as pool:
        return list(pool.map(run, rows))


def provision_row(row: DesiredRow, graph: GraphPort, *, dry_run: bool) -> Outcome:
    """Read, plan and (unless *dry_run*) apply one row; never raises for a Graph error of this user."""
    current = read_current(row, graph)
    if isinstance(current, Outcome):
        return current
    return apply_row(row, graph, current, dry_run=dry_run)


def read_current(row: DesiredRow, graph: GraphPort) -> CurrentMethods | Outcome:
    """The user's methods now, or the row's final outcome when it is invalid or the read failed."""
    if not row.valid:
        return Outcome(row, OutcomeKind.INVALID, error="; ".join(row.errors))
    try:
        return _read(row, graph)
    except AuthenticationError:
        raise
    except GraphError as exc:
        log.warning("line %d %s: read failed: %s", row.line, mask_user(row.user), mask_text(str(exc)))
        return Outcome(row, OutcomeKind.FAILED, error=describe_error(exc), request_ids=_ids(exc))


def apply_row(
    row: DesiredRow,
    graph: GraphPort,
    current: CurrentMethods,
    *,
    dry_run: bool,
    before: CurrentMethods | None = None,
) -> Outcome:
    """Plan against *current* and apply; *before* is the state an earlier attempt found (a retry).

    On a retry the outcome describes the whole change since *before*: writes an earlier attempt made
    count as applied (their request ids are lost), so the report and undo.csv stay true.
    """
    the_plan = plan(current, row)
    if dry_run:
        return planned_outcome(row, the_plan, current)
    results = _apply(the_plan, graph)
    read = _read_sms_state(row, graph) if sms_applied(results) else None
    return finish_outcome(
        row, the_plan, current, results, before=before, sms_state=read, sms_read=read is not None
    )


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
    outcome = Outcome(
        row,
        _kind(the_plan, results, planned=False),
        plan=the_plan,
        current=current,
        results=tuple(results),
        error=next((r.error for r in results if not r.ok), None),
        sms_sign_in_state=sms_state if sms_read else current.sms_sign_in_state,
        request_ids=tuple(r.request_id for r in results if r.request_id),
    )
    log.info("line %d %s: %s", row.line, mask_user(row.user), outcome.kind)
    return outcome


def sms_applied(results: Sequence[OperationResult]) -> bool:
    """Whether an SMS sign-in change was applied (the mobile's state is then read again)."""
    return any(r.ok and isinstance(r.operation, SetSmsSignIn) for r in results)


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


def _read(row: DesiredRow, graph: GraphPort) -> CurrentMethods:
    """One read of all methods; the default method too, only for rows where it matters."""
    current = graph.read_methods(row.user)
    if needs_default_method(current, row):
        default, system_preferred = graph.read_default_method(row.user)
        current = replace(
            current, default_method=default, default_known=True, system_preferred=system_preferred
        )
    return current


def _apply(the_plan: Plan, graph: GraphPort) -> tuple[OperationResult, ...]:
    """Apply in order; stop at the first failure so no later step runs on a broken premise."""
    results: list[OperationResult] = []
    for op in the_plan.operations:
        try:
            request_id = graph.apply(op)
        except AuthenticationError:
            raise
        except GraphError as exc:
            results.append(
                OperationResult(op, ok=False, request_id=exc.request_id, error=describe_error(exc))
            )
            break
        results.append(OperationResult(op, ok=True, request_id=request_id))
    return tuple(results)


def _read_sms_state(row: DesiredRow, graph: GraphPort) -> str | None:
    try:
        return graph.read_sms_sign_in_state(row.user)
    except GraphError:
        return None  # the write is done; the state read is informational only


def _kind(the_plan: Plan, results: Sequence[OperationResult], *, planned: bool) -> OutcomeKind:
    if any(not r.ok for r in results):
        return OutcomeKind.FAILED
    if (planned and the_plan.operations) or any(r.ok for r in results):
        return OutcomeKind.CHANGED
    return OutcomeKind.SKIPPED if the_plan.skipped else OutcomeKind.UNCHANGED


def describe_error(exc: GraphError) -> str:
    """The error for the report: the adapter's message, with status and code when it lacks them."""
    text = exc.message
    tag = " ".join(str(part) for part in (exc.status, exc.code) if part)
    if tag and tag not in text:
        text = f"{text} ({tag})"
    return mask_text(text)


def _ids(exc: GraphError) -> tuple[str, ...]:
    return (exc.request_id,) if exc.request_id else ()
