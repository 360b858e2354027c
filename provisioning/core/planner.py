"""The pure planner: one row's wanted methods against the user's current ones -> ordered operations.

Graph's rules live here, each next to the code that honours it; the HTTP layer never reorders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import assert_never

from provisioning.core.models import (
    ALL_KINDS,
    DEFAULT_METHOD_PHONE,
    PHONE_KINDS,
    Action,
    AddEmail,
    AddPhone,
    CurrentMethods,
    Decision,
    DefaultMethod,
    DeleteEmail,
    DeletePhone,
    DesiredRow,
    MethodKind,
    Operation,
    Plan,
    SetDefaultMethod,
    SetSmsSignIn,
    SmsSignIn,
    Subject,
    UpdateEmail,
    UpdatePhone,
    method_key,
    subject_of,
)

SKIP_OTHER_VALUE = "exists with another number; set ForcedUpdate to overwrite"
SKIP_OTHER_EMAIL = "exists with another address; set ForcedUpdate to overwrite"
SKIP_ALTERNATE_WITHOUT_MOBILE = (
    "an alternate mobile needs a mobile phone first (Graph rule); give the row a Mobile value"
)
SKIP_MOBILE_UNDER_ALTERNATE = (
    "Graph cannot remove a mobile while an alternate mobile stays; clear AlternateMobile too "
    "(with ForcedRemoval) to remove both"
)
# SMS sign-in states in which SMS sign-in is off already (phoneAuthenticationMethod.smsSignInState).
_KEPT = "no value given; kept (set ForcedRemoval to remove)"
_SMS_OFF_STATES = frozenset({"notEnabled", "notSupported", "notAllowedByPolicy", "notConfigured"})

_Intents = dict[MethodKind, Decision]


def needs_default_method(current: CurrentMethods, desired: DesiredRow) -> bool:
    """Whether planning this row needs the user's default method (read it only then)."""
    if desired.default_method is not None:
        return True
    return any(d.action is Action.DELETE for d in _basic_intents(current, desired).values())


def needs_email(desired: DesiredRow) -> bool:
    """Whether planning this row needs the user's email method."""
    managed = MethodKind.EMAIL in desired.managed
    return managed and (MethodKind.EMAIL in desired.values or desired.forced_removal)


def plan(current: CurrentMethods, desired: DesiredRow) -> Plan:
    """Operations turning *current* into what *desired* asks, in apply order, with one decision per subject.

    Pure and deterministic. Order: adds and updates (mobile, alternate mobile, office, email), the
    default-method change, SMS sign-in, then deletes (office, alternate mobile, mobile, email).
    """
    intents = _basic_intents(current, desired)
    default = _settle_guards(current, desired, intents)
    sms = _plan_sms(current, desired, intents)
    operations = _order(desired.user, intents, default, sms, current)
    decisions = [intents[k] for k in ALL_KINDS if k in intents]
    decisions += [d for d in (default, sms) if d is not None]
    return Plan(desired.user, tuple(operations), tuple(decisions))


# --- Step 1: what each method kind would do on its own ---------------------------------------


def _basic_intents(current: CurrentMethods, desired: DesiredRow) -> _Intents:
    intents: _Intents = {}
    for kind in ALL_KINDS:
        if kind not in desired.managed:
            continue
        if kind is MethodKind.EMAIL and not current.email_known:
            # The service reads email whenever the row touches it; this is the defensive fallback.
            action = Action.SKIP if needs_email(desired) else Action.NONE
            intents[kind] = Decision(Subject.EMAIL, action, "the email method was not read; left as is")
            continue
        intents[kind] = _intent(kind, _have(current, kind), desired)
    return intents


def _have(current: CurrentMethods, kind: MethodKind) -> str | None:
    return current.email if kind is MethodKind.EMAIL else current.phones.get(kind)


def _intent(kind: MethodKind, have: str | None, desired: DesiredRow) -> Decision:
    want = desired.values.get(kind)
    subject = subject_of(kind)
    if want is None:
        if have is None:
            return Decision(subject, Action.NONE, "no value given; none registered")
        if desired.forced_removal:
            return Decision(subject, Action.DELETE, "empty cell with ForcedRemoval", have, None)
        return Decision(
            subject, Action.NONE, "no value given; kept (set ForcedRemoval to remove)", have, have
        )
    if have is None:
        return Decision(subject, Action.ADD, "not registered yet", None, want)
    if method_key(kind, have) == method_key(kind, want):
        return Decision(subject, Action.UNCHANGED, "already registered with this value", have, have)
    if desired.forced_update:
        # Update in place: never delete and re-add (a failed add would leave the user without it).
        return Decision(subject, Action.UPDATE, "ForcedUpdate: changed in place", have, want)
    reason = SKIP_OTHER_EMAIL if kind is MethodKind.EMAIL else SKIP_OTHER_VALUE
    return Decision(subject, Action.SKIP, reason, have, want)


