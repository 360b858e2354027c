"""GraphClient through httpx.MockTransport: URLs and bodies, quoting, error mapping, re-read before re-POST."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from provisioning.core.models import (
    METHOD_IDS,
    AddEmail,
    AddPhone,
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
from provisioning.core.ports import GraphPort
from provisioning.errors import (
    AuthenticationError,
    GraphError,
    PermanentGraphError,
    TransientGraphError,
)
from provisioning.graph.client import GraphClient
from provisioning.graph.retry import graph_retrying
from provisioning.graph.stack import build_graph
from provisioning.settings import Settings

ROOT = "https://graph.test"
UPN = "jane@contoso.com"
OID = "0f0e0d0c-0b0a-4908-8706-050403020100"
MOBILE_ID = METHOD_IDS[MethodKind.MOBILE]
EMAIL_ID = METHOD_IDS[MethodKind.EMAIL]
PHONES = f"/v1.0/users/{UPN}/authentication/phoneMethods"
EMAILS = f"/v1.0/users/{UPN}/authentication/emailMethods"
METHODS = f"/v1.0/users/{UPN}/authentication/methods"
NUMBER = "+1 5555551234"

Reply = httpx.Response | type[httpx.TransportError]


@dataclass
class _Graph:
    """A scripted Graph: answers per ``"METHOD /path"`` in turn (the last one repeats) and records requests."""

    replies: dict[str, list[Reply]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *replies: Reply) -> _Graph:
        self.replies[f"{method} {path}"] = list(replies)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.replies[f"{request.method} {request.url.raw_path.decode()}"]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, httpx.Response):
            return reply
        msg = "no answer"
        raise reply(msg, request=request)

    @property
    def calls(self) -> list[str]:
        return [f"{r.method} {r.url.raw_path.decode()}" for r in self.requests]


@dataclass
class _Setup:
    graph: _Graph
    client: GraphClient
    sleeps: list[float]


@pytest.fixture(name="setup")
def _setup() -> _Setup:
    graph = _Graph()
    sleeps: list[float] = []
    http = httpx.Client(transport=httpx.MockTransport(graph))
    client = GraphClient(http, graph_retrying(attempts=3, sleep=sleeps.append), graph_root=ROOT)
    return _Setup(graph, client, sleeps)


def _ok(status: int = 200, body: object = None, request_id: str = "req-1") -> httpx.Response:
    headers = {"request-id": request_id}
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def _error(status: int, code: str, message: str = "", **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "innerError": {"request-id": "inner-req"}}}
    return httpx.Response(status, json=body, headers={"request-id": f"req-{status}", **headers})


def _phones(
    *items: tuple[str, str, str], email: str | None = None, others: tuple[str, ...] = ()
) -> httpx.Response:
    """A ``/authentication/methods`` answer: the password, these phones, the email and other methods."""
    value: list[dict[str, object]] = [{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod"}]
    value += [
        {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "phoneType": t, "phoneNumber": n,
         "smsSignInState": s}
        for t, n, s in items
    ]  # fmt: skip
    if email is not None:
        value.append({"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "emailAddress": email})
    value += [{"@odata.type": f"#microsoft.graph.{o}AuthenticationMethod"} for o in others]
    return _ok(body={"value": value})


def test_read_methods_maps_every_method_in_one_read(setup: _Setup) -> None:
    """One GET of /authentication/methods gives phones by type, the mobile's SMS state, email and others."""
    setup.graph.on(
        "GET",
        METHODS,
        _phones(
            ("mobile", NUMBER, "ready"),
            ("office", "+1 4255550100", "notSupported"),
            ("future", "x", "y"),
            email="jane@home.example",
            others=("microsoftAuthenticator", "fido2"),
        ),
    )

    current = setup.client.read_methods(UPN)

    assert current.phones == {MethodKind.MOBILE: NUMBER, MethodKind.OFFICE: "+1 4255550100"}
    assert current.sms_sign_in_state == "ready"
    assert (current.email, current.email_known, current.default_known) == ("jane@home.example", True, False)
    assert current.other_methods == ("microsoftAuthenticator", "fido2")
    assert setup.graph.calls == [f"GET {METHODS}"]


