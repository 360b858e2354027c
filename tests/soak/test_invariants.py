"""The soak's invariant checker: a clean run passes, and each invariant fails on hand-made bad data."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from soak.invariants import INVARIANTS, Evidence, check

HEADER = "UPN,Mobile,OfficePhone,AlternateEmail,ForcedUpdate,ForcedRemoval\r\n"
CSV = (
    HEADER
    + "add@x.test,+31 611111111,,,,\r\n"  # line 2: add a mobile
    + "same@x.test,+31 622222222,,,,\r\n"  # line 3: unchanged
    + "drop@x.test,+31 633333333,,,,yes\r\n"  # line 4: delete office and email
    + "other@x.test,+31 644444444,,,,\r\n"  # line 5: another mobile, no ForcedUpdate: skipped
    + "bad@x.test,12345,,,,\r\n"  # line 6: invalid
).encode()


def user(upn: str, phones: dict[str, str] | None = None, email: str | None = None) -> dict[str, Any]:
    return {
        "userPrincipalName": upn,
        "id": f"id-{upn}",
        "phoneMethods": phones or {},
        "email": email,
        "defaultMethod": "push",
        "otherMethods": ["microsoftAuthenticator"],
    }


INITIAL = [
    user("add@x.test"),
    user("same@x.test", {"mobile": "+31 622222222"}),
    user("drop@x.test", {"mobile": "+31 633333333", "office": "+31 201111111"}, "d@y.test"),
    user("other@x.test", {"mobile": "+31 699999999"}),
    user("bad@x.test"),
    user("absent@x.test", {"mobile": "+31 655555555"}),
]
FINAL_CHANGES: dict[str, dict[str, Any]] = {
    "add@x.test": {"phoneMethods": {"mobile": "+31 611111111"}},
    "drop@x.test": {"phoneMethods": {"mobile": "+31 633333333"}, "email": None},
}
HISTORY = {
    "add@x.test": [
        {"time": 1.0, "kind": "mobile", "action": "add", "before": None, "after": "+31 611111111"}
    ],
    "drop@x.test": [
        {"time": 2.0, "kind": "office", "action": "delete", "before": "+31 201111111", "after": None},
        {"time": 3.0, "kind": "email", "action": "delete", "before": "d@y.test", "after": None},
    ],
}
REPORT = [(2, "add@x.test", "changed"), (3, "same@x.test", "unchanged"), (4, "drop@x.test", "changed"),
          (5, "other@x.test", "skipped"), (6, "bad@x.test", "invalid")]  # fmt: skip


def evidence(**changes: Any) -> Evidence:
    final = [u | FINAL_CHANGES.get(u["userPrincipalName"], {}) for u in copy.deepcopy(INITIAL)]
    report = "line,upn,outcome,reason\r\n" + "".join(f"{n},{u},{o},\r\n" for n, u, o in REPORT)
    values: dict[str, Any] = {"csv": CSV, "initial": INITIAL, "final": final, "history": HISTORY,
                              "report_csv": report, "job_state": "completed"}  # fmt: skip
    return Evidence(**(values | changes))


def final_with(upn: str, **values: Any) -> list[dict[str, Any]]:
    final = [dict(u) for u in evidence().final]
    return [u | values if u["userPrincipalName"] == upn else u for u in final]


def report_with(rows: list[tuple[int, str, str]]) -> str:
    return "line,upn,outcome,reason\r\n" + "".join(f"{n},{u},{o},\r\n" for n, u, o in rows)


def test_a_run_that_did_exactly_the_plan_has_no_violations():
    """The clean evidence passes every invariant and counts one outcome per row."""
    verdict = check(evidence())

    assert verdict.ok, verdict.violations
    assert verdict.rows == 5
    assert dict(verdict.outcomes) == {"changed": 2, "unchanged": 1, "skipped": 1, "invalid": 1}
    assert set(verdict.by_invariant()) == set(INVARIANTS)


BAD: dict[str, dict[str, Any]] = {
    "row_outcomes-missing": {"report_csv": report_with(REPORT[1:])},
    "row_outcomes-twice": {"report_csv": report_with([*REPORT, REPORT[0]])},
    "row_outcomes-unknown-line": {"report_csv": report_with([*REPORT, (9, "ghost@x.test", "changed")])},
    "outcome_kind": {"report_csv": report_with([(2, "add@x.test", "unchanged"), *REPORT[1:]])},
    "end_state": {"final": final_with("add@x.test", phoneMethods={})},
    "failed_state": {
        "report_csv": report_with([(2, "add@x.test", "failed"), *REPORT[1:]]),
        "final": final_with("add@x.test", phoneMethods={"mobile": "+31 600000000"}),
    },
    "lost_methods": {
        "history": HISTORY | {"absent@x.test": [{"time": 4.0, "kind": "mobile", "action": "delete"}]},
    },
    "unplanned_writes": {
        "history": HISTORY | {"same@x.test": [{"time": 4.0, "kind": "office", "action": "add"}]},
    },
    "duplicate_methods": {
        "history": HISTORY | {"add@x.test": [*HISTORY["add@x.test"], *HISTORY["add@x.test"]]},
    },
    "job_completed": {"job_state": "running"},
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_each_invariant_catches_its_violation(case: str):
    """Bad data for one invariant yields a violation of exactly that invariant."""
    verdict = check(evidence(**BAD[case]))

    invariant = case.split("-")[0]
    assert {v.invariant for v in verdict.violations} == {invariant}


def test_a_failed_row_left_as_before_is_allowed_but_listed():
    """A failed row whose user is untouched is no violation; it is listed with its reason."""
    report = report_with([(2, "add@x.test", "failed"), *REPORT[1:]])
    history = {k: v for k, v in HISTORY.items() if k != "add@x.test"}

    verdict = check(
        evidence(report_csv=report, final=final_with("add@x.test", phoneMethods={}), history=history)
    )

    assert verdict.ok, verdict.violations
    assert [row["line"] for row in verdict.failed_rows] == ["2"]


def test_one_number_on_two_phone_kinds_is_a_duplicate():
    """A number registered twice on a user nobody planned to touch that way is a duplicate method."""
    final = final_with("absent@x.test", phoneMethods={"mobile": "+31 655555555", "office": "+31655555555"})

    verdict = check(evidence(final=final))

    assert "duplicate_methods" in {v.invariant for v in verdict.violations}


def test_a_default_method_left_where_it_was_is_a_wrong_end_state():
    """The plan moves the default to SMS before removing the office phone; a tenant still on voiceOffice fails."""
    data = b"UPN,Mobile,OfficePhone,ForcedRemoval,DefaultMethod\r\nd@x.test,+31 611111111,,yes,sms\r\n"
    before = user("d@x.test", {"mobile": "+31 611111111", "office": "+31 201111111"}) | {
        "defaultMethod": "voiceOffice",
        "otherMethods": [],
    }
    history = {"d@x.test": [{"time": 1.0, "kind": "office", "action": "delete"}]}
    report = report_with([(2, "d@x.test", "changed")])
    moved = before | {"phoneMethods": {"mobile": "+31 611111111"}, "defaultMethod": "sms"}
    stuck = moved | {"defaultMethod": "voiceOffice"}

    good = check(evidence(csv=data, initial=[before], final=[moved], history=history, report_csv=report))
    bad = check(evidence(csv=data, initial=[before], final=[stuck], history=history, report_csv=report))

    assert good.ok, good.violations
    assert [v.invariant for v in bad.violations] == ["end_state"]