# --- Step 2: rules that tie kinds together, applied until nothing changes ---------------------


def _settle_guards(current: CurrentMethods, desired: DesiredRow, intents: _Intents) -> Decision | None:
    """Apply the cross-method rules to *intents* in place; return the default-method decision."""
    for _ in range(len(PHONE_KINDS) + 2):
        before = dict(intents)
        default = _plan_default(current, desired, intents)
        _guard_default_deletes(current, intents, default)
        _guard_mobile_order(current, intents)
        if intents == before:
            return default
    return _plan_default(current, desired, intents)  # pragma: no cover - guards only ever skip


def _final_kinds(current: CurrentMethods, intents: Mapping[MethodKind, Decision]) -> set[MethodKind]:
    kinds = set(current.phones)
    for kind, decision in intents.items():
        if decision.action is Action.ADD:
            kinds.add(kind)
        elif decision.action is Action.DELETE:
            kinds.discard(kind)
    return kinds


def _plan_default(current: CurrentMethods, desired: DesiredRow, intents: _Intents) -> Decision | None:
    target = desired.default_method
    if target is None:
        return None
    previous = current.default_method
    needed = DEFAULT_METHOD_PHONE.get(target)
    if needed is not None and needed not in _final_kinds(current, intents):
        reason = f"DefaultMethod {target} needs the {needed} phone, which the user will not have"
        return Decision(Subject.DEFAULT_METHOD, Action.SKIP, reason, previous, target.value)
    if current.default_known and previous == target.value:
        return Decision(Subject.DEFAULT_METHOD, Action.UNCHANGED, "already the default", previous, previous)
    reason = f"default sign-in method moves from {previous or 'none'} to {target}"
    return Decision(Subject.DEFAULT_METHOD, Action.UPDATE, reason, previous, target.value)


def _guard_default_deletes(current: CurrentMethods, intents: _Intents, default: Decision | None) -> None:
    # A phone that is the user's default MFA method cannot be deleted, with no exception for the last
    # method; change the default first (learn.microsoft.com/graph/api/phoneauthenticationmethod-delete).
    moving_to = (
        DefaultMethod(default.new) if default and default.action is Action.UPDATE and default.new else None
    )
    for kind in PHONE_KINDS:
        decision = intents.get(kind)
        if decision is None or decision.action is not Action.DELETE:
            continue
        if not current.default_known:
            intents[kind] = _skip(decision, "the user's default method could not be read; not removed")
            continue
        current_default = _as_default(current.default_method)
        if current_default is None or DEFAULT_METHOD_PHONE.get(current_default) is not kind:
            continue
        if moving_to is None or DEFAULT_METHOD_PHONE.get(moving_to) is kind:
            reason = (
                f"it is the user's default sign-in method ({current_default}); set DefaultMethod "
                "to another registered method to move the default first"
            )
            intents[kind] = _skip(decision, reason)


def _guard_mobile_order(current: CurrentMethods, intents: _Intents) -> None:
    # A user cannot have an alternateMobile without a mobile
    # (learn.microsoft.com/graph/api/resources/phoneauthenticationmethod).
    mobile = intents.get(MethodKind.MOBILE)
    alternate_stays = MethodKind.ALTERNATE_MOBILE in current.phones and (
        intents.get(MethodKind.ALTERNATE_MOBILE) is None
        or intents[MethodKind.ALTERNATE_MOBILE].action is not Action.DELETE
    )
    if mobile is not None and mobile.action is Action.DELETE and alternate_stays:
        intents[MethodKind.MOBILE] = _skip(mobile, SKIP_MOBILE_UNDER_ALTERNATE)
    alternate = intents.get(MethodKind.ALTERNATE_MOBILE)
    if (
        alternate is not None
        and alternate.action is Action.ADD
        and MethodKind.MOBILE not in _final_kinds(current, intents)
    ):
        intents[MethodKind.ALTERNATE_MOBILE] = _skip(alternate, SKIP_ALTERNATE_WITHOUT_MOBILE)


