"""report.csv, the plan listing and PII masking, asserted on rendered output parsed back."""

from __future__ import annotations

import csv
import io
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from provisioning.core.models import (
    Action,
    AddPhone,
    DefaultMethod,
    DesiredRow,
    OutcomeKind,
    SetDefaultMethod,
    SetSmsSignIn,
    Subject,
    UpdatePhone,
)
from provisioning.core.reports import (
    REPORT_COLUMNS,
    mask_email,
    mask_phone,
    mask_text,
    mask_user,
    render_plan_text,
    render_report_csv,
)
from provisioning.core.spreadsheet import FORMULA_TRIGGERS, neutralise_cell
from tests.builders import (
    ALT,
    ERROR,
    MOBILE,
    USER,
    A,
    B,
    current,
    decision,
    desired,
    failed,
    ok,
    outcome,
)

GUID = "3179e48a-750b-4051-897c-87b9720928f7"
_GUID_RE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
ADD_MOBILE = AddPhone(USER, MOBILE, A)
ADD_ALT = AddPhone(USER, ALT, B)
MOBILE_ADD = decision(Subject.MOBILE, Action.ADD, "not registered yet", None, A)
ALT_ADD = decision(Subject.ALTERNATE_MOBILE, Action.ADD, "not registered yet", None, B)


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def report_row(one) -> dict[str, str]:
    [row] = parse(render_report_csv([one]))
    return row


# --- masking --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        pytest.param("+31 612345678", "+31 ******678", id="graph-form"),
        pytest.param("+1 5555551234x123", "+1 *******234x***", id="extension-hidden"),
        pytest.param("+310612345678", "+*********678", id="no-space-keeps-plus-and-last-three"),
        pytest.param("06-12345678", "**-*****678", id="punctuation-kept"),
        pytest.param("123", "***", id="three-digits-all-hidden"),
    ],
)
def test_mask_phone_keeps_country_code_and_last_three_digits(number, masked):
    """A phone number keeps its country code and last three digits, nothing else."""
    assert mask_phone(number) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        pytest.param("alice@contoso.com", "a***@contoso.com", id="email"),
        pytest.param("not-an-email", "n***", id="no-at-sign"),
        pytest.param("", "", id="empty"),
    ],
)
def test_mask_email_keeps_first_character_and_domain(value, masked):
    """An email keeps the first character of its local part and its domain."""
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    ("user", "masked"),
    [
        pytest.param("Alice.Smith@contoso.com", "A***@contoso.com", id="upn"),
        pytest.param(GUID, GUID, id="guid-as-is"),
    ],
)
def test_mask_user_masks_upns_and_keeps_object_ids(user, masked):
    """A UPN is masked like an email; an object id names nobody and stays."""
    assert mask_user(user) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param(
            "alice@contoso.com: +31 612345678 refused",
            "a***@contoso.com: +31 ******678 refused",
            id="email-and-phone",
        ),
        pytest.param(f"request-id {GUID}", f"request-id {GUID}", id="request-id-kept"),
        pytest.param("404 after 3 of 5 tries", "404 after 3 of 5 tries", id="short-numbers-kept"),
        pytest.param("user bob@a12345.com", "user b***@a**345.com", id="domain-digits-masked"),
        pytest.param(
            "user 'bob@x.com'", "user '***@x.com'", id="a-leading-quote-counts-as-the-first-character"
        ),
        pytest.param("+1 206-555-0100", "+* ***-***-*100", id="separated-digits"),
    ],
)
def test_mask_text_masks_emails_and_long_digit_runs(text, masked):
    """Free text loses every email local part and every phone-like run of five or more digits."""
    assert mask_text(text) == masked


@given(st.from_regex(r"\+[1-9][0-9]{0,2} [0-9]{5,14}(x[0-9]{1,5})?", fullmatch=True))
def test_masked_graph_phone_shows_country_code_and_hides_the_number(number):
    """A Graph-form number keeps its country code and never shows its national digits."""
    country, rest = number.split(" ")
    national = rest.split("x")[0]

    masked = mask_phone(number)

    assert masked.startswith(f"{country} ")
    assert national not in masked
    assert masked.split("x")[0].endswith(national[-3:])


@given(st.text())
def test_masked_phone_never_shows_four_digits_in_a_row(text):
    """Whatever it is given, mask_phone leaves at most three digits side by side."""
    assert not re.search(r"\d{4}", mask_phone(text))


@given(st.emails())
def test_masked_email_shows_only_the_first_character_of_the_local_part(email):
    """The local part of a masked email is its first character and three stars."""
    local, _, domain = email.rpartition("@")

    assert mask_email(email) == f"{local[:1]}***@{domain}"


