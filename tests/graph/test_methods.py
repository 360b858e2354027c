"""Graph's shapes of authentication methods (graph/methods.py): a methods read as CurrentMethods, each
write as its request, and users placed safely in the path (pure, no network)."""

from __future__ import annotations

import pytest

from provisioning.core.models import (
    METHOD_IDS,
    AddEmail,
    AddPhone,
    CurrentMethods,
    DefaultMethod,
    DeleteEmail,
    DeletePhone,
    MethodKind,
    Operation,
    SetDefaultMethod,
    SetSmsSignIn,
    UpdateEmail,
    UpdatePhone,
)
from provisioning.errors import PermanentGraphError
from provisioning.graph.failures import WRITE_PERMISSION, error_for_status
from provisioning.graph.methods import collection_items, methods_from_items, operation_call
from provisioning.graph.paths import GraphPaths

ROOT = "https://graph.test"
PATHS = GraphPaths(ROOT)
UPN = "jane@contoso.com"
OID = "0f0e0d0c-0b0a-4908-8706-050403020100"
MOBILE_ID = METHOD_IDS[MethodKind.MOBILE]
EMAIL_ID = METHOD_IDS[MethodKind.EMAIL]
NUMBER = "+1 5555551234"
OFFICE = "+1 4255550100"


def _item(odata_type: str, **fields: object) -> dict[str, object]:
    return {"@odata.type": f"#microsoft.graph.{odata_type}", **fields}


def _phone(phone_type: str, number: object, state: str | None = None) -> dict[str, object]:
    fields: dict[str, object] = {"phoneType": phone_type, "phoneNumber": number}
    if state is not None:
        fields["smsSignInState"] = state
    return _item("phoneAuthenticationMethod", **fields)


# --- methods_from_items --------------------------------------------------------------------------


def test_methods_from_items_maps_every_method_kind() -> None:
    """Phones by type with the mobile's SMS state, the email, other methods; the password is no method."""
    items = [
        _item("passwordAuthenticationMethod", id="28c10230-6103-485e-b985-444c60001490"),
        _phone("mobile", NUMBER, "ready"),
        _phone("alternateMobile", "+1 2065550199", "notSupported"),
        _phone("office", OFFICE, "notSupported"),
        _item("emailAuthenticationMethod", emailAddress="jane@home.example"),
        _item("microsoftAuthenticatorAuthenticationMethod", displayName="iPhone"),
        _item("fido2AuthenticationMethod"),
        _item("temporaryAccessPassAuthenticationMethod"),
    ]

    current = methods_from_items(UPN, items)

    assert current == CurrentMethods(
        user=UPN,
        phones={
            MethodKind.MOBILE: NUMBER,
            MethodKind.ALTERNATE_MOBILE: "+1 2065550199",
            MethodKind.OFFICE: OFFICE,
        },
        email="jane@home.example",
        sms_sign_in_state="ready",
        other_methods=("microsoftAuthenticator", "fido2", "temporaryAccessPass"),
    )
    assert (current.email_known, current.default_known, current.default_method) == (True, False, None)


def test_the_sms_state_is_the_mobiles_only() -> None:
    """Other phones carry an smsSignInState too; only the primary mobile's counts."""
    items = [_phone("office", OFFICE, "ready"), _phone("alternateMobile", NUMBER, "ready")]

    assert methods_from_items(UPN, items).sms_sign_in_state is None
    assert methods_from_items(UPN, [*items, _phone("mobile", NUMBER, "notEnabled")]).sms_sign_in_state == (
        "notEnabled"
    )


def test_a_mobile_without_sms_state_leaves_it_unknown() -> None:
    """No smsSignInState on the mobile: the state is None, the number is still there."""
    current = methods_from_items(UPN, [_phone("mobile", NUMBER)])

    assert (current.phones, current.sms_sign_in_state) == ({MethodKind.MOBILE: NUMBER}, None)


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(_phone("unknownFutureValue", NUMBER), id="unknown-phone-type"),
        pytest.param(_phone("mobile", None, "ready"), id="phone-without-number"),
        pytest.param(_item("passwordAuthenticationMethod"), id="password"),
        pytest.param({"id": "no-type"}, id="no-odata-type"),
    ],
)
def test_items_that_are_not_ours_to_manage_are_left_out(item: dict[str, object]) -> None:
    """Unknown phone types, phones without a number, the password and untyped items map to nothing."""
    assert methods_from_items(UPN, [item]) == CurrentMethods(user=UPN)