def _skip(decision: Decision, reason: str) -> Decision:
    return replace(decision, action=Action.SKIP, reason=reason)


def _as_default(value: str | None) -> DefaultMethod | None:
    try:
        return DefaultMethod(value) if value else None
    except ValueError:
        return None  # push-like values we do not manage (e.g. unknownFutureValue) rest on no phone


# --- Step 3: SMS sign-in, after the mobile exists -------------------------------------------


def _plan_sms(current: CurrentMethods, desired: DesiredRow, intents: _Intents) -> Decision | None:
    wanted = desired.sms_sign_in
    if wanted is None:
        return None
    state = current.sms_sign_in_state
    mobile = intents.get(MethodKind.MOBILE)
    mobile_written = mobile is not None and mobile.action in (Action.ADD, Action.UPDATE)
    has_mobile = MethodKind.MOBILE in _final_kinds(current, intents)
    subject = Subject.SMS_SIGN_IN
    if wanted is SmsSignIn.ENABLE:
        # Only the primary mobile can be used for SMS sign-in (phoneauthenticationmethod-enablesmssignin).
        if not has_mobile:
            return Decision(subject, Action.SKIP, "SMS sign-in needs a mobile phone", state, "enable")
        if state == "ready" and not mobile_written:
            return Decision(subject, Action.UNCHANGED, "SMS sign-in already ready", state, state)
        return Decision(subject, Action.UPDATE, "enable SMS sign-in on the mobile", state, "enable")
    if not has_mobile:
        return Decision(subject, Action.UNCHANGED, "no mobile phone; SMS sign-in is off", state, state)
    if state in _SMS_OFF_STATES and not mobile_written:
        return Decision(subject, Action.UNCHANGED, "SMS sign-in already off", state, state)
    return Decision(subject, Action.UPDATE, "disable SMS sign-in on the mobile", state, "disable")


# --- Step 4: operations in apply order -----------------------------------------------------


def _order(
    user: str,
    intents: _Intents,
    default: Decision | None,
    sms: Decision | None,
    current: CurrentMethods,
) -> list[Operation]:
    ops: list[Operation] = []
    for kind in ALL_KINDS:  # mobile before alternate mobile: Graph rule
        decision = intents.get(kind)
        if decision is not None and decision.action in (Action.ADD, Action.UPDATE):
            ops.append(_write(user, kind, decision))
    if default is not None and default.action is Action.UPDATE and default.new:
        ops.append(SetDefaultMethod(user, DefaultMethod(default.new), current.default_method))
    if sms is not None and sms.action is Action.UPDATE:
        ops.append(SetSmsSignIn(user, sms.new == "enable"))
    # Deletes last, alternate before mobile; the default has moved off them by now.
    for kind in (*reversed(PHONE_KINDS), MethodKind.EMAIL):
        decision = intents.get(kind)
        if decision is not None and decision.action is Action.DELETE:
            ops.append(_write(user, kind, decision))
    return ops


def _write(user: str, kind: MethodKind, decision: Decision) -> Operation:
    previous, new = decision.previous, decision.new
    match decision.action:
        case Action.ADD if kind is MethodKind.EMAIL and new:
            return AddEmail(user, new)
        case Action.ADD if new:
            return AddPhone(user, kind, new)
        case Action.UPDATE if kind is MethodKind.EMAIL and new and previous:
            return UpdateEmail(user, new, previous)
        case Action.UPDATE if new and previous:
            return UpdatePhone(user, kind, new, previous)
        case Action.DELETE if kind is MethodKind.EMAIL and previous:
            return DeleteEmail(user, previous)
        case Action.DELETE if previous:
            return DeletePhone(user, kind, previous)
        case _:
            raise AssertionError(decision)


def operation_subject(op: Operation) -> Subject:
    """The decision subject an operation belongs to (for the report)."""
    match op:
        case AddPhone() | UpdatePhone() | DeletePhone():
            return subject_of(op.kind)
        case AddEmail() | UpdateEmail() | DeleteEmail():
            return Subject.EMAIL
        case SetDefaultMethod():
            return Subject.DEFAULT_METHOD
        case SetSmsSignIn():
            return Subject.SMS_SIGN_IN
        case _:
            assert_never(op)
