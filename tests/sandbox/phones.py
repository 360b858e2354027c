"""Phone-method operations on the tenant: create, update, delete, SMS sign-in (call under the lock)."""

from __future__ import annotations

from typing import Any

from provisioning.core.models import phone_key
from tests.sandbox import rules
from tests.sandbox.errors import bad_request, item_not_found
from tests.sandbox.tenant import Tenant
from tests.sandbox.users import FIRST_PHONE_DEFAULT, PHONE_TYPE_BY_ID, User, phone_json


def registered_type(user: User, method_id: str) -> str:
    """The phone type of a method id the user has; 404 ``itemNotFound`` otherwise."""
    kind = PHONE_TYPE_BY_ID.get(method_id.lower())
    if kind is None or kind not in user.phones:
        raise item_not_found(method_id)
    return kind


def add_phone(tenant: Tenant, user: User, body: Any) -> dict[str, Any]:
    """POST phoneMethods: the created object."""
    kind, number = rules.check_add_phone(user, rules.body_object(body))
    user.phones[kind] = number
    tenant.record(user, kind, "add", None, number)
    if kind == "mobile":
        _set_sms(tenant, user, "notEnabled")
        if tenant.sms_auto_register and user.in_sms_policy:
            _enable_sms(tenant, user)
    if user.default_method is None:
        _set_default(tenant, user, FIRST_PHONE_DEFAULT[kind])
    return phone_json(user, kind)


def update_phone(tenant: Tenant, user: User, method_id: str, body: Any) -> None:
    """PATCH phoneMethods/{id}: a new number, same type."""
    kind = registered_type(user, method_id)
    number = rules.check_update_phone(kind, rules.body_object(body))
    before = user.phones[kind]
    user.phones[kind] = number
    tenant.record(user, kind, "update", before, number)
    if kind != "mobile":
        return
    if user.sms_state == "ready" and tenant.sms_ready_elsewhere(user, phone_key(number)):
        _set_sms(tenant, user, "phoneNumberNotUnique")
    elif user.sms_state != "ready" and tenant.sms_auto_register and user.in_sms_policy:
        _enable_sms(tenant, user)


def delete_phone(tenant: Tenant, user: User, method_id: str, *, default_delete: str = "refuse") -> None:
    """DELETE phoneMethods/{id}: the default is refused (``default_delete`` "refuse"), or only while
    other methods exist ("last-method")."""
    kind = registered_type(user, method_id)
    rules.check_delete_phone(user, kind, default_delete=default_delete)
    if rules.is_default(user, kind):
        _set_default(tenant, user, None)
    before = user.phones.pop(kind)
    tenant.record(user, kind, "delete", before, None)
    if kind == "mobile":
        _set_sms(tenant, user, "notEnabled")


def sms_sign_in(tenant: Tenant, user: User, method_id: str, enable: bool) -> None:
    """enableSmsSignIn / disableSmsSignIn on the mobile (204 whatever the resulting state)."""
    kind = registered_type(user, method_id)
    if kind != "mobile":
        msg = "SMS sign-in can only be enabled or disabled on the mobile phone method."
        raise bad_request(msg)
    if enable:
        _enable_sms(tenant, user)
    else:
        _set_sms(tenant, user, "notEnabled")


def _enable_sms(tenant: Tenant, user: User) -> None:
    if not tenant.sms_sign_in_configured:
        _set_sms(tenant, user, "notConfigured")
    elif not user.in_sms_policy:
        _set_sms(tenant, user, "notAllowedByPolicy")
    elif tenant.sms_ready_elsewhere(user, phone_key(user.phones["mobile"])):
        _set_sms(tenant, user, "phoneNumberNotUnique")
    else:
        _set_sms(tenant, user, "ready")


def _set_sms(tenant: Tenant, user: User, state: str) -> None:
    if user.sms_state != state:
        tenant.record(user, "smsSignIn", "update", user.sms_state, state)
        user.sms_state = state


def _set_default(tenant: Tenant, user: User, method: str | None) -> None:
    if user.default_method != method:
        action = "add" if user.default_method is None else "delete" if method is None else "update"
        tenant.record(user, "defaultMethod", action, user.default_method, method)
        user.default_method = method


def set_preferences(tenant: Tenant, user: User, body: Any) -> None:
    """PATCH signInPreferences (beta): default method and system-preferred flag."""
    method, flag = rules.check_preferences(user, rules.body_object(body))
    if method is not None:
        _set_default(tenant, user, method)
    if flag is not None and flag != user.system_preferred:
        tenant.record(user, "systemPreferred", "update", user.system_preferred, flag)
        user.system_preferred = flag
