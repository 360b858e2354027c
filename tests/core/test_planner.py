"""The planner's rules, one table row per rule (pure: no I/O)."""

from __future__ import annotations

import pytest

from provisioning.core.models import (
    Action,
    AddEmail,
    AddPhone,
    CurrentMethods,
    DefaultMethod,
    DeleteEmail,
    DeletePhone,
    DesiredRow,
    MethodKind,
    SetDefaultMethod,
    SetSmsSignIn,
    SmsSignIn,
    Subject,
    UpdateEmail,
    UpdatePhone,
)
from provisioning.core.planner import (
    SKIP_ALTERNATE_WITHOUT_MOBILE,
    SKIP_MOBILE_UNDER_ALTERNATE,
    SKIP_OTHER_VALUE,
    needs_default_method,
    needs_email,
    plan,
)

U = "ann@contoso.com"
MOBILE, ALT, OFFICE, EMAIL = (
    MethodKind.MOBILE,
    MethodKind.ALTERNATE_MOBILE,
    MethodKind.OFFICE,
    MethodKind.EMAIL,
)
A, B, C = "+31 612345678", "+31 687654321", "+31 201234567"


def current(phones=None, email=None, default=None, sms=None) -> CurrentMethods:
    return CurrentMethods(
        U,
        phones or {},
        email=email,
        email_known=True,
        sms_sign_in_state=sms,
        default_method=default,
        default_known=True,
    )


def row(values=None, *, upd=False, rem=False, sms=None, default=None) -> DesiredRow:
    return DesiredRow(
        2, U, values or {}, forced_update=upd, forced_removal=rem, sms_sign_in=sms, default_method=default
    )


