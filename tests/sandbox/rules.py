"""Graph's authentication-method rules as pure checks on one user (raise ``GraphFailure``).

Messages marked UNVERIFIED in graph-api.md are the sandbox's own wording under a 400 ``badRequest``.
"""

from __future__ import annotations

import re
from typing import Any

from tests.sandbox.errors import GraphFailure, bad_request, invalid_payload
from tests.sandbox.users import DEFAULT_APP, DEFAULT_METHODS, DEFAULT_PHONE, PHONE_TYPES, User

PHONE_NUMBER = re.compile(r"^\+[0-9]{1,3} [0-9]{1,20}(x[0-9]{1,10})?$")
EMAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEFAULT_DELETE_MESSAGE = "Cannot delete default method with other methods configured. Please change default method before deletion."


def body_object(body: Any) -> dict[str, Any]:
    """The request body as a JSON object, or 400."""
    if not isinstance(body, dict):
        raise invalid_payload()
    return body


def _only(body: dict[str, Any], allowed: set[str]) -> None:
    for name in body:
        if name.startswith("@odata."):
            continue
        if name not in allowed:
            raise GraphFailure(
                400, "badRequest", f"Property '{name}' does not exist or is read-only on this resource."
            )


def phone_number(body: dict[str, Any]) -> str:
    """The ``phoneNumber`` of a body, checked against Graph's ``+CC NUMBERxEXT`` format."""
    number = body.get("phoneNumber")
    if not isinstance(number, str) or not PHONE_NUMBER.match(number):
        msg = (
            f"Invalid value specified for property 'phoneNumber': '{number}'. "
            "Expected format '+{country code} {number}x{extension}', for example '+1 5555551234'."
        )
        raise bad_request(msg)
    return number


def phone_type(body: dict[str, Any]) -> str:
    """The ``phoneType`` of a body: mobile, alternateMobile or office."""
    kind = body.get("phoneType")
    if kind not in PHONE_TYPES:
        msg = f"Invalid value specified for property 'phoneType': '{kind}'."
        raise bad_request(msg)
    return str(kind)


def check_add_phone(user: User, body: dict[str, Any]) -> tuple[str, str]:
    """(type, number) of a phone POST, after the one-per-type and mobile-first rules."""
    _only(body, {"phoneNumber", "phoneType"})
    kind, number = phone_type(body), phone_number(body)
    if kind in user.phones:
        msg = f"A phone method of type '{kind}' already exists for this user. Update the existing method instead."
        raise bad_request(msg)
    if kind == "alternateMobile" and "mobile" not in user.phones:
        msg = "An alternateMobile phone method requires a mobile phone method. Add the mobile first."
        raise bad_request(msg)
    return kind, number


def check_update_phone(current_type: str, body: dict[str, Any]) -> str:
    """The new number of a phone PATCH; the type cannot change."""
    _only(body, {"phoneNumber", "phoneType"})
    if "phoneType" in body and body["phoneType"] != current_type:
        msg = (
            "The phoneType of an existing phone method cannot be changed. Add a method of the new type, "
            "then delete the old one."
        )
        raise bad_request(msg)
    return phone_number(body)


def check_delete_phone(user: User, kind: str, *, default_delete: str = "refuse") -> None:
    """The default-method rule, then the mobile-before-alternate rule.

    The docs say the default phone "can't be deleted", with no exception ("refuse"); Graph's own
    message speaks of "other methods configured", so it may allow it as the last method
    ("last-method"). Which one Graph does is UNVERIFIED (SandboxConfig.default_phone_delete).
    """
    others = user.mfa_methods() > 1
    if is_default(user, kind) and (default_delete == "refuse" or others):
        raise bad_request(DEFAULT_DELETE_MESSAGE)
    if kind == "mobile" and "alternateMobile" in user.phones:
        msg = (
            "Cannot delete the mobile phone method while an alternateMobile phone method exists. "
            "Update the mobile, or delete the alternateMobile first."
        )
        raise bad_request(msg)


def is_default(user: User, kind: str) -> bool:
    """Whether the user's default method rests on this phone."""
    return user.default_method is not None and DEFAULT_PHONE.get(user.default_method) == kind


def email_address(body: dict[str, Any]) -> str:
    """The ``emailAddress`` of a body, syntax-checked."""
    _only(body, {"emailAddress"})
    address = body.get("emailAddress")
    if not isinstance(address, str) or not EMAIL_ADDRESS.match(address):
        msg = f"Invalid value specified for property 'emailAddress': '{address}'."
        raise bad_request(msg)
    return address


def check_add_email(user: User, body: dict[str, Any]) -> str:
    """The address of an email POST; one email method per user."""
    address = email_address(body)
    if user.email is not None:
        msg = "An email method already exists for this user. Update the existing method instead."
        raise bad_request(msg)
    return address


def check_preferences(user: User, body: dict[str, Any]) -> tuple[str | None, bool | None]:
    """(default method, system-preferred flag) of a signInPreferences PATCH, each None when absent."""
    _only(
        body,
        {"userPreferredMethodForSecondaryAuthentication", "isSystemPreferredAuthenticationMethodEnabled"},
    )
    flag = body.get("isSystemPreferredAuthenticationMethodEnabled")
    if flag is not None and not isinstance(flag, bool):
        msg = "Invalid value specified for property 'isSystemPreferredAuthenticationMethodEnabled'."
        raise bad_request(msg)
    method = body.get("userPreferredMethodForSecondaryAuthentication")
    if method is None:
        return None, flag
    if method not in DEFAULT_METHODS:
        msg = f"Invalid value specified for property 'userPreferredMethodForSecondaryAuthentication': '{method}'."
        raise bad_request(msg)
    if not _registered(user, str(method)):
        msg = (
            f"The user does not have a registered method for '{method}'. Register the method before making it "
            "the default."
        )
        raise bad_request(msg)
    return str(method), flag


def _registered(user: User, method: str) -> bool:
    if method in DEFAULT_PHONE:
        return DEFAULT_PHONE[method] in user.phones
    return any(name in user.other_methods for name in DEFAULT_APP[method])
