"""The soak's invariant checker (pure): input, tenant before and after, history and report -> violations.

The plan is the product's own: the CSV read by ``csv_input.parse_csv`` and each row planned by
``planner.plan`` against the user as the initial snapshot has it. The expected end state is that
plan's operations applied to the initial methods. Invariants, each named in the result:

- ``row_outcomes``: every input row has exactly one line in report.csv, and nothing else is there;
- ``outcome_kind``: each row's outcome is the plan's (invalid, changed, unchanged or skipped), unless failed;
- ``end_state``: a changed, unchanged or skipped row's user holds exactly the planned methods (and the
  default method and SMS sign-in state where the plan sets them);
- ``failed_state``: a failed row's user holds, per method, either the value before or the planned one;
- ``lost_methods``: no method was ever deleted that the plan did not delete (from the history);
- ``unplanned_writes``: no method was ever written in a way the plan did not ask (users not in the
  file included);
- ``duplicate_methods``: no kind added twice without a delete between, no number on two phone kinds
  unless the plan put it there;
- ``job_completed``: the job is completed.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provisioning.core.models import (
    ALL_KINDS,
    PHONE_KINDS,
    AddEmail,
    AddPhone,
    CurrentMethods,
    DeleteEmail,
    DeletePhone,
    DesiredRow,
    MethodKind,
    OutcomeKind,
    Plan,
    SetDefaultMethod,
    SetSmsSignIn,
    UpdateEmail,
    UpdatePhone,
    method_key,
)
from provisioning.core.planner import plan
from provisioning.csv_input.reader import parse_csv

INVARIANTS = (
    "row_outcomes",
    "outcome_kind",
    "end_state",
    "failed_state",
    "lost_methods",
    "unplanned_writes",
    "duplicate_methods",
    "job_completed",
)
_MANAGED = frozenset(kind.value for kind in ALL_KINDS)
Snapshot = Mapping[str, Any]  # one user as the sandbox's /_sandbox/state lists it
Methods = dict[MethodKind, str]


@dataclass(frozen=True)
class Evidence:
    """Everything the checker looks at, as plain data."""

    csv: bytes
    initial: Sequence[Snapshot]
    final: Sequence[Snapshot]
    history: Mapping[str, Sequence[Mapping[str, Any]]]
    report_csv: str
    job_state: str | None
    default_region: str | None = "NL"


@dataclass(frozen=True)
class Violation:
    invariant: str
    line: int | None
    user: str
    detail: str


@dataclass
class Verdict:
    """Counts and violations; ``ok`` when there are none."""

    rows: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    failed_rows: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def by_invariant(self) -> dict[str, int]:
        counts = dict.fromkeys(INVARIANTS, 0)
        for violation in self.violations:
            counts[violation.invariant] += 1
        return counts

    def add(self, invariant: str, line: int | None, user: str, detail: str) -> None:
        self.violations.append(Violation(invariant, line, user, detail))


def check(evidence: Evidence) -> Verdict:
    """Every invariant over *evidence*; never raises for bad data (bad data is a violation)."""
    verdict = Verdict()
    parsed = parse_csv(evidence.csv, source="soak.csv", default_region=evidence.default_region)
    rows = list(parsed.rows)
    verdict.rows = len(rows)
    initial = _by_user(evidence.initial)
    final = _by_user(evidence.final)
    report = _report_lines(evidence.report_csv, verdict)
    planned: dict[str, Plan] = {}
    for row in rows:
        lines = report.get(row.line, [])
        if len(lines) != 1:
            verdict.add("row_outcomes", row.line, row.user, f"{len(lines)} outcomes in report.csv")
        outcome = lines[0]["outcome"] if lines else None
        if outcome is not None:
            verdict.outcomes[outcome] += 1
        the_plan = _check_row(row, outcome, lines[0] if lines else {}, initial, final, verdict)
        if the_plan is not None:
            planned[row.user.lower()] = the_plan
    for line in sorted(set(report) - {row.line for row in rows}):
        verdict.add("row_outcomes", line, report[line][0].get("upn", ""), "report line not in the input")
    _check_history(evidence.history, planned, verdict)
    _check_duplicates(evidence, initial, planned, verdict)
    if evidence.job_state != "completed":
        verdict.add("job_completed", None, "", f"job state is {evidence.job_state!r}, not 'completed'")
    return verdict


# --- per row ------------------------------------------------------------------------------------


def _check_row(
    row: DesiredRow,
    outcome: str | None,
    line: Mapping[str, str],
    initial: Mapping[str, Snapshot],
    final: Mapping[str, Snapshot],
    verdict: Verdict,
) -> Plan | None:
    if not row.valid:
        if outcome not in (None, OutcomeKind.INVALID.value):
            verdict.add("outcome_kind", row.line, row.user, f"an invalid row reported as {outcome}")
        return None
    before = initial.get(row.user.lower())
    after = final.get(row.user.lower())
    if before is None or after is None:
        verdict.add("end_state", row.line, row.user, "the user is not in the tenant snapshots")
        return None
    the_plan = plan(current_methods(row.user, before), row)
    start, want, now = methods_of(before), expected_methods(before, the_plan), methods_of(after)
    if outcome == OutcomeKind.FAILED.value:
        verdict.failed_rows.append({"line": str(row.line), "reason": line.get("reason", "")})
        for kind in ALL_KINDS:
            if not (
                _same(kind, now.get(kind), start.get(kind)) or _same(kind, now.get(kind), want.get(kind))
            ):
                verdict.add("failed_state", row.line, row.user, f"{kind} is neither as before nor as planned")
        return the_plan
    expected = _expected_kind(the_plan)
    if outcome is not None and outcome != expected:
        verdict.add("outcome_kind", row.line, row.user, f"reported {outcome}, the plan says {expected}")
    for kind in ALL_KINDS:
        if not _same(kind, now.get(kind), want.get(kind)):
            verdict.add("end_state", row.line, row.user, f"{kind} differs from the plan")
    for problem in _settings_differ(the_plan, after):
        verdict.add("end_state", row.line, row.user, problem)
    return the_plan


def _settings_differ(the_plan: Plan, after: Snapshot) -> list[str]:
    """The default method and SMS sign-in, where the plan changes them, as they ended."""
    problems = []
    for op in the_plan.operations:
        match op:
            case SetDefaultMethod(method=method) if after.get("defaultMethod") != method.value:
                problems.append(f"default method is {after.get('defaultMethod')}, the plan set {method}")
            case SetSmsSignIn(enable=enable) if (
                after.get("smsSignInState") not in (None, "notEnabled")
            ) != enable:
                problems.append(f"SMS sign-in is {after.get('smsSignInState')}, the plan set enable={enable}")
            case _:
                pass
    return problems


def _expected_kind(the_plan: Plan) -> str:
    if the_plan.operations:
        return OutcomeKind.CHANGED.value
    return (OutcomeKind.SKIPPED if the_plan.skipped else OutcomeKind.UNCHANGED).value


def current_methods(user: str, snapshot: Snapshot) -> CurrentMethods:
    """The user as the pipeline would read it (methods and default), from a sandbox snapshot."""
    system = snapshot.get("isSystemPreferredAuthenticationMethodEnabled")
    return CurrentMethods(
        user=user,
        phones=methods_of(snapshot, phones_only=True),
        email=snapshot.get("email"),
        sms_sign_in_state=snapshot.get("smsSignInState"),
        default_method=snapshot.get("defaultMethod"),
        default_known=True,
        system_preferred=system if isinstance(system, bool) else None,
        other_methods=tuple(snapshot.get("otherMethods") or ()),
    )


def methods_of(snapshot: Snapshot, *, phones_only: bool = False) -> Methods:
    """The managed methods of a snapshot by kind."""
    phones = snapshot.get("phoneMethods") or {}
    methods: Methods = {kind: phones[kind.value] for kind in PHONE_KINDS if phones.get(kind.value)}
    if not phones_only and snapshot.get("email"):
        methods[MethodKind.EMAIL] = str(snapshot["email"])
    return methods


def expected_methods(snapshot: Snapshot, the_plan: Plan) -> Methods:
    """The managed methods once every operation of *the_plan* is applied to the snapshot's."""
    methods = methods_of(snapshot)
    for op in the_plan.operations:
        match op:
            case AddPhone(kind=kind, number=number) | UpdatePhone(kind=kind, number=number):
                methods[kind] = number
            case DeletePhone(kind=kind):
                methods.pop(kind, None)
            case AddEmail(address=address) | UpdateEmail(address=address):
                methods[MethodKind.EMAIL] = address
            case DeleteEmail():
                methods.pop(MethodKind.EMAIL, None)
            case _:
                pass  # the default method and SMS sign-in are not methods of their own
    return methods