def test_read_default_method_uses_beta_sign_in_preferences(setup: _Setup) -> None:
    """The default method and the system-preferred flag come from the beta endpoint."""
    body = {
        "userPreferredMethodForSecondaryAuthentication": "sms",
        "isSystemPreferredAuthenticationMethodEnabled": True,
    }
    setup.graph.on("GET", f"/beta/users/{UPN}/authentication/signInPreferences", _ok(body=body))

    result = setup.client.read_default_method(UPN)

    assert result == ("sms", True)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        pytest.param(
            _ok(body={"phoneType": "mobile", "smsSignInState": "notEnabled"}), "notEnabled", id="state"
        ),
        pytest.param(_error(404, "itemNotFound"), None, id="no-mobile"),
    ],
)
def test_read_sms_sign_in_state_reads_the_mobile(
    setup: _Setup, reply: httpx.Response, expected: str | None
) -> None:
    """The mobile's smsSignInState, or None when there is no mobile."""
    setup.graph.on("GET", f"{PHONES}/{MOBILE_ID}", reply)

    state = setup.client.read_sms_sign_in_state(UPN)

    assert state == expected


def test_read_sms_sign_in_state_of_a_missing_user_raises(setup: _Setup) -> None:
    """A 404 about the user is not 'no mobile'."""
    setup.graph.on("GET", f"{PHONES}/{MOBILE_ID}", _error(404, "Request_ResourceNotFound"))

    with pytest.raises(PermanentGraphError, match="not found in the tenant"):
        setup.client.read_sms_sign_in_state(UPN)


@pytest.mark.parametrize(
    ("operation", "method", "path", "body", "status"),
    [
        pytest.param(
            AddPhone(OID, MethodKind.MOBILE, NUMBER),
            "POST",
            f"/v1.0/users/{OID}/authentication/phoneMethods",
            {"phoneNumber": NUMBER, "phoneType": "mobile"},
            201,
            id="add-phone",
        ),
        pytest.param(
            UpdatePhone(OID, MethodKind.ALTERNATE_MOBILE, NUMBER, "+1 4255550100"),
            "PATCH",
            f"/v1.0/users/{OID}/authentication/phoneMethods/{METHOD_IDS[MethodKind.ALTERNATE_MOBILE]}",
            {"phoneNumber": NUMBER, "phoneType": "alternateMobile"},
            204,
            id="update-phone",
        ),
        pytest.param(
            DeletePhone(OID, MethodKind.OFFICE, NUMBER),
            "DELETE",
            f"/v1.0/users/{OID}/authentication/phoneMethods/{METHOD_IDS[MethodKind.OFFICE]}",
            None,
            204,
            id="delete-phone",
        ),
        pytest.param(
            AddEmail(OID, "jane@home.example"),
            "POST",
            f"/v1.0/users/{OID}/authentication/emailMethods",
            {"emailAddress": "jane@home.example"},
            201,
            id="add-email",
        ),
        pytest.param(
            UpdateEmail(OID, "jane@new.example", "jane@home.example"),
            "PATCH",
            f"/v1.0/users/{OID}/authentication/emailMethods/{EMAIL_ID}",
            {"emailAddress": "jane@new.example"},
            204,
            id="update-email",
        ),
        pytest.param(
            DeleteEmail(OID, "jane@home.example"),
            "DELETE",
            f"/v1.0/users/{OID}/authentication/emailMethods/{EMAIL_ID}",
            None,
            204,
            id="delete-email",
        ),
        pytest.param(
            SetDefaultMethod(OID, DefaultMethod.VOICE_MOBILE, "sms"),
            "PATCH",
            f"/beta/users/{OID}/authentication/signInPreferences",
            {"userPreferredMethodForSecondaryAuthentication": "voiceMobile"},
            204,
            id="set-default",
        ),
        pytest.param(
            SetSmsSignIn(OID, enable=True),
            "POST",
            f"/v1.0/users/{OID}/authentication/phoneMethods/{MOBILE_ID}/enableSmsSignIn",
            None,
            204,
            id="enable-sms",
        ),
        pytest.param(
            SetSmsSignIn(OID, enable=False),
            "POST",
            f"/v1.0/users/{OID}/authentication/phoneMethods/{MOBILE_ID}/disableSmsSignIn",
            None,
            204,
            id="disable-sms",
        ),
    ],
)
def test_each_operation_sends_its_request_and_returns_the_request_id(
    setup: _Setup, operation: Operation, method: str, path: str, body: object, status: int
) -> None:
    """Verb, URL (fixed method ids) and JSON body per operation; Graph's request-id comes back."""
    setup.graph.on(method, path, _ok(status, request_id="req-42"))

    request_id = setup.client.apply(operation)

    assert request_id == "req-42"
    (request,) = setup.graph.requests
    assert (request.method, request.url.raw_path.decode()) == (method, path)
    assert (json.loads(request.content) if request.content else None) == body