@given(st.emails())
def test_mask_text_hides_the_local_part_of_an_email_in_text(email):
    """An email inside free text keeps only the first character of its local part."""
    local = email.rpartition("@")[0]

    masked = mask_text(f"<{email}>")

    assert masked.rpartition("@")[0] == f"<{local[:1]}***"


@given(st.text())
def test_mask_text_never_leaves_five_digits_in_a_row(text):
    """Outside GUIDs, no run of five or more digits survives mask_text."""
    assume(not _GUID_RE.search(text))

    assert not re.search(r"\d{5}", mask_text(text))


@given(st.text(alphabet=st.characters(blacklist_categories=["Nd"], blacklist_characters="@")))
def test_mask_text_leaves_text_without_digits_or_emails_alone(text):
    """Text with no digit and no email comes back unchanged."""
    assert mask_text(text) == text


# --- report.csv: shape ----------------------------------------------------------------------------


def test_report_has_the_header_and_one_line_per_outcome_in_input_order():
    """The report's header is fixed and its lines follow the outcomes' order."""
    outcomes = [
        outcome(OutcomeKind.UNCHANGED, row=desired(line=n, user=f"u{n}@contoso.test")) for n in (5, 2, 3)
    ]

    text = render_report_csv(outcomes)

    assert next(csv.reader(io.StringIO(text, newline=""))) == list(REPORT_COLUMNS)
    assert [(r["line"], r["upn"]) for r in parse(text)] == [
        ("5", "u5@contoso.test"),
        ("2", "u2@contoso.test"),
        ("3", "u3@contoso.test"),
    ]


def test_report_lines_end_with_crlf():
    """Every line ends with CRLF so Excel reads the file cleanly."""
    text = render_report_csv([outcome(OutcomeKind.UNCHANGED), outcome(OutcomeKind.UNCHANGED)])

    assert text.endswith("\r\n")
    assert text.count("\r\n") == 3
    assert "\n" not in text.replace("\r\n", "")


def test_report_of_no_outcomes_is_the_header_alone():
    """An empty run still writes the header."""
    assert parse(render_report_csv([])) == []


# --- report.csv: what happened to each subject ----------------------------------------------------


@pytest.mark.parametrize(
    ("one", "subject", "action", "reason"),
    [
        pytest.param(
            outcome(OutcomeKind.CHANGED, ops=[ADD_MOBILE], decisions=[MOBILE_ADD], results=[ok(ADD_MOBILE)]),
            "mobile",
            "add",
            "not registered yet",
            id="applied-add",
        ),
        pytest.param(
            outcome(
                OutcomeKind.FAILED, ops=[ADD_MOBILE], decisions=[MOBILE_ADD], results=[failed(ADD_MOBILE)]
            ),
            "mobile",
            "failed",
            ERROR,
            id="failed-write-shows-the-error",
        ),
        pytest.param(
            outcome(
                OutcomeKind.FAILED,
                ops=[ADD_MOBILE, ADD_ALT],
                decisions=[MOBILE_ADD, ALT_ADD],
                results=[failed(ADD_MOBILE)],
            ),
            "alternateMobile",
            "not attempted",
            "not attempted after the mobile write failed",
            id="write-after-a-failure",
        ),
        pytest.param(
            outcome(OutcomeKind.CHANGED, ops=[ADD_MOBILE], decisions=[MOBILE_ADD]),
            "mobile",
            "add",
            "not registered yet",
            id="dry-run-shows-the-plan",
        ),
        pytest.param(
            outcome(OutcomeKind.FAILED, ops=[ADD_MOBILE], decisions=[MOBILE_ADD], error="503 unavailable"),
            "mobile",
            "not attempted",
            "not attempted (503 unavailable)",
            id="row-failure-before-any-write",
        ),
        pytest.param(
            outcome(
                OutcomeKind.SKIPPED,
                decisions=[decision(Subject.MOBILE, Action.SKIP, "exists with another number", A, B)],
            ),
            "mobile",
            "skip",
            "exists with another number",
            id="skip-with-reason",
        ),
        pytest.param(
            outcome(OutcomeKind.CHANGED, ops=[ADD_MOBILE], decisions=[MOBILE_ADD], results=[ok(ADD_MOBILE)]),
            "email",
            "",
            "",
            id="subject-without-decision-is-blank",
        ),
        pytest.param(
            outcome(OutcomeKind.CHANGED, ops=[ADD_MOBILE], results=[ok(ADD_MOBILE)]),
            "mobile",
            "",
            "",
            id="write-without-decision-keeps-blank-action",
        ),
    ],
)
def test_subject_columns_show_what_happened(one, subject, action, reason):
    """Each subject shows the decision, or `failed` / `not attempted` when the writes went wrong."""
    row = report_row(one)

    assert (row[f"{subject}_action"], row[f"{subject}_reason"]) == (action, reason)


