"""The HTTP handlers behind Entra bearer tokens, with REAL tokens from the sandbox's token endpoint.

The gate is built from settings as the Function App builds it: it discovers the sandbox's OpenID
metadata, fetches its JWKS over HTTPS and checks every token against them. Graph is the sandbox too.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import azure.functions as func
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from provisioning.entrypoints.http.access import ApiAccessSettings, build_access
from provisioning.entrypoints.http.handlers import ApiDeps, job_status, provision
from provisioning.graph.paths import GraphPaths
from provisioning.graph.stack import GraphStack, build_graph_stack
from provisioning.settings import Settings
from provisioning.use_cases.executor import ChunkExecutor
from tests.fakes import FakeJobs, job
from tests.openapi_checks import documented
from tests.sandbox import Sandbox

pytestmark = pytest.mark.e2e

API = "api://provisioning"
SECRET = "servicenow-secret"
ANN = "adele.vance@contoso.test"


@dataclass
class Api:
    """The demo tenant's sandbox with two API clients registered, and the gate built from settings."""

    sb: Sandbox
    submitter: str  # has Provisioning.Submit on api://provisioning
    outsider: str  # consented to api://provisioning without the role
    deps: ApiDeps

    def token(self, client_id: str, scope: str = f"{API}/.default") -> str:
        """A token from the sandbox's token endpoint (client credentials with a secret)."""
        return self.sb.client_token(client_id, SECRET, scope)

    def post(self, body: object, authorization: str | None) -> func.HttpResponse:
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        request = func.HttpRequest(
            "POST", "http://localhost/api/provision", body=json.dumps(body).encode(), headers=headers
        )
        return provision(request, self.deps)


@pytest.fixture
def api(demo_sandbox: Sandbox, sandbox_env: dict[str, str]) -> Iterator[Api]:
    sb = demo_sandbox  # sandbox_env: MSAL (requests) trusts the sandbox's CA through the environment
    submitter = sb.add_app(
        {
            "displayName": "ServiceNow",
            "clientSecret": SECRET,
            "roles": {"graph": [], API: ["Provisioning.Submit"]},
        }
    )
    outsider = sb.add_app(
        {"displayName": "Other app", "clientSecret": SECRET, "roles": {"graph": [], API: []}}
    )
    env = {**sb.env, "PROVISIONING_API_AUDIENCE": API, "PROVISIONING_DEFAULT_REGION": "NL"}
    access = build_access(ApiAccessSettings.from_env(env))
    stack: list[GraphStack] = []

    def executor() -> ChunkExecutor:  # the stack is built on first use, as in the Function App
        settings = Settings.from_env(env)
        if not stack:
            stack.append(build_graph_stack(settings))
        return ChunkExecutor(stack[0].batch, GraphPaths(settings.graph_root), settings.graph_root)

    deps = ApiDeps(executor=executor, jobs=FakeJobs({"job-7": job()}), default_region="NL", access=access)
    yield Api(sb, submitter, outsider, deps)
    access.close()
    for built in stack:
        built.close()


def answer_of(response: func.HttpResponse) -> Any:
    return documented(response, "/api/provision", "post")


def test_a_token_from_the_token_endpoint_with_the_role_is_served(api: Api):
    """200: a dry run for a real sandbox user, planned through Graph; nothing written."""
    response = api.post(
        {"upn": ANN, "mobile": "+31 612345679", "dryRun": True}, f"Bearer {api.token(api.submitter)}"
    )

    assert response.status_code == 200
    assert answer_of(response)["results"][0]["outcome"] == "changed"
    assert api.sb.stats()["writes"] == 0