@pytest.mark.parametrize(
    ("user", "path"),
    [
        pytest.param(
            "$admin@contoso.com", "/v1.0/users('$admin@contoso.com')/authentication/methods", id="dollar"
        ),
        pytest.param(
            "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            "/v1.0/users/ann_fabrikam.com%23EXT%23@contoso.onmicrosoft.com/authentication/methods",
            id="b2b-hash",
        ),
        pytest.param(
            "a/b?c@contoso.com", "/v1.0/users/a%2Fb%3Fc@contoso.com/authentication/methods", id="slash"
        ),
        pytest.param(
            "$o'neil@contoso.com",
            "/v1.0/users('$o''neil@contoso.com')/authentication/methods",
            id="quote",
        ),
    ],
)
def test_user_names_are_quoted_safely_in_the_path(setup: _Setup, user: str, path: str) -> None:
    """``#``, ``/`` and ``?`` are percent-encoded; a UPN starting with ``$`` uses ``users('...')``."""
    setup.graph.on("GET", path, _phones())

    setup.client.read_methods(user)

    assert setup.graph.calls == [f"GET {path}"]


def test_sms_and_default_actions_address_the_user_as_given_with_no_lookup(setup: _Setup) -> None:
    """Both actions use the row's UPN, as the $batch path does: no object-id lookup, no User.Read.All."""
    sms = f"/v1.0/users/{UPN}/authentication/phoneMethods/{MOBILE_ID}/enableSmsSignIn"
    setup.graph.on("POST", sms, _ok(204))
    prefs = f"/beta/users/{UPN}/authentication/signInPreferences"
    setup.graph.on("PATCH", prefs, _ok(204))

    setup.client.apply(SetSmsSignIn(UPN, enable=True))
    setup.client.apply(SetDefaultMethod(UPN, DefaultMethod.SMS, None))

    assert setup.graph.calls == [f"POST {sms}", f"PATCH {prefs}"]


def test_every_request_gets_a_fresh_client_request_id(setup: _Setup) -> None:
    """Each request carries its own UUID client-request-id."""
    setup.graph.on("GET", METHODS, _phones())
    setup.graph.on(
        "POST", f"/v1.0/users/{UPN}/authentication/phoneMethods/{MOBILE_ID}/enableSmsSignIn", _ok(204)
    )

    setup.client.read_methods(UPN)
    setup.client.apply(SetSmsSignIn(UPN, enable=True))
    setup.client.read_methods(UPN)

    ids = [r.headers["client-request-id"] for r in setup.graph.requests]
    assert len(set(ids)) == len(ids) == 3
    assert all(uuid.UUID(value) for value in ids)


def test_a_throttled_call_waits_for_retry_after_then_succeeds(setup: _Setup) -> None:
    """429 with Retry-After is retried after that many seconds."""
    setup.graph.on("GET", METHODS, _error(429, "TooManyRequests", **{"Retry-After": "2"}), _phones())

    setup.client.read_methods(UPN)

    assert setup.sleeps == [2.0]


def test_a_transport_error_on_a_read_is_retried(setup: _Setup) -> None:
    """A read that timed out is simply sent again."""
    setup.graph.on("GET", METHODS, httpx.ReadTimeout, _phones(("mobile", NUMBER, "ready")))

    current = setup.client.read_methods(UPN)

    assert current.phones == {MethodKind.MOBILE: NUMBER}
    assert setup.graph.calls == [f"GET {METHODS}", f"GET {METHODS}"]


_READ = (lambda client: client.read_methods(UPN), "GET", METHODS)
_DELETE_OFFICE = (
    lambda client: client.apply(DeletePhone(UPN, MethodKind.OFFICE, NUMBER)),
    "DELETE",
    f"{PHONES}/{METHOD_IDS[MethodKind.OFFICE]}",
)
_UPDATE_OFFICE = (
    lambda client: client.apply(UpdatePhone(UPN, MethodKind.OFFICE, NUMBER, "+1 4255550100")),
    "PATCH",
    f"{PHONES}/{METHOD_IDS[MethodKind.OFFICE]}",
)
_ADD_MOBILE = (lambda client: client.apply(AddPhone(UPN, MethodKind.MOBILE, NUMBER)), "POST", PHONES)