def test_previous_and_new_values_are_unmasked_and_spreadsheet_safe():
    """Phone numbers appear in full, with the quote that keeps Excel from evaluating them."""
    update = decision(Subject.MOBILE, Action.UPDATE, "ForcedUpdate: changed in place", A, B)
    op = UpdatePhone(USER, MOBILE, B, A)

    row = report_row(outcome(OutcomeKind.CHANGED, ops=[op], decisions=[update], results=[ok(op)]))

    assert (row["mobile_previous"], row["mobile_new"]) == (f"'{A}", f"'{B}")


def test_sms_sign_in_columns_and_request_ids():
    """SMS sign-in has its action, reason and state; request ids are space-separated without repeats."""
    op = SetSmsSignIn(USER, enable=True)
    sms = decision(
        Subject.SMS_SIGN_IN, Action.UPDATE, "enable SMS sign-in on the mobile", "notEnabled", "enable"
    )
    one = outcome(
        OutcomeKind.CHANGED,
        ops=[op],
        decisions=[sms],
        results=[ok(op, "req-2")],
        sms_state="ready",
        request_ids=["req-1", "req-2"],
    )

    row = report_row(one)

    assert row["smsSignIn_action"] == "update"
    assert row["smsSignIn_reason"] == "enable SMS sign-in on the mobile"
    assert row["smsSignInState"] == "ready"
    assert row["request_ids"] == "req-1 req-2"


# --- report.csv: the row's reason -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "reason"),
    [
        pytest.param(
            outcome(OutcomeKind.INVALID, row=desired(errors=("Mobile: not a number", "UPN: empty"))),
            "Mobile: not a number; UPN: empty",
            id="invalid-joins-the-errors",
        ),
        pytest.param(
            outcome(OutcomeKind.FAILED, error="404 user not found"), "404 user not found", id="failed"
        ),
        pytest.param(
            outcome(
                OutcomeKind.FAILED, ops=[ADD_MOBILE], decisions=[MOBILE_ADD], results=[failed(ADD_MOBILE)]
            ),
            f"mobile: {ERROR}",
            id="failed-write-without-row-error",
        ),
        pytest.param(
            outcome(
                OutcomeKind.SKIPPED,
                decisions=[
                    decision(Subject.MOBILE, Action.SKIP, "exists with another number"),
                    decision(Subject.EMAIL, Action.UNCHANGED, "already registered"),
                    decision(Subject.DEFAULT_METHOD, Action.SKIP, "needs the office phone"),
                ],
            ),
            "mobile: exists with another number; defaultMethod: needs the office phone",
            id="skipped-lists-the-skips",
        ),
        pytest.param(
            outcome(
                OutcomeKind.CHANGED,
                decisions=[
                    MOBILE_ADD,
                    decision(Subject.OFFICE, Action.NONE, "no value given"),
                    decision(Subject.DEFAULT_METHOD, Action.UPDATE, "moves"),
                ],
            ),
            "add mobile, update defaultMethod",
            id="changed-summarises-the-writes",
        ),
        pytest.param(outcome(OutcomeKind.UNCHANGED), "nothing to change", id="unchanged"),
    ],
)
def test_row_reason_explains_the_outcome(one, reason):
    """The row's reason column says why the row ended as it did."""
    assert report_row(one)["reason"] == reason


# --- report.csv: spreadsheet safety ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param('=HYPERLINK("http://evil","x")', id="equals"),
        pytest.param("+cmd|' /C calc'!A0", id="plus"),
        pytest.param("-2+3+cmd|' /C calc'!A0", id="minus"),
        pytest.param("@SUM(1+1)*cmd|' /C calc'!A0", id="at"),
        pytest.param("\t=1+1", id="tab"),
        pytest.param("\r=1+1", id="carriage-return"),
        pytest.param("\uff1d1+1", id="full-width-equals"),
    ],
)
def test_cells_a_spreadsheet_would_run_get_a_leading_quote(value):
    """A cell starting with a formula trigger is written with one leading quote and nothing else changed."""
    row = report_row(outcome(OutcomeKind.INVALID, row=desired(user=value, errors=(value,))))

    assert row["upn"] == f"'{value}"
    assert row["reason"] == f"'{value}"


