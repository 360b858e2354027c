"""undo.csv: rows that put back what an apply run wrote, re-readable by our own reader."""

from __future__ import annotations

import csv
import io

import pytest

from provisioning.core.models import (
    ALL_KINDS,
    AddEmail,
    AddPhone,
    DefaultMethod,
    DeleteEmail,
    DeletePhone,
    OutcomeKind,
    SetDefaultMethod,
    SetSmsSignIn,
    UpdateEmail,
    UpdatePhone,
)
from provisioning.core.undo import render_undo_csv, undo_columns
from provisioning.csv_input.reader import parse_csv
from provisioning.graph.paths import GraphPaths
from provisioning.use_cases.executor import ChunkExecutor
from provisioning.use_cases.provision_rows import provision_rows
from tests.builders import ALT, MOBILE, OFFICE, USER, A, B, C, current, desired, failed, ok, outcome
from tests.fakes import FakeGraph, FakeUser

ALL = frozenset(ALL_KINDS)
HOME, WORK = "ann.home@fabrikam.test", "ann.work@fabrikam.test"
UNTOUCHED = {"Mobile": "", "AlternateMobile": "", "OfficePhone": "", "AlternateEmail": ""}
NO_OPTIONS = {"ForcedUpdate": "False", "ForcedRemoval": "False", "DefaultMethod": "", "SmsSignIn": ""}


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def undo_row(results, before, *, kind=OutcomeKind.CHANGED, managed=ALL) -> dict[str, str]:
    ops = [r.operation for r in results]
    [row] = parse(render_undo_csv([outcome(kind, ops=ops, results=results, before=before)], managed=managed))
    return row


@pytest.mark.parametrize(
    ("before", "results", "expected"),
    [
        pytest.param(
            current(email=None),
            [ok(AddPhone(USER, MOBILE, A))],
            {"Mobile": "", "ForcedRemoval": "True"},
            id="add-is-removed",
        ),
        pytest.param(
            current({MOBILE: A}),
            [ok(UpdatePhone(USER, MOBILE, B, A))],
            {"Mobile": A, "ForcedUpdate": "True"},
            id="update-restores-the-old-number",
        ),
        pytest.param(
            current({OFFICE: C}),
            [ok(DeletePhone(USER, OFFICE, C))],
            {"OfficePhone": C, "ForcedUpdate": "True"},
            id="delete-is-added-back",
        ),
        pytest.param(
            current({OFFICE: C}, default_method="voiceOffice", default_known=True),
            [ok(AddPhone(USER, MOBILE, A)), ok(SetDefaultMethod(USER, DefaultMethod.SMS, "voiceOffice"))],
            {"Mobile": "", "OfficePhone": C, "ForcedRemoval": "True", "DefaultMethod": "voiceOffice"},
            id="added-mobile-removed-and-default-moved-back",
        ),
        pytest.param(
            current({MOBILE: "+31 611111111", OFFICE: C, ALT: B}, email=HOME),
            [ok(UpdatePhone(USER, MOBILE, A, "+31 611111111"))],
            {"Mobile": "+31 611111111", "AlternateMobile": B, "OfficePhone": C, "AlternateEmail": HOME}
            | {"ForcedUpdate": "True"},
            id="untouched-methods-keep-their-values",
        ),
        pytest.param(
            current(),
            [ok(AddPhone(USER, MOBILE, A)), failed(AddPhone(USER, ALT, B))],
            {"Mobile": "", "AlternateMobile": "", "ForcedRemoval": "True"},
            id="partial-apply-undoes-what-was-applied",
        ),
        pytest.param(
            current({MOBILE: A}, default_method="push", default_known=True),
            [ok(UpdatePhone(USER, MOBILE, B, A)), failed(SetDefaultMethod(USER, DefaultMethod.SMS, "push"))],
            {"Mobile": A, "ForcedUpdate": "True", "DefaultMethod": ""},
            id="failed-default-change-is-not-undone",
        ),
        pytest.param(
            current(email=None),
            [ok(AddEmail(USER, HOME))],
            {"AlternateEmail": "", "ForcedRemoval": "True"},
            id="added-email-is-removed",
        ),
        pytest.param(
            current(email=HOME),
            [ok(UpdateEmail(USER, WORK, HOME))],
            {"AlternateEmail": HOME, "ForcedUpdate": "True"},
            id="updated-email-is-restored",
        ),
        pytest.param(
            current(email=HOME),
            [ok(DeleteEmail(USER, HOME))],
            {"AlternateEmail": HOME, "ForcedUpdate": "True"},
            id="deleted-email-is-added-back",
        ),
        pytest.param(
            current({MOBILE: A}, sms_sign_in_state="notEnabled"),
            [ok(SetSmsSignIn(USER, enable=True))],
            {"Mobile": A, "SmsSignIn": "disable"},
            id="enabled-sms-sign-in-is-disabled",
        ),
        pytest.param(
            current({MOBILE: A}, sms_sign_in_state="ready"),
            [ok(SetSmsSignIn(USER, enable=False))],
            {"Mobile": A, "SmsSignIn": "enable"},
            id="disabled-sms-sign-in-is-enabled",
        ),
        pytest.param(
            current({MOBILE: A}, sms_sign_in_state="ready"),
            [ok(UpdatePhone(USER, MOBILE, B, A)), ok(SetSmsSignIn(USER, enable=True))],
            {"Mobile": A, "ForcedUpdate": "True", "SmsSignIn": "enable"},
            id="sms-sign-in-that-was-ready-stays-enabled",
        ),
        pytest.param(
            current({MOBILE: A}, sms_sign_in_state="unknownFutureValue"),
            [ok(SetSmsSignIn(USER, enable=True))],
            {"Mobile": A, "SmsSignIn": "disable"},
            id="unfamiliar-sms-state-reverses-the-write",
        ),
        pytest.param(
            current(),
            [ok(AddPhone(USER, MOBILE, A)), ok(SetSmsSignIn(USER, enable=True))],
            {"Mobile": "", "ForcedRemoval": "True", "SmsSignIn": ""},
            id="sms-sign-in-goes-with-the-added-mobile",
        ),
        pytest.param(
            current({MOBILE: A}),
            [ok(SetDefaultMethod(USER, DefaultMethod.SMS, None))],
            {"Mobile": A, "DefaultMethod": ""},
            id="unset-default-is-left-where-the-run-put-it",
        ),
        pytest.param(
            current({MOBILE: A}),
            [ok(SetDefaultMethod(USER, DefaultMethod.SMS, "unknownFutureValue"))],
            {"Mobile": A, "DefaultMethod": ""},
            id="default-we-cannot-name-is-left",
        ),
        pytest.param(
            current({MOBILE: A}, email=None, email_known=False),
            [ok(UpdatePhone(USER, MOBILE, B, A))],
            {"Mobile": A, "AlternateEmail": "", "ForcedUpdate": "True"},
            id="unread-email-left-alone-without-forced-removal",
        ),
    ],
)
def test_undo_row_restores_the_previous_state(before, results, expected):
    """Each undo row holds the previous values and the options that make them win."""
    assert undo_row(results, before) == {"UPN": USER} | UNTOUCHED | NO_OPTIONS | expected