@pytest.mark.parametrize(
    ("call", "reply", "error_type", "code", "expected"),
    [
        pytest.param(_READ, _error(429, "TooManyRequests", **{"Retry-After": "1"}), TransientGraphError,
                     "TooManyRequests", "throttling", id="429"),
        pytest.param(_READ, _error(503, "serviceNotAvailable"), TransientGraphError, "serviceNotAvailable",
                     "unavailable", id="503"),
        pytest.param(_READ, _error(500, "generalException"), TransientGraphError, "generalException",
                     "unavailable", id="500-read"),
        pytest.param(_READ, _error(401, "InvalidAuthenticationToken"), AuthenticationError,
                     "InvalidAuthenticationToken", "Graph rejected the token (401", id="401"),
        pytest.param(_READ, _error(403, "accessDenied"), PermanentGraphError, "accessDenied",
                     "UserAuthenticationMethod.Read.All application permission", id="403-read"),
        pytest.param(_DELETE_OFFICE, _error(403, "accessDenied"), PermanentGraphError, "accessDenied",
                     "UserAuthenticationMethod.ReadWrite.All application permission", id="403-write"),
        pytest.param(_READ, _error(404, "Request_ResourceNotFound"), PermanentGraphError,
                     "Request_ResourceNotFound", "user j***@contoso.com not found in the tenant", id="404-user"),
        pytest.param(_UPDATE_OFFICE, _error(404, "itemNotFound"), PermanentGraphError, "itemNotFound",
                     "the method does not exist", id="404-method"),
        pytest.param(_ADD_MOBILE, _error(400, "badRequest", f"Invalid phone number {NUMBER} for {UPN}"),
                     PermanentGraphError, "badRequest", "Invalid phone number +1 *******234 for j***@contoso.com",
                     id="400-masked"),
    ],
)  # fmt: skip
def test_statuses_map_to_graph_errors(
    setup: _Setup,
    call: tuple[Callable[[GraphClient], object], str, str],
    reply: httpx.Response,
    error_type: type[GraphError],
    code: str,
    expected: str,
) -> None:
    """Status, Graph's code and both request ids travel on the error; the message says what to fix."""
    act, method, path = call
    setup.graph.on(method, path, reply)

    with pytest.raises(GraphError) as info:
        act(setup.client)

    error = info.value
    assert type(error) is error_type
    assert (error.status, error.code) == (reply.status_code, code)
    assert error.request_id == reply.headers["request-id"]
    assert error.client_request_id == setup.graph.requests[-1].headers["client-request-id"]
    assert expected in str(error)
    assert NUMBER not in str(error)
    assert UPN not in str(error)


def test_a_403_tells_the_admin_to_grant_consent(setup: _Setup) -> None:
    """The permission message ends in the action: grant admin consent."""
    setup.graph.on("GET", METHODS, _error(403, "accessDenied"))

    with pytest.raises(PermanentGraphError, match="grant admin consent"):
        setup.client.read_methods(UPN)


def test_a_throttled_error_carries_retry_after_when_attempts_run_out(setup: _Setup) -> None:
    """After the last try the TransientGraphError escapes with Graph's Retry-After."""
    setup.graph.on("GET", METHODS, _error(429, "TooManyRequests", **{"Retry-After": "7"}))

    with pytest.raises(TransientGraphError) as info:
        setup.client.read_methods(UPN)

    assert info.value.retry_after == 7.0
    assert setup.sleeps == [7.0, 7.0]


def test_an_add_that_timed_out_but_applied_is_not_sent_again(setup: _Setup) -> None:
    """POST times out, the re-read shows the number: success without a second POST."""
    setup.graph.on("POST", PHONES, httpx.ReadTimeout)
    setup.graph.on("GET", METHODS, _phones(("mobile", "+15555551234", "notEnabled")))

    request_id = setup.client.apply(AddPhone(UPN, MethodKind.MOBILE, NUMBER))

    assert request_id is None
    assert setup.graph.calls == [f"POST {PHONES}", f"GET {METHODS}"]
    assert setup.sleeps == []


def test_an_add_that_failed_and_did_not_apply_is_sent_again(setup: _Setup) -> None:
    """POST meets a 500, the re-read shows nothing: the POST is sent again after a backoff."""
    setup.graph.on(
        "POST", PHONES, _error(500, "generalException"), _ok(201, body={"id": MOBILE_ID}, request_id="r2")
    )
    setup.graph.on("GET", METHODS, _phones())

    request_id = setup.client.apply(AddPhone(UPN, MethodKind.MOBILE, NUMBER))

    assert request_id == "r2"
    assert setup.graph.calls == [f"POST {PHONES}", f"GET {METHODS}", f"POST {PHONES}"]
    assert [1.0 <= wait <= 2.0 for wait in setup.sleeps] == [True]