@pytest.mark.parametrize("value", ["ann@contoso.test", "", "'already quoted", "a=b", 'x, "quoted"\nline'])
def test_harmless_cells_are_written_as_they_are(value):
    """Cells that cannot start a formula round-trip unchanged, commas, quotes and newlines included."""
    assert neutralise_cell(value) == value
    assert report_row(outcome(OutcomeKind.INVALID, row=desired(user=value, errors=("x",))))["upn"] == value


def test_no_report_cell_starts_with_a_formula_trigger():
    """Across a report full of phone numbers and errors, no cell can start a formula."""
    update = UpdatePhone(USER, MOBILE, B, A)
    outcomes = [
        outcome(
            OutcomeKind.FAILED,
            ops=[update, ADD_ALT],
            decisions=[decision(Subject.MOBILE, Action.UPDATE, "-", A, B), ALT_ADD],
            results=[failed(update, "-1 refused")],
            error="=1",
        ),
        outcome(OutcomeKind.INVALID, row=desired(user="@x", errors=("+1",))),
    ]

    cells = [cell for row in parse(render_report_csv(outcomes)) for cell in row.values()]

    assert not [cell for cell in cells if cell.startswith(FORMULA_TRIGGERS)]


# --- the plan listing -----------------------------------------------------------------------------


def test_plan_listing_shows_values_aligned_and_ends_with_the_summary():
    """Each row has a header line and one aligned line per subject it touches; `none` is left out."""
    one = outcome(
        OutcomeKind.CHANGED,
        row=desired(line=7),
        ops=[UpdatePhone(USER, MOBILE, B, A), SetDefaultMethod(USER, DefaultMethod.SMS, "push")],
        decisions=[
            decision(Subject.MOBILE, Action.UPDATE, "ForcedUpdate", A, B),
            decision(Subject.ALTERNATE_MOBILE, Action.SKIP, "needs a mobile", None, B),
            decision(Subject.OFFICE, Action.NONE, "no value given"),
            decision(Subject.EMAIL, Action.UNCHANGED, "already registered", "a@b.c", "a@b.c"),
            decision(Subject.DEFAULT_METHOD, Action.UPDATE, "moves", "push", "sms"),
        ],
    )

    text = render_plan_text([one])

    assert text.splitlines() == [
        f"line 7  {USER}  changed",
        "  mobile          update        +31 612345678 -> +31 687654321      (ForcedUpdate)",
        "  alternateMobile skip          (none) -> +31 687654321             (needs a mobile)",
        "  email           unchanged     a@b.c                               (already registered)",
        "  defaultMethod   update        push -> sms                         (moves)",
        "1 row: 1 changed, 0 unchanged, 0 skipped, 0 failed, 0 invalid; 2 writes planned",
    ]


def test_plan_listing_shows_why_a_row_is_invalid_or_failed():
    """Invalid and failed rows carry their reason under the row's header line."""
    rows = [
        outcome(OutcomeKind.INVALID, row=desired(line=2, errors=("Mobile: not a number",))),
        outcome(OutcomeKind.FAILED, row=desired(line=3), error="404 user not found"),
    ]

    lines = render_plan_text(rows).splitlines()

    assert lines[:4] == [
        f"line 2  {USER}  invalid",
        "  Mobile: not a number",
        f"line 3  {USER}  failed",
        "  404 user not found",
    ]


def test_plan_listing_of_a_real_plan_names_every_touched_subject():
    """A plan from the real planner lists its subjects, values unmasked."""
    from provisioning.core.planner import plan

    row = DesiredRow(2, USER, {MOBILE: A}, default_method=DefaultMethod.SMS)
    before = current(default_method="push", default_known=True)
    the_plan = plan(before, row)
    one = outcome(OutcomeKind.CHANGED, row=row, ops=the_plan.operations, decisions=the_plan.decisions)

    text = render_plan_text([one])

    assert f"-> {A}" in text
    assert "push -> sms" in text


def test_report_without_header_renders_only_the_lines_so_chunks_concatenate():
    """A header, then each chunk rendered without one, equals the whole report rendered at once."""
    first = [outcome(OutcomeKind.UNCHANGED, row=DesiredRow(2, "ann@contoso.test"))]
    second = [outcome(OutcomeKind.UNCHANGED, row=DesiredRow(n, f"u{n}@contoso.test")) for n in (3, 4)]

    pieces = (
        render_report_csv([])
        + render_report_csv(first, header=False)
        + render_report_csv(second, header=False)
    )

    assert pieces == render_report_csv(first + second)
    assert render_report_csv([], header=False) == ""
