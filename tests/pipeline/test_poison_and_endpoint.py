"""The poison path and the HTTP endpoint through the local runner, with the host's key checks."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

from provisioning.entrypoints.wiring import services
from tests.pipeline.conftest import Pipeline

pytestmark = pytest.mark.e2e

KEY = {"x-functions-key": "test-function-key"}


def test_a_chunk_that_always_fails_ends_in_poison_and_its_rows_fail(pipeline: Pipeline, monkeypatch):
    """After maxDequeueCount failures the chunk is poisoned and the final report lists its rows as failed."""
    pipeline.upload("users.csv", b"UPN,Mobile\nadele.vance@contoso.test,+31 612345678\n")
    svc = services()

    def broken() -> object:
        raise RuntimeError("Graph unreachable from this worker")

    monkeypatch.setattr(svc, "chunk_executor", broken)

    pipeline.run()

    report = list(csv.DictReader(io.StringIO(pipeline.report(pipeline.job_of("users.csv"), "report.csv"))))
    assert [(r["upn"], r["outcome"]) for r in report] == [("adele.vance@contoso.test", "failed")]
    assert "poison" in report[0]["reason"]
    assert pipeline.sandbox.user("adele.vance@contoso.test")["phoneMethods"] == {}


@pytest.fixture
def http(pipeline: Pipeline):
    pipeline.runner.http.start()
    with httpx.Client(base_url=pipeline.runner.http.url, timeout=30) as client:
        yield client


def test_requests_without_a_valid_key_get_401(http):
    """No key, or a wrong one, is refused before the function runs."""
    assert http.post("/api/provision", json={"upn": "a@b.test"}).status_code == 401
    assert (
        http.post("/api/provision", json={"upn": "a@b.test"}, headers={"x-functions-key": "nope"}).status_code
        == 401
    )
    assert http.get("/api/openapi.json").status_code == 401


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        pytest.param(b"{not json", {}, 400, "invalidJson", id="malformed-json"),
        pytest.param(
            b'{"upn": "a@contoso.test", "mobilePhone": "1"}', {}, 400, "unknownField", id="unknown-field"
        ),
        pytest.param(
            b'{"upn": "a@contoso.test", "mobile": "+31 12"}', {}, 400, "invalidField", id="bad-number"
        ),
        pytest.param(b'{"mobile": "+31 612345678"}', {}, 400, "missingField", id="no-upn"),
        pytest.param(b"x" * 300_000, {}, 413, "payloadTooLarge", id="oversize"),
        pytest.param(
            b'{"upn": "a@contoso.test"}',
            {"Content-Type": "text/plain"},
            415,
            "unsupportedMediaType",
            id="type",
        ),
    ],
)
def test_malformed_requests_get_a_4xx_naming_the_problem(http, body, headers, status, code):
    """Each class of bad input gets its own 4xx and a JSON error, never a 500."""
    sent = {"Content-Type": "application/json", **KEY, **headers}

    response = http.post("/api/provision", content=body, headers=sent)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_one_user_is_provisioned_synchronously(http, pipeline: Pipeline):
    """A single-user request is applied at once and answered with its outcome."""
    response = http.post(
        "/api/provision",
        json={"upn": "lidia.holloway@contoso.test", "mobile": "+1 425 555 0118"},
        headers=KEY,
    )

    assert response.status_code == 200
    assert response.json()["results"][0]["outcome"] == "changed"
    assert pipeline.sandbox.user("lidia.holloway@contoso.test")["phoneMethods"] == {"mobile": "+1 4255550118"}


def test_a_large_request_becomes_a_job_with_a_status_url(http, pipeline: Pipeline):
    """More than 20 users get 202 and a job whose status ends completed with a report."""
    users = [{"upn": u["userPrincipalName"], "office": f"+1 425555{1000 + i:04d}"}
             for i, u in enumerate(pipeline.sandbox.users()[:25])]  # fmt: skip

    response = http.post("/api/provision", json={"users": users, "dryRun": True}, headers=KEY)
    assert response.status_code == 202
    pipeline.runner.work_until_idle()
    status = http.get(response.json()["statusUrl"], headers=KEY)

    assert status.status_code == 200
    assert status.json()["state"] == "completed"
    assert status.json()["rows"] == 25
    assert pipeline.sandbox.stats()["writes"] == 0
    assert json.loads(pipeline.report(response.json()["jobId"], "summary.json"))["dryRun"] is True
