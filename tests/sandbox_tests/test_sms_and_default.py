"""SMS sign-in states and the default method (beta signInPreferences)."""

from __future__ import annotations

import httpx

from tests.sandbox import Sandbox
from tests.sandbox_tests.conftest import ALT_ID, MOBILE_ID, phones

PREFS = "/users/{}/authentication/signInPreferences"


def _sms(graph: httpx.Client, user: str, action: str = "enableSmsSignIn", method: str = MOBILE_ID) -> int:
    return graph.post(f"{phones(user)}/{method}/{action}").status_code


def test_enabling_sms_sign_in_makes_the_mobile_ready(graph: httpx.Client, sandbox: Sandbox) -> None:
    """enableSmsSignIn answers 204 and the state becomes ready; disable brings back notEnabled."""
    assert _sms(graph, "mob@contoso.test") == 204
    assert sandbox.user("mob@contoso.test")["smsSignInState"] == "ready"

    assert _sms(graph, "mob@contoso.test", "disableSmsSignIn") == 204
    assert sandbox.user("mob@contoso.test")["smsSignInState"] == "notEnabled"


def test_a_number_ready_elsewhere_is_not_unique(graph: httpx.Client, sandbox: Sandbox) -> None:
    """Enabling a mobile whose number is ready for another user gives phoneNumberNotUnique."""
    _sms(graph, "mob@contoso.test")
    graph.post(phones("empty@contoso.test"), json={"phoneNumber": "+31 611111111", "phoneType": "mobile"})

    _sms(graph, "empty@contoso.test")

    assert sandbox.user("empty@contoso.test")["smsSignInState"] == "phoneNumberNotUnique"


def test_a_user_outside_the_policy_is_not_allowed(graph: httpx.Client, sandbox: Sandbox) -> None:
    """Enabling for a user outside the SMS sign-in policy gives notAllowedByPolicy."""
    _sms(graph, "nopolicy@contoso.test")

    assert sandbox.user("nopolicy@contoso.test")["smsSignInState"] == "notAllowedByPolicy"


def test_sms_sign_in_applies_to_the_mobile_only(graph: httpx.Client) -> None:
    """enableSmsSignIn on the alternateMobile is a 400."""
    assert _sms(graph, "full@contoso.test", method=ALT_ID) == 400


def test_changing_a_ready_mobile_to_a_taken_number_loses_ready(graph: httpx.Client, sandbox: Sandbox) -> None:
    """A ready mobile stays ready on a unique new number and turns phoneNumberNotUnique on a taken one."""
    _sms(graph, "mob@contoso.test")
    _sms(graph, "full@contoso.test")
    graph.patch(f"{phones('mob@contoso.test')}/{MOBILE_ID}", json={"phoneNumber": "+31 699999999"})
    assert sandbox.user("mob@contoso.test")["smsSignInState"] == "ready"

    graph.patch(f"{phones('mob@contoso.test')}/{MOBILE_ID}", json={"phoneNumber": "+31 622222222"})

    assert sandbox.user("mob@contoso.test")["smsSignInState"] == "phoneNumberNotUnique"


def test_a_new_mobile_is_not_enabled_unless_the_tenant_auto_registers(
    sandbox: Sandbox, graph: httpx.Client
) -> None:
    """A new mobile starts notEnabled; with smsSignInAutoRegister it is registered at once."""
    graph.post(phones("empty@contoso.test"), json={"phoneNumber": "+31 677777777", "phoneType": "mobile"})
    assert sandbox.user("empty@contoso.test")["smsSignInState"] == "notEnabled"
    sandbox.tenant.sms_auto_register = True

    graph.post("/users", json={"displayName": "N", "userPrincipalName": "n@contoso.test"})
    graph.post(phones("n@contoso.test"), json={"phoneNumber": "+31 678888888", "phoneType": "mobile"})

    assert sandbox.user("n@contoso.test")["smsSignInState"] == "ready"


def test_sign_in_preferences_are_beta_only(graph: httpx.Client, beta: httpx.Client) -> None:
    """GET signInPreferences works on beta and is a 400 on v1.0."""
    assert graph.get(PREFS.format("full@contoso.test")).status_code == 400
    body = beta.get(PREFS.format("full@contoso.test")).json()

    assert body["userPreferredMethodForSecondaryAuthentication"] == "sms"
    assert body["isSystemPreferredAuthenticationMethodEnabled"] is False


def test_changing_the_default_answers_204(beta: httpx.Client, sandbox: Sandbox) -> None:
    """PATCH signInPreferences to a registered method answers 204 and changes the default."""
    body = {"userPreferredMethodForSecondaryAuthentication": "voiceAlternateMobile"}

    response = beta.patch(PREFS.format("full@contoso.test"), json=body)

    assert response.status_code == 204
    assert sandbox.user("full@contoso.test")["defaultMethod"] == "voiceAlternateMobile"


def test_a_default_the_user_has_not_registered_is_rejected(beta: httpx.Client) -> None:
    """push without Authenticator, or voiceOffice without an office phone, is a 400."""
    responses = [
        beta.patch(
            PREFS.format("mob@contoso.test"), json={"userPreferredMethodForSecondaryAuthentication": m}
        )
        for m in ("push", "voiceOffice", "carrierPigeon")
    ]

    assert [r.status_code for r in responses] == [400, 400, 400]


def test_moving_the_default_then_deleting_the_phone_works(graph: httpx.Client, beta: httpx.Client) -> None:
    """The documented recovery: change the default first, then delete the former default phone."""
    user = "app@contoso.test"
    graph.post(phones(user), json={"phoneNumber": "+31 205550123", "phoneType": "office"})
    beta.patch(PREFS.format(user), json={"userPreferredMethodForSecondaryAuthentication": "sms"})
    assert graph.delete(f"{phones(user)}/{MOBILE_ID}").status_code == 400

    beta.patch(PREFS.format(user), json={"userPreferredMethodForSecondaryAuthentication": "push"})

    assert graph.delete(f"{phones(user)}/{MOBILE_ID}").status_code == 204
