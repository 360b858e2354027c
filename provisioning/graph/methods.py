"""Graph's shapes of a user's authentication methods: the items of a methods read as ``CurrentMethods``,
and each planned write as its Graph request (method, URL, body).

Both are used by the chunk executor over ``$batch`` (``use_cases.executor``); URLs come from
``graph.paths``, the permission each call needs from ``graph.failures``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import assert_never

from provisioning.core.models import (
    PHONE_KINDS,
    AddEmail,
    AddPhone,
    CurrentMethods,
    DeleteEmail,
    DeletePhone,
    MethodKind,
    Operation,
    SetDefaultMethod,
    SetSmsSignIn,
    UpdateEmail,
    UpdatePhone,
)
from provisioning.graph.failures import WRITE_PERMISSION, Call
from provisioning.graph.paths import GraphPaths

_PHONE_TYPES: Mapping[str, MethodKind] = {kind.value: kind for kind in PHONE_KINDS}
# Methods that cannot be a default sign-in method: the password, and email (SSPR only).
_NOT_MFA = frozenset({"passwordAuthenticationMethod", "emailAuthenticationMethod"})


def collection_items(body: object) -> list[Mapping[str, object]]:
    """The objects of a collection body (``{"value": [...]}``); empty when it is not one."""
    values = body.get("value") if isinstance(body, Mapping) else None
    return [v for v in values if isinstance(v, Mapping)] if isinstance(values, list) else []


def methods_from_items(user: str, items: Sequence[Mapping[str, object]]) -> CurrentMethods:
    """A user's methods from the items of ``GET /authentication/methods`` (each with ``@odata.type``)."""
    phones: dict[MethodKind, str] = {}
    sms_state: str | None = None
    email: str | None = None
    others: list[str] = []
    for item in items:
        odata_type = str(item.get("@odata.type", "")).removeprefix("#microsoft.graph.")
        if odata_type == "phoneAuthenticationMethod":
            kind = _PHONE_TYPES.get(str(item.get("phoneType")))
            number = item.get("phoneNumber")
            if kind is None or not isinstance(number, str):
                continue  # unknownFutureValue and the like: not ours to manage
            phones[kind] = number
            state = item.get("smsSignInState")
            if kind is MethodKind.MOBILE and isinstance(state, str):
                sms_state = state
        elif odata_type == "emailAuthenticationMethod":
            address = item.get("emailAddress")
            email = address if isinstance(address, str) else None
        elif odata_type and odata_type not in _NOT_MFA:
            others.append(odata_type.removesuffix("AuthenticationMethod"))
    return CurrentMethods(
        user=user, phones=phones, email=email, sms_sign_in_state=sms_state, other_methods=tuple(others)
    )


def operation_call(paths: GraphPaths, operation: Operation, target: str) -> Call:
    """The Graph request for one write; *target* is the user path reference (UPN or object id)."""
    user = operation.user
    match operation:
        case AddPhone(kind=kind, number=number):
            body = {"phoneNumber": number, "phoneType": kind.value}
            return _write_call(
                "POST", paths.phone_methods(target), user, f"add {kind} phone", body, one_method=False
            )
        case UpdatePhone(kind=kind, number=number):
            body = {"phoneNumber": number, "phoneType": kind.value}
            return _write_call("PATCH", paths.phone_method(target, kind), user, f"update {kind} phone", body)
        case DeletePhone(kind=kind):
            return _write_call("DELETE", paths.phone_method(target, kind), user, f"delete {kind} phone")
        case AddEmail(address=address):
            body = {"emailAddress": address}
            return _write_call("POST", paths.email_methods(target), user, "add email", body, one_method=False)
        case UpdateEmail(address=address):
            body = {"emailAddress": address}
            return _write_call("PATCH", paths.email_method(target), user, "update email", body)
        case DeleteEmail():
            return _write_call("DELETE", paths.email_method(target), user, "delete email")
        case SetDefaultMethod(method=method):
            body = {"userPreferredMethodForSecondaryAuthentication": method.value}
            url = paths.sign_in_preferences(target)
            return _write_call("PATCH", url, user, "set default method", body, one_method=False)
        case SetSmsSignIn(enable=enable):
            what = "enable SMS sign-in" if enable else "disable SMS sign-in"
            return _write_call("POST", paths.sms_sign_in(target, enable=enable), user, what)
        case _:
            assert_never(operation)


def _write_call(
    method: str,
    url: str,
    user: str,
    what: str,
    body: Mapping[str, str] | None = None,
    *,
    one_method: bool = True,
) -> Call:
    """A write; unless *one_method* is False its URL names one method (a 404 may mean that method)."""
    return Call(method, url, user, what, WRITE_PERMISSION, body, one_method=one_method)