def test_an_email_method_without_an_address_is_no_email() -> None:
    assert methods_from_items(UPN, [_item("emailAuthenticationMethod", emailAddress=None)]).email is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"value": [{"id": "a"}, 7, "x", {"id": "b"}]}, [{"id": "a"}, {"id": "b"}], id="objects-only"
        ),
        pytest.param({"value": None}, [], id="value-not-a-list"),
        pytest.param({"error": {"code": "x"}}, [], id="no-value"),
        pytest.param(None, [], id="no-body"),
        pytest.param([{"id": "a"}], [], id="bare-list"),
    ],
)
def test_collection_items_are_the_objects_of_value(body: object, expected: list[dict[str, object]]) -> None:
    """Only a ``{"value": [...]}`` body has items, and only its objects count."""
    assert collection_items(body) == expected


# --- operation_call ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "method", "url", "body"),
    [
        pytest.param(
            AddPhone(OID, MethodKind.MOBILE, NUMBER),
            "POST",
            f"{ROOT}/v1.0/users/{OID}/authentication/phoneMethods",
            {"phoneNumber": NUMBER, "phoneType": "mobile"},
            id="add-phone",
        ),
        pytest.param(
            UpdatePhone(OID, MethodKind.ALTERNATE_MOBILE, NUMBER, OFFICE),
            "PATCH",
            f"{ROOT}/v1.0/users/{OID}/authentication/phoneMethods/{METHOD_IDS[MethodKind.ALTERNATE_MOBILE]}",
            {"phoneNumber": NUMBER, "phoneType": "alternateMobile"},
            id="update-phone",
        ),
        pytest.param(
            DeletePhone(OID, MethodKind.OFFICE, NUMBER),
            "DELETE",
            f"{ROOT}/v1.0/users/{OID}/authentication/phoneMethods/{METHOD_IDS[MethodKind.OFFICE]}",
            None,
            id="delete-phone",
        ),
        pytest.param(
            AddEmail(OID, "jane@home.example"),
            "POST",
            f"{ROOT}/v1.0/users/{OID}/authentication/emailMethods",
            {"emailAddress": "jane@home.example"},
            id="add-email",
        ),
        pytest.param(
            UpdateEmail(OID, "jane@new.example", "jane@home.example"),
            "PATCH",
            f"{ROOT}/v1.0/users/{OID}/authentication/emailMethods/{EMAIL_ID}",
            {"emailAddress": "jane@new.example"},
            id="update-email",
        ),
        pytest.param(
            DeleteEmail(OID, "jane@home.example"),
            "DELETE",
            f"{ROOT}/v1.0/users/{OID}/authentication/emailMethods/{EMAIL_ID}",
            None,
            id="delete-email",
        ),
        pytest.param(
            SetDefaultMethod(OID, DefaultMethod.VOICE_MOBILE, "sms"),
            "PATCH",
            f"{ROOT}/beta/users/{OID}/authentication/signInPreferences",
            {"userPreferredMethodForSecondaryAuthentication": "voiceMobile"},
            id="set-default",
        ),
        pytest.param(
            SetSmsSignIn(OID, enable=True),
            "POST",
            f"{ROOT}/v1.0/users/{OID}/authentication/phoneMethods/{MOBILE_ID}/enableSmsSignIn",
            None,
            id="enable-sms",
        ),
        pytest.param(
            SetSmsSignIn(OID, enable=False),
            "POST",
            f"{ROOT}/v1.0/users/{OID}/authentication/phoneMethods/{MOBILE_ID}/disableSmsSignIn",
            None,
            id="disable-sms",
        ),
    ],
)
def test_each_operation_becomes_its_request(
    operation: Operation, method: str, url: str, body: object
) -> None:
    """Verb, URL (fixed method ids, beta only for signInPreferences) and JSON body per operation; every
    write names the write permission and the operation's user."""
    call = operation_call(PATHS, operation, operation.user)

    assert (call.method, call.url, call.body) == (method, url, body)
    assert call.permission == WRITE_PERMISSION
    assert call.user == operation.user


