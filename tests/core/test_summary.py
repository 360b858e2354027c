"""summary.json, the Summary counts and the one-line summary."""

from __future__ import annotations

import dataclasses
import json

import pytest

from provisioning.core.models import (
    Action,
    AddEmail,
    AddPhone,
    DefaultMethod,
    DeletePhone,
    OutcomeKind,
    SetDefaultMethod,
    SetSmsSignIn,
    Subject,
    UpdatePhone,
)
from provisioning.core.summary import (
    Summary,
    format_summary_line,
    render_summary,
    summarise,
    summary_document,
)
from tests.builders import ALT, MOBILE, OFFICE, USER, A, B, C, decision, failed, ok, outcome

ADD_MOBILE = AddPhone(USER, MOBILE, A)
ADD_ALT = AddPhone(USER, ALT, B)
ADD_EMAIL = AddEmail(USER, "ann@fabrikam.test")
UPDATE_MOBILE = UpdatePhone(USER, MOBILE, B, A)
DELETE_OFFICE = DeletePhone(USER, OFFICE, C)
SET_DEFAULT = SetDefaultMethod(USER, DefaultMethod.SMS, "push")
SET_SMS = SetSmsSignIn(USER, enable=True)


def render(outcomes, *, dry_run: bool = False, graph_requests: int | None = None):
    text = render_summary(
        outcomes,
        source="users.csv",
        started="t0",
        finished="t1",
        dry_run=dry_run,
        graph_requests=graph_requests,
    )
    return json.loads(text)


def test_summary_of_no_rows_has_every_key_at_zero():
    """Every outcome, action and write key is present even when nothing happened."""
    document = render([], graph_requests=None)

    assert document == {
        "source": "users.csv",
        "dryRun": False,
        "started": "t0",
        "finished": "t1",
        "rows": 0,
        "outcomes": {"changed": 0, "unchanged": 0, "skipped": 0, "failed": 0, "invalid": 0},
        "actions": {"add": 0, "update": 0, "delete": 0, "defaultMethod": 0, "smsSignIn": 0},
        "writes": {"applied": 0, "failed": 0, "notAttempted": 0},
        "graphRequests": None,
    }


def test_summary_counts_outcomes_and_applied_writes_only():
    """Actions count applied writes; a failed write and the ones after it are counted apart."""
    outcomes = [
        outcome(
            OutcomeKind.CHANGED,
            ops=[ADD_MOBILE, ADD_EMAIL, UPDATE_MOBILE, SET_DEFAULT, SET_SMS, DELETE_OFFICE],
            results=[
                ok(o) for o in (ADD_MOBILE, ADD_EMAIL, UPDATE_MOBILE, SET_DEFAULT, SET_SMS, DELETE_OFFICE)
            ],
        ),
        outcome(
            OutcomeKind.FAILED,
            ops=[ADD_MOBILE, ADD_ALT, DELETE_OFFICE],
            results=[ok(ADD_MOBILE), failed(ADD_ALT)],
        ),
        outcome(OutcomeKind.UNCHANGED),
        outcome(OutcomeKind.SKIPPED, decisions=[decision(Subject.MOBILE, Action.SKIP)]),
        outcome(OutcomeKind.INVALID),
        outcome(OutcomeKind.FAILED, error="404 user not found"),
    ]

    document = render(outcomes, graph_requests=17)

    assert document["rows"] == 6
    assert document["outcomes"] == {"changed": 1, "unchanged": 1, "skipped": 1, "failed": 2, "invalid": 1}
    assert document["actions"] == {"add": 3, "update": 1, "delete": 1, "defaultMethod": 1, "smsSignIn": 1}
    assert document["writes"] == {"applied": 7, "failed": 1, "notAttempted": 1}
    assert document["graphRequests"] == 17


def test_dry_run_summary_plans_writes_and_applies_none():
    """In a dry run nothing is applied and nothing counts as not attempted."""
    outcomes = [outcome(OutcomeKind.CHANGED, ops=[ADD_MOBILE, SET_SMS])]

    document = render(outcomes, dry_run=True)
    summary = summarise(outcomes)

    assert document["dryRun"] is True
    assert document["writes"] == {"applied": 0, "failed": 0, "notAttempted": 0}
    assert summary.writes_planned == 2


def test_summary_json_is_indented_and_ends_with_a_newline():
    """summary.json is human-readable: two-space indent and a final newline."""
    text = render_summary([], source="s", started="a", finished="b", dry_run=False)

    assert text.startswith('{\n  "source": "s"')
    assert text.endswith("}\n")


def test_summary_is_a_frozen_value():
    """The CLI gets an immutable Summary."""
    summary = summarise([outcome(OutcomeKind.UNCHANGED)])

    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.rows = 2  # type: ignore[misc]


def _summary(**counts: int) -> Summary:
    fields = {f.name: 0 for f in dataclasses.fields(Summary)}
    return Summary(**(fields | counts))


@pytest.mark.parametrize(
    ("summary", "dry_run", "line"),
    [
        pytest.param(
            _summary(
                rows=40,
                changed=25,
                unchanged=10,
                skipped=3,
                failed=1,
                invalid=1,
                writes_applied=48,
                writes_failed=1,
            ),
            False,
            "40 rows: 25 changed, 10 unchanged, 3 skipped, 1 failed, 1 invalid; 48 writes applied, 1 failed",
            id="apply",
        ),
        pytest.param(
            _summary(rows=1, failed=1, writes_applied=1, writes_failed=1, writes_not_attempted=2),
            False,
            "1 row: 0 changed, 0 unchanged, 0 skipped, 1 failed, 0 invalid; 1 writes applied, 1 failed, "
            "2 not attempted",
            id="one-row-with-writes-not-attempted",
        ),
        pytest.param(
            _summary(rows=3, changed=2, unchanged=1, writes_planned=5),
            True,
            "3 rows: 2 changed, 1 unchanged, 0 skipped, 0 failed, 0 invalid; 5 writes planned",
            id="dry-run",
        ),
    ],
)
def test_summary_line_names_every_count(summary, dry_run, line):
    """The one-line summary gives the rows per outcome and how the writes went."""
    assert format_summary_line(summary, dry_run=dry_run) == line


def test_summaries_add_up_field_by_field():
    """The sum of two chunks' summaries is the summary of both chunks together."""
    first = [outcome(OutcomeKind.CHANGED, results=[ok(ADD_MOBILE), failed(ADD_ALT)])]
    second = [outcome(OutcomeKind.UNCHANGED), outcome(OutcomeKind.CHANGED, results=[ok(SET_SMS)])]

    assert summarise(first) + summarise(second) == summarise(first + second)
    assert summarise([]) + summarise(first) == summarise(first)


def test_summary_document_of_counts_is_what_render_summary_writes():
    """summary_document over added-up counts gives the same document as render_summary over all rows."""
    outcomes = [outcome(OutcomeKind.CHANGED, results=[ok(ADD_MOBILE)]), outcome(OutcomeKind.SKIPPED)]

    document = summary_document(
        summarise(outcomes[:1]) + summarise(outcomes[1:]),
        source="users.csv",
        started="t0",
        finished="t1",
        dry_run=False,
    )

    assert document == render(outcomes)
