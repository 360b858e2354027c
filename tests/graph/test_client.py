"""GraphClient.get_json through httpx.MockTransport: the body, retries, error mapping, request ids, logs, wiring."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from provisioning.errors import (
    AuthenticationError,
    GraphError,
    PermanentGraphError,
    TransientGraphError,
    UncertainWriteError,
)
from provisioning.graph.client import GraphClient
from provisioning.graph.failures import READ_PERMISSION
from provisioning.graph.retry import graph_retrying
from provisioning.graph.stack import build_graph
from provisioning.settings import Settings

ROOT = "https://graph.test"
UPN = "jane@contoso.com"
OID = "0f0e0d0c-0b0a-4908-8706-050403020100"
METHODS = f"/v1.0/users/{UPN}/authentication/methods"
MEMBERS = f"/v1.0/groups/{OID}/transitiveMembers?$select=id"
NUMBER = "+1 5555551234"
GROUP_READ = "GroupMember.Read.All"

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
    closed: list[str]


@pytest.fixture(name="setup")
def _setup() -> _Setup:
    graph = _Graph()
    sleeps: list[float] = []
    closed: list[str] = []
    http = httpx.Client(transport=httpx.MockTransport(graph))
    client = GraphClient(
        http,
        graph_retrying(attempts=3, sleep=sleeps.append),
        graph_root=ROOT,
        on_close=lambda: closed.append("tokens"),
    )
    return _Setup(graph, client, sleeps, closed)


def _ok(status: int = 200, body: object = None, request_id: str = "req-1") -> httpx.Response:
    headers = {"request-id": request_id}
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def _error(status: int, code: str, message: str = "", **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "innerError": {"request-id": "inner-req"}}}
    return httpx.Response(status, json=body, headers={"request-id": f"req-{status}", **headers})


def _methods(*types: str) -> httpx.Response:
    return _ok(body={"value": [{"@odata.type": f"#microsoft.graph.{t}"} for t in types]})


def _read(
    client: GraphClient,
    path: str = METHODS,
    *,
    what: str = "read methods",
    permission: str = READ_PERMISSION,
    subject: str = "user",
    ref: str = UPN,
) -> object:
    """A GET of *path* under the test root, as the directory sync makes one."""
    return client.get_json(f"{ROOT}{path}", what=what, permission=permission, subject=subject, ref=ref)


def test_get_json_returns_the_json_body_of_the_absolute_url(setup: _Setup) -> None:
    """The URL is sent as given (query included) and the parsed JSON comes back."""
    body = {"value": [{"id": OID}], "@odata.nextLink": f"{ROOT}/v1.0/next"}
    setup.graph.on("GET", MEMBERS, _ok(body=body))

    result = _read(setup.client, MEMBERS, what="read group members", permission=GROUP_READ)

    assert result == body
    assert setup.graph.calls == [f"GET {MEMBERS}"]
    assert str(setup.graph.requests[0].url) == f"{ROOT}{MEMBERS}"


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(httpx.Response(204), id="empty"),
        pytest.param(httpx.Response(200, content=b"<html>not json</html>"), id="not-json"),
    ],
)
def test_an_answer_without_json_is_none(setup: _Setup, reply: httpx.Response) -> None:
    """A success whose body is empty or not JSON gives None, not an exception."""
    setup.graph.on("GET", METHODS, reply)

    assert _read(setup.client) is None


def test_every_request_gets_a_fresh_client_request_id(setup: _Setup) -> None:
    """Each request, retries included, carries its own UUID client-request-id."""
    setup.graph.on("GET", METHODS, _error(503, "serviceNotAvailable"), _methods())

    _read(setup.client)
    _read(setup.client)

    ids = [r.headers["client-request-id"] for r in setup.graph.requests]
    assert len(set(ids)) == len(ids) == 3
    assert all(uuid.UUID(value) for value in ids)


def test_a_throttled_call_waits_for_retry_after_then_succeeds(setup: _Setup) -> None:
    """429 with Retry-After is retried after that many seconds; the second answer's body comes back."""
    setup.graph.on(
        "GET",
        METHODS,
        _error(429, "TooManyRequests", **{"Retry-After": "2"}),
        _methods("fido2Authentication"),
    )

    body = _read(setup.client)

    assert body == {"value": [{"@odata.type": "#microsoft.graph.fido2Authentication"}]}
    assert setup.sleeps == [2.0]
    assert setup.graph.calls == [f"GET {METHODS}", f"GET {METHODS}"]


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.ConnectError, httpx.RemoteProtocolError])
def test_a_transport_error_on_a_read_is_retried(setup: _Setup, failure: type[httpx.TransportError]) -> None:
    """A read that timed out or lost its connection is simply sent again."""
    setup.graph.on("GET", METHODS, failure, _methods("passwordAuthenticationMethod"))

    body = _read(setup.client)

    assert body == {"value": [{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod"}]}
    assert setup.graph.calls == [f"GET {METHODS}", f"GET {METHODS}"]
    assert len(setup.sleeps) == 1


def test_a_read_without_answer_after_every_attempt_is_transient_never_uncertain(setup: _Setup) -> None:
    """A GET cannot have half-applied: its lost answers end as a TransientGraphError naming the failure."""
    setup.graph.on("GET", METHODS, httpx.ReadTimeout)

    with pytest.raises(TransientGraphError) as info:
        _read(setup.client)

    assert not isinstance(info.value, UncertainWriteError)
    assert "read methods for j***@contoso.com: no answer from Graph (ReadTimeout)" in str(info.value)
    assert info.value.client_request_id == setup.graph.requests[-1].headers["client-request-id"]
    assert len(setup.graph.requests) == 3


@pytest.mark.parametrize(
    ("reply", "kwargs", "error_type", "code", "expected"),
    [
        pytest.param(_error(429, "TooManyRequests", **{"Retry-After": "1"}), {}, TransientGraphError,
                     "TooManyRequests", "throttling", id="429"),
        pytest.param(_error(503, "serviceNotAvailable"), {}, TransientGraphError, "serviceNotAvailable",
                     "unavailable", id="503"),
        pytest.param(_error(500, "generalException"), {}, TransientGraphError, "generalException",
                     "unavailable", id="500-read"),
        pytest.param(_error(502, "badGateway"), {}, TransientGraphError, "badGateway",
                     "unavailable", id="502-read"),
        pytest.param(_error(401, "InvalidAuthenticationToken"), {}, AuthenticationError,
                     "InvalidAuthenticationToken", "Graph rejected the token (401", id="401"),
        pytest.param(_error(403, "accessDenied"), {}, PermanentGraphError, "accessDenied",
                     "UserAuthenticationMethod.Read.All application permission", id="403-read"),
        pytest.param(_error(403, "accessDenied"), {"permission": GROUP_READ}, PermanentGraphError,
                     "accessDenied", "GroupMember.Read.All application permission", id="403-other-permission"),
        pytest.param(_error(404, "Request_ResourceNotFound"), {}, PermanentGraphError,
                     "Request_ResourceNotFound", "user j***@contoso.com not found in the tenant", id="404-user"),
        pytest.param(_error(404, "Request_ResourceNotFound"), {"subject": "group", "ref": OID},
                     PermanentGraphError, "Request_ResourceNotFound", f"group {OID} not found in the tenant",
                     id="404-group"),
        pytest.param(_error(400, "badRequest", f"Invalid phone number {NUMBER} for {UPN}"), {},
                     PermanentGraphError, "badRequest", "Invalid phone number +1 *******234 for j***@contoso.com",
                     id="400-masked"),
    ],
)  # fmt: skip
def test_statuses_map_to_graph_errors(
    setup: _Setup,
    reply: httpx.Response,
    kwargs: dict[str, str],
    error_type: type[GraphError],
    code: str,
    expected: str,
) -> None:
    """Status, Graph's code and both request ids travel on the error; the message says what to fix."""
    setup.graph.on("GET", METHODS, reply)

    with pytest.raises(GraphError) as info:
        _read(setup.client, **kwargs)

    error = info.value
    assert type(error) is error_type
    assert (error.status, error.code) == (reply.status_code, code)
    assert error.request_id == reply.headers["request-id"]
    assert error.client_request_id == setup.graph.requests[-1].headers["client-request-id"]
    assert expected in str(error)
    assert NUMBER not in str(error)
    assert UPN not in str(error)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(_error(400, "badRequest"), id="400"),
        pytest.param(_error(401, "InvalidAuthenticationToken"), id="401"),
        pytest.param(_error(403, "accessDenied"), id="403"),
        pytest.param(_error(404, "Request_ResourceNotFound"), id="404"),
    ],
)
def test_a_permanent_error_is_not_retried(setup: _Setup, reply: httpx.Response) -> None:
    """Retrying cannot help: one request, no wait."""
    setup.graph.on("GET", METHODS, reply)

    with pytest.raises(PermanentGraphError):
        _read(setup.client)

    assert setup.graph.calls == [f"GET {METHODS}"]
    assert setup.sleeps == []


def test_a_403_tells_the_admin_to_grant_consent(setup: _Setup) -> None:
    """The permission message ends in the action: grant admin consent."""
    setup.graph.on("GET", METHODS, _error(403, "accessDenied"))

    with pytest.raises(PermanentGraphError, match="grant admin consent"):
        _read(setup.client)


def test_a_throttled_error_carries_retry_after_when_attempts_run_out(setup: _Setup) -> None:
    """After the last try the TransientGraphError escapes with Graph's Retry-After."""
    setup.graph.on("GET", METHODS, _error(429, "TooManyRequests", **{"Retry-After": "7"}))

    with pytest.raises(TransientGraphError) as info:
        _read(setup.client)

    assert info.value.retry_after == 7.0
    assert setup.sleeps == [7.0, 7.0]
    assert len(setup.graph.requests) == 3


def test_requests_sent_counts_every_try(setup: _Setup) -> None:
    """The cost figure counts retries too: two reads, one of them retried once, are three requests."""
    setup.graph.on("GET", METHODS, httpx.ReadTimeout, _methods())
    assert setup.client.requests_sent == 0

    _read(setup.client)
    _read(setup.client)

    assert setup.client.requests_sent == 3


def test_logs_carry_no_numbers_or_addresses(setup: _Setup, caplog: pytest.LogCaptureFixture) -> None:
    """Requests and failures are logged with masked users and request ids, never values."""
    setup.graph.on("GET", METHODS, _error(400, "badRequest", f"bad {NUMBER} for {UPN}"))

    with caplog.at_level(logging.DEBUG, logger="provisioning"), pytest.raises(PermanentGraphError):
        _read(setup.client)

    assert "j***@contoso.com" in caplog.text
    assert "req-400" in caplog.text
    assert setup.graph.requests[0].headers["client-request-id"] in caplog.text
    assert "5555551234" not in caplog.text
    assert UPN not in caplog.text


def test_close_closes_the_http_client_and_the_token_provider(setup: _Setup) -> None:
    """close() ends the connections and calls on_close; no request can follow."""
    setup.graph.on("GET", METHODS, _methods())

    setup.client.close()

    assert setup.closed == ["tokens"]
    with pytest.raises(RuntimeError):
        _read(setup.client)


def test_the_client_closes_as_a_context_manager(setup: _Setup) -> None:
    """Leaving the with block closes it, also after an error."""
    setup.graph.on("GET", METHODS, _error(403, "accessDenied"))

    with pytest.raises(PermanentGraphError), setup.client as client:
        _read(client)

    assert setup.closed == ["tokens"]


def test_paths_build_urls_under_the_graph_root() -> None:
    """paths addresses v1.0 and beta under the root the client was given (a trailing slash is dropped)."""
    client = GraphClient(
        httpx.Client(transport=httpx.MockTransport(_Graph())),
        graph_retrying(attempts=1),
        graph_root="https://graph.example/",
    )

    assert client.paths.methods(UPN) == f"https://graph.example{METHODS}"
    assert client.paths.sign_in_preferences(UPN) == (
        f"https://graph.example/beta/users/{UPN}/authentication/signInPreferences"
    )


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
    graph = _Graph().on("GET", METHODS, _methods())

    class _Tokens:
        def token(self) -> str:
            return "tok-7"

    client = build_graph(
        settings, transport=httpx.MockTransport(graph), sleep=lambda _: None, tokens=_Tokens()
    )

    client.get_json(client.paths.methods(UPN), what="read methods", permission=READ_PERMISSION, ref=UPN)
    client.close()

    (request,) = graph.requests
    assert str(request.url) == f"https://127.0.0.1:8443{METHODS}"
    assert request.headers["Authorization"] == "Bearer tok-7"
    assert request.headers["User-Agent"] == "entra-auth-provisioning/0.1"