def test_a_large_request_with_a_valid_token_is_queued_and_its_status_readable(api: Api):
    """202 for 21 users, and GET /api/jobs/{id} with the same token is 200."""
    bearer = f"Bearer {api.token(api.submitter)}"
    users = [{"upn": f"user{i}@contoso.test"} for i in range(21)]

    queued = api.post({"users": users}, bearer)
    status = job_status(
        func.HttpRequest(
            "GET",
            "http://localhost/api/jobs/job-7",
            body=b"",
            headers={"Authorization": bearer},
            route_params={"id": "job-7"},
        ),
        api.deps,
    )

    assert queued.status_code == 202
    assert status.status_code == 200


def _payload(token: str) -> dict[str, Any]:
    return cast("dict[str, Any]", json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==")))


def _b64(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def _resigned(api: Api, *, kid: str | None = None) -> str:
    """The sandbox's own claims, signed with a key the sandbox never published (same kid unless given)."""
    genuine = api.token(api.submitter)
    header = jwt.get_unverified_header(genuine)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(_payload(genuine), key, algorithm="RS256", headers={"kid": kid or header["kid"]})


def _altered(api: Api) -> str:
    """A genuine token whose payload gained the role after signing (from the outsider app)."""
    header, _, signature = api.token(api.outsider).split(".")
    payload = _payload(api.token(api.outsider))
    payload["roles"] = ["Provisioning.Submit"]
    return f"{header}.{_b64(payload)}.{signature}"


def _foreign(api: Api, *, tenant: str, issuer_tenant: str) -> str:
    """Signed by the sandbox's real key, but for another tenant and/or issuer."""
    return api.sb.app.entra.signer.issue(
        issuer=f"https://sts.windows.net/{issuer_tenant}/",
        tenant_id=tenant,
        app_id=api.submitter,
        audience=API,
        roles=["Provisioning.Submit"],
        acr="1",
    )


OTHER_TENANT = "0badf00d-0000-4000-8000-000000000000"
REFUSED: dict[str, tuple[Callable[[Api], str], str]] = {
    "expired": (
        lambda api: api.sb.token(api.submitter, API, issued_at=int(time.time()) - 7200),
        "expired at",
    ),
    "wrong-audience": (lambda api: api.token(api.submitter, f"{api.sb.url}/.default"), "another audience"),
    "other-key-same-kid": (_resigned, "signature is not valid"),
    "other-key-unknown-kid": (lambda api: _resigned(api, kid="rogue-kid"), "does not publish"),
    "payload-altered": (_altered, "signature is not valid"),
    "wrong-issuer": (lambda api: _foreign(api, tenant=OTHER_TENANT, issuer_tenant=OTHER_TENANT), "issued by"),
    "wrong-tenant": (
        lambda api: _foreign(api, tenant=OTHER_TENANT, issuer_tenant=api.sb.tenant_id),
        "another tenant",
    ),
    "alg-none": (
        lambda api: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_payload(api.token(api.submitter)))}.",
        "'none' is not accepted",
    ),
    "garbage": (lambda api: "not.a.token", "not a well-formed JWT"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_tokens_are_401_with_the_reason(api: Api, case: str):
    """Each forged, expired, misdirected or malformed token: 401 invalidToken, the reason, a challenge."""
    make, reason = REFUSED[case]

    response = api.post({"upn": ANN}, f"Bearer {make(api)}")

    assert response.status_code == 401
    error = answer_of(response)["error"]
    assert error["code"] == "invalidToken"
    assert reason in error["message"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_no_authorization_header_is_401_with_a_bare_challenge(api: Api):
    """Missing header: 401 and `WWW-Authenticate: Bearer realm=...` without an error code."""
    response = api.post({"upn": ANN}, None)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="provisioning"'


def test_a_valid_token_without_the_role_is_403(api: Api):
    """The outsider app's token is genuine but lacks Provisioning.Submit: 403 missingRole."""
    response = api.post({"upn": ANN}, f"Bearer {api.token(api.outsider)}")

    assert response.status_code == 403
    assert answer_of(response)["error"]["code"] == "missingRole"
    assert api.sb.stats()["writes"] == 0