OPS_CASES = [
    pytest.param(current(), row({MOBILE: A}), [AddPhone(U, MOBILE, A)], id="value-given-method-absent-adds"),
    pytest.param(current({MOBILE: A}), row({MOBILE: A}), [], id="same-value-is-unchanged"),
    pytest.param(
        current({MOBILE: "+31612345678"}), row({MOBILE: A}), [], id="same-digits-other-spacing-is-unchanged"
    ),
    pytest.param(
        current({MOBILE: A}),
        row({MOBILE: B}, upd=True),
        [UpdatePhone(U, MOBILE, B, A)],
        id="other-value-with-forced-update-patches-in-place",
    ),
    pytest.param(current({MOBILE: A}), row({MOBILE: B}), [], id="other-value-without-forced-update-skips"),
    pytest.param(
        current({OFFICE: C}), row({}, rem=True), [DeletePhone(U, OFFICE, C)], id="empty-with-removal-deletes"
    ),
    pytest.param(current({OFFICE: C}), row({}), [], id="empty-without-removal-keeps"),
    pytest.param(
        current(),
        row({ALT: B, MOBILE: A}),
        [AddPhone(U, MOBILE, A), AddPhone(U, ALT, B)],
        id="mobile-added-before-alternate",
    ),
    pytest.param(current(), row({ALT: B}), [], id="alternate-without-mobile-skips"),
    pytest.param(
        current({MOBILE: A, ALT: B}, default="voiceOffice"),
        row({}, rem=True),
        [DeletePhone(U, ALT, B), DeletePhone(U, MOBILE, A)],
        id="both-removed-alternate-goes-first",
    ),
    pytest.param(
        current({MOBILE: A, ALT: B}, default="voiceOffice"),
        row({ALT: B}, rem=True),
        [],
        id="mobile-removal-while-alternate-stays-skips",
    ),
    pytest.param(
        current({MOBILE: A, OFFICE: C}, default="sms"),
        row({OFFICE: C}, rem=True),
        [],
        id="default-method-is-not-deleted",
    ),
    pytest.param(
        current({MOBILE: A, OFFICE: C}, default="sms"),
        row({OFFICE: C}, rem=True, default=DefaultMethod.VOICE_OFFICE),
        [SetDefaultMethod(U, DefaultMethod.VOICE_OFFICE, "sms"), DeletePhone(U, MOBILE, A)],
        id="default-moved-first-then-deleted",
    ),
    pytest.param(
        current({MOBILE: A}, default="sms"),
        row({MOBILE: A, OFFICE: C}, default=DefaultMethod.VOICE_OFFICE),
        [AddPhone(U, OFFICE, C), SetDefaultMethod(U, DefaultMethod.VOICE_OFFICE, "sms")],
        id="default-set-after-its-phone-is-added",
    ),
    pytest.param(
        current({MOBILE: A}, default="sms"),
        row({MOBILE: A}, default=DefaultMethod.VOICE_OFFICE),
        [],
        id="default-on-a-phone-the-user-lacks-skips",
    ),
    pytest.param(
        current({MOBILE: A}, default="sms"),
        row({MOBILE: A}, default=DefaultMethod.SMS),
        [],
        id="same-default",
    ),
    pytest.param(
        current({MOBILE: A}, sms="notEnabled"),
        row({MOBILE: A}, sms=SmsSignIn.ENABLE),
        [SetSmsSignIn(U, True)],
        id="sms-sign-in-enabled-on-existing-mobile",
    ),
    pytest.param(
        current(),
        row({MOBILE: A}, sms=SmsSignIn.ENABLE),
        [AddPhone(U, MOBILE, A), SetSmsSignIn(U, True)],
        id="sms-sign-in-enabled-after-mobile-added",
    ),
    pytest.param(current({OFFICE: C}), row({}, sms=SmsSignIn.ENABLE), [], id="sms-sign-in-needs-a-mobile"),
    pytest.param(
        current({MOBILE: A}, sms="ready"), row({MOBILE: A}, sms=SmsSignIn.ENABLE), [], id="sms-already-ready"
    ),
    pytest.param(
        current({MOBILE: A}, sms="ready"),
        row({MOBILE: A}, sms=SmsSignIn.DISABLE),
        [SetSmsSignIn(U, False)],
        id="sms-sign-in-disabled",
    ),
    pytest.param(
        current({MOBILE: A}, sms="notEnabled"),
        row({MOBILE: A}, sms=SmsSignIn.DISABLE),
        [],
        id="sms-already-off",
    ),
    pytest.param(
        current(email=None), row({EMAIL: "a@b.com"}), [AddEmail(U, "a@b.com")], id="email-added-when-absent"
    ),
    pytest.param(
        current(email="old@b.com"),
        row({EMAIL: "a@b.com"}, upd=True),
        [UpdateEmail(U, "a@b.com", "old@b.com")],
        id="email-updated-in-place",
    ),
    pytest.param(
        current(email="A@B.com"), row({EMAIL: "a@b.com"}), [], id="email-compared-case-insensitively"
    ),
    pytest.param(
        current(email="old@b.com"), row({}, rem=True), [DeleteEmail(U, "old@b.com")], id="email-removed"
    ),
    pytest.param(
        current({MOBILE: A, OFFICE: C}, email="old@b.com", default="voiceOffice"),
        row({MOBILE: B, ALT: B, EMAIL: "n@b.com"}, upd=True, rem=True, sms=SmsSignIn.ENABLE),
        [
            UpdatePhone(U, MOBILE, B, A),
            AddPhone(U, ALT, B),
            UpdateEmail(U, "n@b.com", "old@b.com"),
            SetSmsSignIn(U, True),
        ],
        id="all-at-once-keeps-default-office",
    ),
]


@pytest.mark.parametrize(("have", "want", "expected"), OPS_CASES)
def test_plan_operations(have, want, expected):
    """Each Graph rule yields exactly these operations, in this order."""
    result = plan(have, want)

    assert list(result.operations) == expected


REASON_CASES = [
    pytest.param(current({MOBILE: A}), row({MOBILE: B}), Subject.MOBILE, SKIP_OTHER_VALUE, id="other-number"),
    pytest.param(current(), row({ALT: B}), Subject.ALTERNATE_MOBILE, SKIP_ALTERNATE_WITHOUT_MOBILE, id="alt"),
    pytest.param(
        current({MOBILE: A, ALT: B}, default="voiceOffice"),
        row({ALT: B}, rem=True),
        Subject.MOBILE,
        SKIP_MOBILE_UNDER_ALTERNATE,
        id="mobile-under-alternate",
    ),
]


@pytest.mark.parametrize(("have", "want", "subject", "reason"), REASON_CASES)
def test_skips_carry_their_reason(have, want, subject, reason):
    """A skipped method says why, in words an admin can act on."""
    result = plan(have, want)

    decision = next(d for d in result.decisions if d.subject is subject)
    assert (decision.action, decision.reason) == (Action.SKIP, reason)