def test_the_target_addresses_the_path_and_the_user_names_the_messages() -> None:
    """*target* (UPN or object id) goes in the URL; the operation's user stays the one errors name."""
    call = operation_call(PATHS, DeleteEmail(UPN, "jane@home.example"), OID)

    assert call.url == f"{ROOT}/v1.0/users/{OID}/authentication/emailMethods/{EMAIL_ID}"
    assert call.user == UPN


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        pytest.param(
            UpdatePhone(UPN, MethodKind.OFFICE, NUMBER, OFFICE), "the method does not exist", id="update"
        ),
        pytest.param(DeletePhone(UPN, MethodKind.OFFICE, NUMBER), "the method does not exist", id="delete"),
        pytest.param(
            AddPhone(UPN, MethodKind.MOBILE, NUMBER),
            "user j***@contoso.com not found in the tenant",
            id="add",
        ),
        pytest.param(
            SetDefaultMethod(UPN, DefaultMethod.SMS, None),
            "user j***@contoso.com not found in the tenant",
            id="set-default",
        ),
    ],
)
def test_a_404_on_a_write_names_the_method_only_where_the_url_names_one(
    operation: Operation, expected: str
) -> None:
    """An itemNotFound on a PATCH or DELETE of one method means that method is missing; on a
    collection or the user's preferences it means the user is."""
    call = operation_call(PATHS, operation, operation.user)
    body = {"error": {"code": "itemNotFound", "message": ""}}

    error = error_for_status(call, 404, {"request-id": "req-404"}, body, None)

    assert isinstance(error, PermanentGraphError)
    assert expected in str(error)
    assert error.request_id == "req-404"


def test_a_403_on_a_write_names_the_write_permission() -> None:
    """A refused write tells the admin to consent to ReadWrite.All, not the read permission."""
    call = operation_call(PATHS, DeletePhone(UPN, MethodKind.OFFICE, NUMBER), UPN)

    error = error_for_status(call, 403, {}, {"error": {"code": "accessDenied"}}, None)

    assert "UserAuthenticationMethod.ReadWrite.All application permission" in str(error)
    assert "grant admin consent" in str(error)


# --- users in the path ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "segment"),
    [
        pytest.param("$admin@contoso.com", "users('$admin@contoso.com')", id="dollar"),
        pytest.param(
            "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            "users/ann_fabrikam.com%23EXT%23@contoso.onmicrosoft.com",
            id="b2b-hash",
        ),
        pytest.param("a/b?c@contoso.com", "users/a%2Fb%3Fc@contoso.com", id="slash"),
        pytest.param("$o'neil@contoso.com", "users('$o''neil@contoso.com')", id="quote"),
        pytest.param("50%off@contoso.com", "users/50%25off@contoso.com", id="percent"),
    ],
)
def test_user_names_are_quoted_safely_in_the_path(user: str, segment: str) -> None:
    """``#``, ``/``, ``?`` and ``%`` are percent-encoded; a UPN starting with ``$`` uses ``users('...')``,
    in the read and in every write alike."""
    v1, beta = f"{ROOT}/v1.0/{segment}", f"{ROOT}/beta/{segment}"

    assert PATHS.methods(user) == f"{v1}/authentication/methods"
    assert operation_call(PATHS, AddPhone(user, MethodKind.MOBILE, NUMBER), user).url == (
        f"{v1}/authentication/phoneMethods"
    )
    assert operation_call(PATHS, DeleteEmail(user, "x@home.example"), user).url == (
        f"{v1}/authentication/emailMethods/{EMAIL_ID}"
    )
    assert operation_call(PATHS, SetDefaultMethod(user, DefaultMethod.SMS, None), user).url == (
        f"{beta}/authentication/signInPreferences"
    )


def test_sms_and_default_actions_address_the_user_as_given_with_no_lookup() -> None:
    """Both actions use the row's UPN, as the $batch path does: no object-id lookup, no User.Read.All."""
    sms = operation_call(PATHS, SetSmsSignIn(UPN, enable=True), UPN)
    default = operation_call(PATHS, SetDefaultMethod(UPN, DefaultMethod.SMS, None), UPN)

    assert (sms.method, sms.url) == (
        "POST",
        f"{ROOT}/v1.0/users/{UPN}/authentication/phoneMethods/{MOBILE_ID}/enableSmsSignIn",
    )
    assert (default.method, default.url) == (
        "PATCH",
        f"{ROOT}/beta/users/{UPN}/authentication/signInPreferences",
    )
    assert default.body == {"userPreferredMethodForSecondaryAuthentication": "sms"}
