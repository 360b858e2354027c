"""The HTTP endpoint through the local runner with bearer tokens on: the function key AND the token.

The runner checks the key as the Functions host does (401, empty body); the app then checks the
Entra token it got from the sandbox's token endpoint (401/403 JSON), and the caller's rate (429).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from provisioning.entrypoints.wiring import reset_services
from tests.pipeline.conftest import Pipeline

pytestmark = pytest.mark.e2e

API = "api://provisioning"
SECRET = "servicenow-secret"
KEY = {"x-functions-key": "test-function-key"}
USER = "lidia.holloway@contoso.test"


def token_for(pipeline: Pipeline, client_id: str) -> str:
    return pipeline.sandbox.client_token(client_id, SECRET, f"{API}/.default")


@pytest.fixture
def secured(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """The runner serving HTTP with PROVISIONING_API_AUDIENCE set and a tiny rate (burst 5, then one per 2 minutes)."""
    submitter = pipeline.sandbox.add_app(
        {"displayName": "ServiceNow", "clientSecret": SECRET, "roles": {API: ["Provisioning.Submit"]}}
    )
    outsider = pipeline.sandbox.add_app({"displayName": "Other", "clientSecret": SECRET, "roles": {API: []}})
    for name, value in {
        "PROVISIONING_API_AUDIENCE": API,
        "PROVISIONING_API_RATE_PER_MINUTE": "0.5",
        "PROVISIONING_API_BURST": "5",
    }.items():
        monkeypatch.setenv(name, value)
    reset_services()  # the next request builds the services from the environment above
    pipeline.runner.http.start()
    tokens = {"submitter": token_for(pipeline, submitter), "outsider": token_for(pipeline, outsider)}
    with httpx.Client(base_url=pipeline.runner.http.url, timeout=30) as client:
        yield client, tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_key_and_valid_token_together_are_served(secured, pipeline: Pipeline):
    """200 for one user with both; the tenant changed."""
    http, tokens = secured

    response = http.post(
        "/api/provision",
        json={"upn": USER, "mobile": "+1 425 555 0118"},
        headers={**KEY, **bearer(tokens["submitter"])},
    )

    assert response.status_code == 200, response.text
    assert pipeline.sandbox.user(USER)["phoneMethods"] == {"mobile": "+1 4255550118"}


def test_a_token_without_the_key_is_refused_by_the_host(secured):
    """No key: 401 with the host's empty body, whatever the token."""
    http, tokens = secured

    response = http.post("/api/provision", json={"upn": USER}, headers=bearer(tokens["submitter"]))

    assert response.status_code == 401
    assert response.content == b""


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        pytest.param(None, 401, "invalidToken", id="key-only"),
        pytest.param("junk", 401, "invalidToken", id="key-and-garbage"),
        pytest.param("outsider", 403, "missingRole", id="key-and-token-without-role"),
    ],
)
def test_the_key_alone_is_not_enough(secured, pipeline: Pipeline, who, status, code):
    """With the key, a missing, bad or role-less token is refused with JSON and a challenge."""
    http, tokens = secured
    headers = dict(KEY) if who is None else {**KEY, **bearer(tokens.get(who, who))}

    response = http.post("/api/provision", json={"upn": USER, "mobile": "+1 425 555 0118"}, headers=headers)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert pipeline.sandbox.user(USER)["phoneMethods"] == {}


def test_the_openapi_document_needs_only_the_key(secured):
    """GET /api/openapi.json with the key and no token: 200."""
    http, _ = secured

    assert http.get("/api/openapi.json", headers=KEY).status_code == 200


def test_a_caller_over_its_rate_gets_429_with_retry_after(secured):
    """Burst 5 at 0.5 per minute: the sixth job-status poll is 429 with Retry-After of about 120 s."""
    http, tokens = secured
    headers = {**KEY, **bearer(tokens["submitter"])}

    answers = [http.get("/api/jobs/no-such-job", headers=headers) for _ in range(6)]

    assert [a.status_code for a in answers] == [404] * 5 + [429]
    assert 100 <= int(answers[5].headers["Retry-After"]) <= 120
    assert answers[5].json()["error"]["code"] == "tooManyRequests"