def test_default_method_skip_names_the_default_and_the_fix():
    """Removing the default phone is refused with the default's name and how to move it."""
    result = plan(current({MOBILE: A, OFFICE: C}, default="sms"), row({OFFICE: C}, rem=True))

    decision = next(d for d in result.decisions if d.subject is Subject.MOBILE)
    assert decision.action is Action.SKIP
    assert "default sign-in method (sms)" in decision.reason
    assert "set DefaultMethod" in decision.reason


@pytest.mark.parametrize(
    ("have", "expected"),
    [
        pytest.param(current({MOBILE: A}, default="sms"), [], id="last-method-stays"),
        pytest.param(
            current({MOBILE: A, OFFICE: C}, default="sms"), [DeletePhone(U, OFFICE, C)], id="default-stays"
        ),
        pytest.param(
            current({MOBILE: A, OFFICE: C}, default="voiceOffice"),
            [DeletePhone(U, MOBILE, A)],
            id="other-default-stays",
        ),
        pytest.param(
            CurrentMethods(
                U, {MOBILE: A}, default_method="sms", default_known=True, other_methods=("fido2",)
            ),
            [],
            id="other-method-remains",
        ),
    ],
)
def test_the_default_phone_is_never_deleted_while_it_is_the_default(have, expected):
    """Graph's docs: a default phone "can't be deleted", with no exception for the last method."""
    result = plan(have, row({}, rem=True))

    assert list(result.operations) == expected


def test_delete_is_refused_when_the_default_is_unknown():
    """Without the user's default method the planner never deletes a phone."""
    have = CurrentMethods(U, {OFFICE: C}, default_known=False)

    result = plan(have, row({}, rem=True))

    assert result.operations == ()


def test_alternate_removal_blocked_by_default_also_keeps_the_mobile():
    """When the alternate must stay as the default, the mobile stays too (Graph's ordering rule)."""
    result = plan(current({MOBILE: A, ALT: B}, default="voiceAlternateMobile"), row({}, rem=True))

    assert result.operations == ()
    assert {d.subject: d.action for d in result.decisions}[Subject.MOBILE] is Action.SKIP


def test_kinds_without_a_column_are_never_touched():
    """A method kind whose column is absent from the file is left alone even with ForcedRemoval."""
    desired = DesiredRow(2, U, {MOBILE: A}, managed=frozenset({MOBILE}), forced_removal=True)

    result = plan(current({MOBILE: A, OFFICE: C}, email="x@y.com"), desired)

    assert result.operations == ()
    assert [d.subject for d in result.decisions] == [Subject.MOBILE]


def test_unread_email_is_never_changed():
    """When the email method was not read, the plan leaves email alone and says so."""
    have = CurrentMethods(U, {}, email_known=False, default_known=True)

    result = plan(have, row({EMAIL: "a@b.com"}))

    assert result.operations == ()
    assert {d.subject: d.action for d in result.decisions}[Subject.EMAIL] is Action.SKIP


def test_every_subject_touched_gets_one_decision():
    """Each managed method, the default and SMS sign-in each get exactly one decision."""
    result = plan(current(), row({MOBILE: A}, sms=SmsSignIn.ENABLE, default=DefaultMethod.SMS))

    subjects = [d.subject for d in result.decisions]
    assert sorted(subjects) == sorted(set(subjects))
    assert set(subjects) == set(Subject)


@pytest.mark.parametrize(
    ("have", "want", "expected"),
    [
        pytest.param(current({MOBILE: A}), row({MOBILE: A}), False, id="no-delete-no-default"),
        pytest.param(current({MOBILE: A}), row({}, rem=True), True, id="delete-needs-default"),
        pytest.param(current(), row({}, rem=True), False, id="nothing-to-delete"),
        pytest.param(current(), row({MOBILE: A}, default=DefaultMethod.SMS), True, id="default-change"),
    ],
)
def test_default_method_is_read_only_where_it_matters(have, want, expected):
    """The default method is needed only for rows that delete a phone or set a default."""
    assert needs_default_method(have, want) is expected


@pytest.mark.parametrize(
    ("want", "expected"),
    [
        pytest.param(row({EMAIL: "a@b.com"}), True, id="email-value"),
        pytest.param(row({}, rem=True), True, id="removal"),
        pytest.param(row({MOBILE: A}), False, id="phones-only"),
        pytest.param(
            DesiredRow(2, U, {}, managed=frozenset({MOBILE}), forced_removal=True), False, id="no-col"
        ),
    ],
)
def test_email_is_read_only_where_it_matters(want, expected):
    """The email method is read only when the row sets or may remove it."""
    assert needs_email(want) is expected