def _same(kind: MethodKind, a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return method_key(kind, a) == method_key(kind, b)


# --- history and duplicates ---------------------------------------------------------------------


def _planned_actions(the_plan: Plan | None) -> set[tuple[str, str]]:
    """(kind, action) pairs the plan may leave in the history."""
    actions: set[tuple[str, str]] = set()
    for op in the_plan.operations if the_plan else ():
        match op:
            case AddPhone(kind=kind):
                actions.add((kind.value, "add"))
            case UpdatePhone(kind=kind):
                actions.add((kind.value, "update"))
            case DeletePhone(kind=kind):
                actions.add((kind.value, "delete"))
            case AddEmail():
                actions.add(("email", "add"))
            case UpdateEmail():
                actions.add(("email", "update"))
            case DeleteEmail():
                actions.add(("email", "delete"))
            case _:
                pass
    return actions


def _check_history(
    history: Mapping[str, Sequence[Mapping[str, Any]]], planned: Mapping[str, Plan], verdict: Verdict
) -> None:
    for user, changes in history.items():
        allowed = _planned_actions(planned.get(user.lower()))
        added: set[str] = set()
        for change in changes:
            kind, action = str(change.get("kind")), str(change.get("action"))
            if kind not in _MANAGED:
                continue  # default method and SMS sign-in state follow the methods in the sandbox
            if (kind, action) not in allowed:
                invariant = "lost_methods" if action == "delete" else "unplanned_writes"
                verdict.add(invariant, None, user, f"{action} {kind} that the plan did not ask for")
            if action == "add" and kind in added:
                verdict.add("duplicate_methods", None, user, f"{kind} added twice without a delete")
            added = added | {kind} if action == "add" else added - {kind} if action == "delete" else added


def _check_duplicates(
    evidence: Evidence, initial: Mapping[str, Snapshot], planned: Mapping[str, Plan], verdict: Verdict
) -> None:
    """A number on two phone kinds of one user, where neither the plan nor the start put it."""
    for snapshot in evidence.final:
        user = str(snapshot.get("userPrincipalName", ""))
        now = _duplicated(methods_of(snapshot, phones_only=True))
        if not now:
            continue
        before = initial.get(user.lower(), {})
        the_plan = planned.get(user.lower())
        expected = expected_methods(before, the_plan) if the_plan else methods_of(before)
        if now - _duplicated({k: v for k, v in expected.items() if k is not MethodKind.EMAIL}):
            verdict.add("duplicate_methods", None, user, "one number on two phone kinds")


def _duplicated(phones: Methods) -> set[str]:
    keys = Counter(method_key(kind, number) for kind, number in phones.items())
    return {key for key, count in keys.items() if count > 1}


# --- inputs ------------------------------------------------------------------------------------


def _by_user(snapshots: Sequence[Snapshot]) -> dict[str, Snapshot]:
    out: dict[str, Snapshot] = {}
    for snapshot in snapshots:
        for key in ("userPrincipalName", "id"):
            value = snapshot.get(key)
            if isinstance(value, str):
                out[value.lower()] = snapshot
    return out


def _report_lines(text: str, verdict: Verdict) -> dict[int, list[dict[str, str]]]:
    lines: dict[int, list[dict[str, str]]] = {}
    for record in csv.DictReader(io.StringIO(text)):
        try:
            number = int(record.get("line") or "")
        except ValueError:
            verdict.add("row_outcomes", None, record.get("upn") or "", "a report line without a line number")
            continue
        lines.setdefault(number, []).append(dict(record))
    return lines