@pytest.mark.parametrize(
    "one",
    [
        pytest.param(outcome(OutcomeKind.UNCHANGED), id="unchanged"),
        pytest.param(outcome(OutcomeKind.CHANGED, ops=[AddPhone(USER, MOBILE, A)]), id="dry-run"),
        pytest.param(outcome(OutcomeKind.INVALID, row=desired(errors=("bad",))), id="invalid"),
        pytest.param(outcome(OutcomeKind.FAILED, error="404 user not found"), id="failed-before-writing"),
        pytest.param(
            outcome(
                OutcomeKind.FAILED,
                ops=[AddPhone(USER, MOBILE, A)],
                results=[failed(AddPhone(USER, MOBILE, A))],
            ),
            id="failed-first-write",
        ),
    ],
)
def test_rows_without_an_applied_write_have_no_undo_row(one):
    """Only users with at least one applied write appear in undo.csv."""
    assert parse(render_undo_csv([one], managed=ALL)) == []


def test_undo_header_is_the_input_format_with_the_managed_columns_only():
    """The header has UPN, the input file's method columns, then the row options."""
    text = render_undo_csv([], managed=frozenset({OFFICE, MOBILE}))

    assert text == "UPN,Mobile,OfficePhone,ForcedUpdate,ForcedRemoval,DefaultMethod,SmsSignIn\r\n"
    assert undo_columns(ALL)[1:5] == ("Mobile", "AlternateMobile", "OfficePhone", "AlternateEmail")


def test_undo_rows_follow_the_input_order():
    """Undo rows come in the order of the outcomes."""
    outcomes = [
        outcome(
            OutcomeKind.CHANGED,
            row=desired(user=user),
            ops=[AddPhone(user, MOBILE, A)],
            results=[ok(AddPhone(user, MOBILE, A))],
            before=current(user=user),
        )
        for user in ("zed@contoso.test", "amy@contoso.test")
    ]

    rows = parse(render_undo_csv(outcomes, managed=ALL))

    assert [r["UPN"] for r in rows] == ["zed@contoso.test", "amy@contoso.test"]


def test_undo_that_would_delete_an_unread_email_is_refused():
    """A ForcedRemoval row with an unknown email would delete it; that is a bug and raises."""
    before = current(email=None, email_known=False)

    with pytest.raises(ValueError, match=r"line 2: .*email method was not read"):
        undo_row([ok(AddPhone(USER, MOBILE, A))], before)


