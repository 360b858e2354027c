"""Schemathesis against the served ``/api/openapi.json`` through the local runner (Azurite + sandbox).

Every operation gets generated requests, valid and invalid, with the function key and a real bearer
token (tokens required); no answer may be a 5xx, and every answer must match the document: status
code, content type, headers and body schema. Examples are bounded so the run stays well under a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.schemas import BaseSchema

from provisioning.entrypoints.wiring import reset_services
from tests.pipeline.conftest import Pipeline

pytestmark = pytest.mark.e2e

API = "api://provisioning"
SECRET = "schemathesis-secret"
KEY = "test-function-key"
EXAMPLES = 30  # per operation and generation phase


@dataclass(frozen=True)
class Served:
    url: str
    headers: dict[str, str]  # the function key and a valid bearer token


@pytest.fixture
def served(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Served:
    """The runner serving HTTP with bearer tokens required and a rate no test run reaches."""
    client_id = pipeline.sandbox.add_app(
        {"displayName": "Schemathesis", "clientSecret": SECRET, "roles": {API: ["Provisioning.Submit"]}}
    )
    for name, value in {
        "PROVISIONING_API_AUDIENCE": API,
        "PROVISIONING_API_RATE_PER_MINUTE": "1000000",
        "PROVISIONING_API_BURST": "100000",
    }.items():
        monkeypatch.setenv(name, value)
    reset_services()
    pipeline.runner.http.start()
    token = pipeline.sandbox.client_token(client_id, SECRET, f"{API}/.default")
    return Served(pipeline.runner.http.url, {"x-functions-key": KEY, "Authorization": f"Bearer {token}"})


@pytest.fixture
def api_schema(served: Served) -> BaseSchema:
    """The document as the runner serves it, fetched over HTTP with the key.

    Fetched here rather than by ``from_url``: that loader leaves out the operation the document was
    loaded from, and ``GET /api/openapi.json`` is one of the three to test.
    """
    response = httpx.get(f"{served.url}/api/openapi.json", headers={"x-functions-key": KEY}, timeout=30)
    response.raise_for_status()
    return schemathesis.openapi.from_dict(response.json())


schema = schemathesis.pytest.from_fixture("api_schema")

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_document(case, served: Served):
    """No 5xx; status, content type, headers and body as documented, for generated requests."""
    case.call_and_validate(base_url=served.url, headers=served.headers, checks=CHECKS)