def test_an_email_add_is_confirmed_by_reading_email_methods(setup: _Setup) -> None:
    """A 504 on the email POST re-reads the methods; the address matches case-insensitively."""
    setup.graph.on("POST", EMAILS, _error(504, "gatewayTimeout"))
    setup.graph.on("GET", METHODS, _phones(email="Jane@Home.example"))

    request_id = setup.client.apply(AddEmail(UPN, "jane@home.example"))

    assert request_id == "req-504"
    assert setup.graph.calls == [f"POST {EMAILS}", f"GET {METHODS}"]


def test_an_sms_enable_is_confirmed_by_reading_the_mobile(setup: _Setup) -> None:
    """A timed-out enableSmsSignIn counts as done when the mobile reports ready."""
    base = f"/v1.0/users/{OID}/authentication/phoneMethods/{MOBILE_ID}"
    setup.graph.on("POST", f"{base}/enableSmsSignIn", httpx.ReadTimeout)
    setup.graph.on("GET", base, _ok(body={"smsSignInState": "ready"}))

    setup.client.apply(SetSmsSignIn(OID, enable=True))

    assert setup.graph.calls == [f"POST {base}/enableSmsSignIn", f"GET {base}"]


def test_a_post_that_never_connected_is_retried_without_a_re_read(setup: _Setup) -> None:
    """A connect error means Graph never saw the POST, so it is simply sent again."""
    setup.graph.on("POST", PHONES, httpx.ConnectError, _ok(201, body={}))

    setup.client.apply(AddPhone(UPN, MethodKind.MOBILE, NUMBER))

    assert setup.graph.calls == [f"POST {PHONES}", f"POST {PHONES}"]


def test_a_failed_re_read_stops_the_post(setup: _Setup) -> None:
    """When the re-read fails too, the add is not blindly re-sent: the admin is told to check."""
    setup.graph.on("POST", PHONES, _error(502, "badGateway"))
    setup.graph.on("GET", METHODS, _error(403, "accessDenied"))

    with pytest.raises(PermanentGraphError, match="check the user in the Entra admin center"):
        setup.client.apply(AddPhone(UPN, MethodKind.MOBILE, NUMBER))

    assert setup.graph.calls == [f"POST {PHONES}", f"GET {METHODS}"]


def test_a_retried_delete_that_meets_404_already_took_effect(setup: _Setup) -> None:
    """A DELETE whose first try failed with 500 and then finds no method counts as done."""
    path = f"{PHONES}/{METHOD_IDS[MethodKind.OFFICE]}"
    setup.graph.on("DELETE", path, _error(500, "generalException"), _error(404, "itemNotFound"))

    request_id = setup.client.apply(DeletePhone(UPN, MethodKind.OFFICE, NUMBER))

    assert request_id == "req-404"


def test_logs_carry_no_numbers_or_addresses(setup: _Setup, caplog: pytest.LogCaptureFixture) -> None:
    """Requests and failures are logged with masked users and request ids, never values."""
    setup.graph.on("POST", PHONES, _error(400, "badRequest", f"bad {NUMBER} for {UPN}"))

    with caplog.at_level(logging.DEBUG, logger="provisioning"), pytest.raises(PermanentGraphError):
        setup.client.apply(AddPhone(UPN, MethodKind.MOBILE, NUMBER))

    assert "j***@contoso.com" in caplog.text
    assert "req-400" in caplog.text
    assert "5555551234" not in caplog.text
    assert UPN not in caplog.text


def test_build_graph_wires_auth_user_agent_and_graph_root(tmp_path: Path) -> None:
    """The built client sends the bearer token and User-Agent to the configured Graph root."""
    cert = tmp_path / "app.pem"
    cert.write_text("unused: tokens are injected")
    settings = Settings.from_env(
        {
            "PROVISIONING_TENANT_ID": "contoso.onmicrosoft.com",
            "PROVISIONING_CLIENT_ID": OID,
            "PROVISIONING_CERTIFICATE_PATH": str(cert),
            "PROVISIONING_AUTHORITY_URL": "https://127.0.0.1:8443",
            "PROVISIONING_GRAPH_URL": "https://127.0.0.1:8443",
        }
    )
    graph = _Graph().on("GET", METHODS, _phones())

    class _Tokens:
        def token(self) -> str:
            return "tok-7"

    client = build_graph(
        settings, transport=httpx.MockTransport(graph), sleep=lambda _: None, tokens=_Tokens()
    )
    port: GraphPort = client  # mypy checks that GraphClient satisfies the port

    port.read_methods(UPN)
    client.close()

    (request,) = graph.requests
    assert str(request.url) == f"https://127.0.0.1:8443{METHODS}"
    assert request.headers["Authorization"] == "Bearer tok-7"
    assert request.headers["User-Agent"] == "entra-auth-provisioning/0.1"