def test_unread_email_is_no_problem_when_the_file_has_no_email_column():
    """Without an AlternateEmail column the unknown email cannot be touched."""
    before = current(email=None, email_known=False)

    row = undo_row([ok(AddPhone(USER, MOBILE, A))], before, managed=frozenset({MOBILE}))

    assert row == {"UPN": USER, "Mobile": "", **NO_OPTIONS, "ForcedRemoval": "True"}


def test_applied_writes_without_the_previous_state_raise():
    """An outcome with applied writes but no previous state cannot be undone and raises."""
    op = AddPhone(USER, MOBILE, A)
    one = outcome(OutcomeKind.CHANGED, ops=[op], results=[ok(op)])
    one = type(one)(one.row, one.kind, plan=one.plan, current=None, results=one.results)

    with pytest.raises(ValueError, match="previous methods are missing"):
        render_undo_csv([one], managed=ALL)


@pytest.mark.parametrize("user", ["=1+1@contoso.test", "-2+3@contoso.test", "@evil"])
def test_risky_cells_are_quoted_but_phone_numbers_are_not(user):
    """Phone numbers stay readable by our reader; other formula-like cells get a leading quote."""
    op = UpdatePhone(user, MOBILE, B, A)
    one = outcome(
        OutcomeKind.CHANGED,
        row=desired(user=user),
        ops=[op],
        results=[ok(op)],
        before=current({MOBILE: A}, user=user),
    )

    [row] = parse(render_undo_csv([one], managed=frozenset({MOBILE})))

    assert (row["UPN"], row["Mobile"]) == (f"'{user}", A)


# --- round trip: apply, then apply undo.csv through our own reader --------------------------------


def _state(user: FakeUser) -> tuple[object, ...]:
    sms = user.sms if MOBILE in user.phones else None
    return dict(user.phones), user.email, user.default, sms


@pytest.mark.parametrize(
    ("user", "csv_text"),
    [
        pytest.param(
            FakeUser(email=HOME),
            f"UPN,Mobile,AlternateMobile,AlternateEmail\r\n{USER},{A},{B},\r\n",
            id="adds-removed-and-unread-email-kept",
        ),
        pytest.param(
            FakeUser(phones={MOBILE: A, OFFICE: C}, default="voiceOffice"),
            f"UPN,Mobile,OfficePhone,ForcedUpdate,ForcedRemoval\r\n{USER},{B},,True,True\r\n",
            id="update-and-delete-restored",
        ),
        pytest.param(
            FakeUser(phones={OFFICE: C}, default="voiceOffice"),
            f"UPN,Mobile,OfficePhone,DefaultMethod\r\n{USER},{A},,sms\r\n",
            id="default-moved-back-before-removal",
        ),
        pytest.param(
            FakeUser(phones={MOBILE: A}, sms="notEnabled", email=HOME),
            f"UPN,Mobile,AlternateEmail,ForcedUpdate,SmsSignIn\r\n{USER},{A},{WORK},True,enable\r\n",
            id="email-and-sms-sign-in-restored",
        ),
    ],
)
def test_applying_undo_csv_restores_the_methods(user, csv_text):
    """undo.csv, read by our reader and applied, brings the user back to the state before the run."""
    graph = FakeGraph({USER: user})
    before = _state(user)
    parsed = parse_csv(csv_text.encode(), source="in.csv")
    executor = ChunkExecutor(graph, GraphPaths("https://graph.test"), "https://graph.test")
    outcomes = provision_rows(list(parsed.rows), executor, dry_run=False)
    assert _state(user) != before

    undo = parse_csv(render_undo_csv(outcomes, managed=parsed.managed).encode(), source="undo.csv")
    undone = provision_rows(list(undo.rows), executor, dry_run=False)

    assert [o.kind for o in undone] == [OutcomeKind.CHANGED]
    assert _state(user) == before


def test_undo_without_header_renders_only_the_rows_so_chunks_concatenate():
    """A header, then each chunk rendered without one, equals the whole undo file rendered at once."""
    managed = frozenset({MOBILE})
    rows = [desired({MOBILE: A}, line=n, user=f"u{n}@contoso.test") for n in (2, 3)]
    applied = [
        outcome(
            OutcomeKind.CHANGED,
            row=row,
            results=[ok(AddPhone(row.user, MOBILE, A))],
            before=current(user=row.user),
        )
        for row in rows
    ]

    pieces = render_undo_csv([], managed=managed) + "".join(
        render_undo_csv([one], managed=managed, header=False) for one in applied
    )

    assert pieces == render_undo_csv(applied, managed=managed)
    assert render_undo_csv([], managed=managed, header=False) == ""
