"""The HTTP handlers over the chunk executor on a fake $batch Graph and a fake JobPort; every answer is checked against the OpenAPI document."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import pytest

from provisioning.core.models import (
    AddPhone,
    DeletePhone,
    DesiredRow,
    JobState,
    MethodKind,
    OutcomeKind,
)
from provisioning.entrypoints.http.access import ApiAccess
from provisioning.entrypoints.http.bearer import BearerValidator
from provisioning.entrypoints.http.handlers import (
    ApiDeps,
    ApiLimits,
    answer,
    job_status,
    openapi_document,
    provision,
    render_job,
)
from provisioning.entrypoints.http.rate_limit import RateLimit, RateLimiter
from provisioning.errors import AuthenticationError, ConfigurationError
from provisioning.graph.paths import GraphPaths
from provisioning.use_cases.executor import ChunkExecutor
from tests.fakes import FakeGraph, FakeJobs, FakeUser, job
from tests.openapi_checks import DOCUMENT, documented
from tests.tokens import KEY, NOW, POLICY, Keys, public_jwk, token

ROOT = "https://graph.test"

MOBILE, OFFICE = MethodKind.MOBILE, MethodKind.OFFICE
ANN, BOB = "ann@contoso.test", "bob@contoso.test"
A, B = "+31 612345678", "+31 687654321"
JSON_HEADERS = {"Content-Type": "application/json"}


def no_graph():
    raise AssertionError("the Graph client must not be built for this request")


def deps(graph=None, jobs=None, **kwargs) -> ApiDeps:
    def factory() -> ChunkExecutor:
        return ChunkExecutor(graph, GraphPaths(ROOT), ROOT)

    executor = no_graph if graph is None else factory
    return ApiDeps(executor=executor, jobs=jobs or FakeJobs(), default_region="NL", concurrency=1, **kwargs)


def post(document: object = None, *, body: bytes | None = None, headers=None) -> func.HttpRequest:
    data = json.dumps(document).encode() if body is None else body
    return func.HttpRequest(
        "POST",
        "http://localhost/api/provision",
        body=data,
        headers=JSON_HEADERS if headers is None else headers,
    )


def provision_answer(response: func.HttpResponse) -> Any:
    return documented(response, "/api/provision", "post")


# --- POST /api/provision: errors ------------------------------------------------------------------

TOO_MANY = {"users": [{"upn": f"u{i}@contoso.test"} for i in range(6)]}


@pytest.mark.parametrize(
    ("request_", "status", "code", "field"),
    [
        pytest.param(post(body=b'{"upn": '), 400, "invalidJson", None, id="malformed-json"),
        pytest.param(post(["ann"]), 400, "invalidRequest", None, id="not-an-object"),
        pytest.param(post({"users": []}), 400, "invalidRequest", "users", id="empty-users"),
        pytest.param(
            post({"users": [{"upn": ANN}, {"upn": BOB}, {"upn": "c@contoso.test", "mobilePhone": A}]}),
            400,
            "unknownField",
            "users[2].mobilePhone",
            id="unknown-field",
        ),
        pytest.param(
            post(
                {
                    "users": [
                        {"upn": ANN},
                        {"upn": BOB},
                        {"upn": "c@x.test"},
                        {"upn": "d@x.test", "mobile": "+31 6"},
                    ]
                }
            ),
            400,
            "invalidField",
            "users[3].mobile",
            id="invalid-phone",
        ),
        pytest.param(
            post({"upn": ANN, "forcedUpdate": "yes"}), 400, "invalidField", "forcedUpdate", id="str-bool"
        ),
        pytest.param(post({"mobile": A}), 400, "missingField", "upn", id="missing-upn"),
        pytest.param(
            post({"users": [{"upn": ANN}, {"upn": ANN.upper()}]}),
            400,
            "duplicateUser",
            "users[1].upn",
            id="dupe",
        ),
        pytest.param(post(TOO_MANY), 413, "tooManyUsers", "users", id="too-many-users"),
        pytest.param(post(body=b" " * 2_000 + b"{}"), 413, "payloadTooLarge", None, id="body-too-large"),
        pytest.param(
            post({"upn": ANN}, headers={**JSON_HEADERS, "Content-Length": "5000"}),
            413,
            "payloadTooLarge",
            None,
            id="declared-too-large",
        ),
        pytest.param(
            post({"upn": ANN}, headers={}), 415, "unsupportedMediaType", "Content-Type", id="no-type"
        ),
        pytest.param(
            post({"upn": ANN}, headers={"Content-Type": "text/csv"}),
            415,
            "unsupportedMediaType",
            "Content-Type",
            id="csv-type",
        ),
        pytest.param(
            post({"upn": ANN}, headers={"Content-Type": "application/json; charset=latin-1"}),
            415,
            "unsupportedMediaType",
            "Content-Type",
            id="latin-1",
        ),
    ],
)
def test_bad_requests_get_their_status_code_and_field(request_, status, code, field):
    """Each class of bad input gets its 4xx, error code and field, and never touches Graph."""
    limits = ApiLimits(max_body_bytes=1_000, max_users=5, sync_max=20)

    response = provision(request_, deps(limits=limits))

    assert response.status_code == status
    assert provision_answer(response)["error"] | {"message": ""} == {
        "code": code,
        "message": "",
        "field": field,
    }


def test_a_json_error_says_where():
    """Malformed JSON is reported with its line and column."""
    response = provision(post(body=b'{\n  "upn": "ann@contoso.test",\n  "mobile": \n}'), deps())

    assert "line 4, column 1" in provision_answer(response)["error"]["message"]


def test_an_invalid_phone_is_masked_in_the_message():
    """The message names the field and what to fix, without the full number."""
    response = provision(post({"upn": ANN, "mobile": "+31 6123456"}), deps())

    message = provision_answer(response)["error"]["message"]
    assert message.startswith("mobile: not a valid phone number")
    assert "6123456" not in message


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_are_not_allowed(method):
    """Any method but POST is 405 with an Allow header."""
    request = func.HttpRequest(method, "http://localhost/api/provision", body=b"")

    response = provision(request, deps())

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert provision_answer(response)["error"]["code"] == "methodNotAllowed"


# --- POST /api/provision: synchronous ---------------------------------------------------------------


def test_one_user_is_provisioned_synchronously():
    """A single user object is applied now: 200 with the outcome, the tenant changed."""
    graph = FakeGraph({ANN: FakeUser()})

    response = provision(post({"upn": ANN, "mobile": "06 12345678"}), deps(graph))

    answer = provision_answer(response)
    assert response.status_code == 200
    assert answer["dryRun"] is False
    assert answer["summary"] == {"changed": 1, "unchanged": 0, "skipped": 0, "failed": 0, "invalid": 0}
    assert answer["results"] == [
        {
            "upn": ANN,
            "outcome": "changed",
            "reason": "add mobile",
            "smsSignInState": None,
            "requestIds": ["req-1"],
            "methods": {
                "mobile": {"action": "add", "previous": None, "new": A, "reason": "not registered yet"}
            },
        }
    ]
    assert graph.users[ANN].phones == {MOBILE: A}


def test_a_user_list_gets_one_result_per_user_in_order():
    """Changed, unchanged and failed users each get their outcome, in request order."""
    graph = FakeGraph({ANN: FakeUser(phones={MOBILE: A}), BOB: FakeUser()}, failing={BOB: AddPhone})
    users = [{"upn": BOB, "mobile": B}, {"upn": ANN, "mobile": A}, {"upn": "ghost@contoso.test", "mobile": A}]

    answer = provision_answer(provision(post({"users": users}), deps(graph)))

    assert [(r["upn"], r["outcome"]) for r in answer["results"]] == [
        (BOB, "failed"),
        (ANN, "unchanged"),
        ("ghost@contoso.test", "failed"),
    ]
    assert answer["summary"]["failed"] == 2
    assert answer["results"][0]["methods"]["mobile"]["action"] == "failed"
    assert answer["results"][0]["requestIds"] == ["req-fail"]
    assert graph.users[BOB].phones == {}


def test_a_dry_run_plans_without_writing():
    """With dryRun the answer shows the plan and the tenant is untouched."""
    graph = FakeGraph({ANN: FakeUser()})

    answer = provision_answer(
        provision(post({"users": [{"upn": ANN, "mobile": A}], "dryRun": True}), deps(graph))
    )

    assert answer["dryRun"] is True
    assert answer["results"][0]["outcome"] == OutcomeKind.CHANGED
    assert answer["results"][0]["methods"]["mobile"]["action"] == "add"
    assert graph.applied == []


def test_null_removes_with_forced_removal_and_absent_is_never_touched():
    """A null mobile with forcedRemoval deletes it; the absent office stays and is not reported."""
    graph = FakeGraph({ANN: FakeUser(phones={MOBILE: A, OFFICE: B})})
    user = {"upn": ANN, "mobile": None, "forcedRemoval": True}

    answer = provision_answer(provision(post(user), deps(graph)))

    assert graph.applied == [DeletePhone(ANN, MOBILE, A)]
    assert graph.users[ANN].phones == {OFFICE: B}
    assert answer["results"][0]["methods"] == {
        "mobile": {"action": "delete", "previous": A, "new": None, "reason": "empty cell with ForcedRemoval"}
    }


# --- POST /api/provision: queued --------------------------------------------------------------------


def test_more_than_sync_max_users_become_a_job():
    """21 users are submitted as one job (202, Location); Graph is not built."""
    jobs = FakeJobs()
    users = [{"upn": f"user{i}@contoso.test", "mobile": "0612345678"} for i in range(21)]

    response = provision(post({"users": users, "dryRun": True}), deps(jobs=jobs))

    answer = provision_answer(response)
    assert response.status_code == 202
    assert answer == {"jobId": "job-1", "statusUrl": "/api/jobs/job-1", "users": 21, "dryRun": True}
    assert response.headers["Location"] == "/api/jobs/job-1"
    ((rows, dry_run, source),) = jobs.submitted
    assert (len(rows), dry_run, source) == (21, True, "http")
    assert rows[20] == DesiredRow(21, "user20@contoso.test", {MOBILE: A}, managed=frozenset({MOBILE}))


def test_exactly_sync_max_users_are_answered_now():
    """20 users are still processed synchronously."""
    graph = FakeGraph({f"user{i}@contoso.test": FakeUser() for i in range(20)})
    users = [{"upn": f"user{i}@contoso.test"} for i in range(20)]

    response = provision(post({"users": users}), deps(graph))

    assert response.status_code == 200
    assert len(provision_answer(response)["results"]) == 20


# --- POST /api/provision: upstream and unexpected failures ------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(AuthenticationError("AADSTS700027: certificate not registered"), id="authentication"),
        pytest.param(ConfigurationError("PROVISIONING_CLIENT_ID: missing"), id="configuration"),
    ],
)
def test_credential_and_settings_failures_are_503_for_the_admin(error):
    """A Graph client that cannot be built answers 503 with the admin-readable reason."""

    def broken():
        raise error

    api = ApiDeps(executor=broken, jobs=FakeJobs())

    response = provision(post({"upn": ANN}), api)

    assert response.status_code == 503
    error_body = provision_answer(response)["error"]
    assert error_body["code"] == "upstreamUnavailable"
    assert str(error) in error_body["message"]
    assert "Traceback" not in error_body["message"]


def test_an_authentication_failure_during_the_run_is_503():
    """A token failure mid-run (it would fail every user) is 503 too."""

    class ExpiredGraph(FakeGraph):
        def send(self, requests):
            raise AuthenticationError("token request failed", status=401)

    response = provision(post({"upn": ANN}), deps(ExpiredGraph({})))

    assert response.status_code == 503
    assert provision_answer(response)["error"]["code"] == "upstreamUnavailable"


def test_a_bug_is_500_with_a_logged_correlation_id(caplog):
    """An unexpected exception is 500 with a correlation id that the log also carries."""

    class BuggyGraph(FakeGraph):
        def send(self, requests):
            raise KeyError("oops")

    with caplog.at_level(logging.ERROR, logger="provisioning.entrypoints.http.handlers"):
        response = provision(post({"upn": ANN}), deps(BuggyGraph({})))

    error = provision_answer(response)["error"]
    assert response.status_code == 500
    assert error["code"] == "internalError"
    assert error["correlationId"] in error["message"]
    assert error["correlationId"] in caplog.text
    assert caplog.records[-1].exc_info is not None


def test_an_unknown_default_region_is_a_configuration_error():
    """ApiDeps refuses a default region phonenumbers does not know."""
    with pytest.raises(ConfigurationError, match="PROVISIONING_DEFAULT_REGION"):
        ApiDeps(executor=no_graph, jobs=FakeJobs(), default_region="XX")


# --- GET /api/jobs/{id} ----------------------------------------------------------------------------


def get_job(job_id: str, jobs: FakeJobs, method: str = "GET") -> func.HttpResponse:
    request = func.HttpRequest(
        method, f"http://localhost/api/jobs/{job_id}", body=b"", route_params={"id": job_id}
    )
    return job_status(request, deps(jobs=jobs))


def test_a_known_job_is_reported_in_camel_case():
    """The job's status comes back as 200 with every field."""
    jobs = FakeJobs({"job-7": job(report={"report.csv": "https://x/report.csv"}, outcomes={"changed": 3})})

    response = get_job("job-7", jobs)

    assert response.status_code == 200
    assert documented(response, "/api/jobs/{id}", "get") == {
        "jobId": "job-7",
        "kind": "http",
        "source": "http",
        "state": "running",
        "rows": 30,
        "chunks": 2,
        "chunksDone": 1,
        "started": "2025-01-01T12:00:00Z",
        "finished": None,
        "dryRun": False,
        "report": {"report.csv": "https://x/report.csv"},
        "outcomes": {"changed": 3},
        "rowsDone": 0,
        "writesApplied": 0,
        "writesPerSecond": None,
        "secondsLeft": None,
    }


def test_a_running_job_carries_its_pace_and_the_time_left_at_it():
    """10 of 30 rows and 15 writes in the first 10 s: 1.5 writes/s and 20 s left at that pace."""
    status = job(rows_done=10, writes_applied=15)

    shown = render_job(status, now=datetime(2025, 1, 1, 12, 0, 10, tzinfo=UTC))

    assert (shown["rowsDone"], shown["writesApplied"]) == (10, 15)
    assert (shown["writesPerSecond"], shown["secondsLeft"]) == (1.5, 20)


def test_an_ended_job_has_its_overall_pace_and_no_time_left():
    """A completed job's pace runs from its start to its end; nothing is left."""
    status = replace(
        job(rows_done=30, writes_applied=60), state=JobState.COMPLETED, finished="2025-01-01T12:00:30Z"
    )

    shown = render_job(status, now=datetime(2026, 1, 1, tzinfo=UTC))

    assert (shown["writesPerSecond"], shown["secondsLeft"]) == (2.0, None)


@pytest.mark.parametrize(
    "job_id",
    [
        pytest.param("job-8", id="unknown"),
        pytest.param("../job-7", id="malformed"),
        pytest.param("", id="empty"),
        pytest.param("j" * 200, id="too-long"),
    ],
)
def test_unknown_or_malformed_job_ids_are_404(job_id):
    """An id that names no job is 404 jobNotFound."""
    response = get_job(job_id, FakeJobs({"job-7": job()}))

    assert response.status_code == 404
    assert documented(response, "/api/jobs/{id}", "get")["error"]["code"] == "jobNotFound"


def test_job_status_only_answers_get():
    """POST on a job is 405."""
    response = get_job("job-7", FakeJobs({"job-7": job()}), method="POST")

    assert response.status_code == 405
    assert documented(response, "/api/jobs/{id}", "get")["error"]["code"] == "methodNotAllowed"


# --- GET /api/openapi.json -------------------------------------------------------------------------


def test_the_openapi_document_is_served():
    """The handler serves the document the tests validate against."""
    request = func.HttpRequest("GET", "http://localhost/api/openapi.json", body=b"")

    response = openapi_document(request)

    assert response.status_code == 200
    assert documented(response, "/api/openapi.json", "get") == json.loads(json.dumps(DOCUMENT))


# --- Access: bearer token and rate limit, before the body is read -----------------------------------


def strict_deps(graph=None, jobs=None, *, rate: RateLimit | None = None) -> ApiDeps:
    """Deps whose gate requires a bearer token (locally signed, test_bearer's key) and counts the rate."""
    bearer = BearerValidator(POLICY, Keys(k1=public_jwk(KEY)), clock=lambda: NOW)
    limiter = RateLimiter(rate, clock=lambda: 0.0) if rate is not None else None
    return deps(graph, jobs, access=ApiAccess(bearer, limiter))


def with_token(request: func.HttpRequest, bearer: str) -> func.HttpRequest:
    headers = {**dict(request.headers), "Authorization": f"Bearer {bearer}"}
    return func.HttpRequest(
        request.method,
        request.url,
        headers=headers,
        body=request.get_body(),
        route_params=request.route_params,
    )


def test_with_bearer_tokens_on_a_valid_token_is_provisioned():
    """The gate admits the token's app and the request is processed as usual."""
    graph = FakeGraph({ANN: FakeUser()})

    response = provision(with_token(post({"upn": ANN, "mobile": A}), token()), strict_deps(graph))

    assert response.status_code == 200
    assert graph.users[ANN].phones == {MOBILE: A}


@pytest.mark.parametrize(
    ("bearer", "status", "code"),
    [
        pytest.param(None, 401, "invalidToken", id="missing"),
        pytest.param(token(exp=NOW - 7200), 401, "invalidToken", id="expired"),
        pytest.param(token(aud="https://graph.microsoft.com"), 401, "invalidToken", id="audience"),
        pytest.param(token(roles=[]), 403, "missingRole", id="no-role"),
    ],
)
def test_refused_tokens_are_answered_before_the_body_is_read(bearer, status, code):
    """401/403 with the documented Error body and challenge; nothing is parsed, Graph is never built."""
    request = post(body=b"{not json") if bearer is None else with_token(post(body=b"{not json"), bearer)

    response = provision(request, strict_deps())

    assert response.status_code == status
    assert provision_answer(response)["error"]["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_job_status_needs_the_token_too():
    """GET /api/jobs/{id} without a token is 401, documented."""
    request = func.HttpRequest(
        "GET", "http://localhost/api/jobs/job-7", body=b"", route_params={"id": "job-7"}
    )

    response = job_status(request, strict_deps(jobs=FakeJobs({"job-7": job()})))

    assert response.status_code == 401
    assert documented(response, "/api/jobs/{id}", "get")["error"]["code"] == "invalidToken"


def test_the_openapi_document_needs_no_token():
    """The document is served with the function key alone, even where tokens are required."""
    request = func.HttpRequest("GET", "http://localhost/api/openapi.json", body=b"")

    assert openapi_document(request).status_code == 200


def test_a_caller_over_its_rate_gets_429_with_retry_after():
    """Burst 2 at 6 per minute: the third request is 429 tooManyRequests, Retry-After 10, documented."""
    api = deps(jobs=FakeJobs(), access=ApiAccess(None, RateLimiter(RateLimit(6, 2), clock=lambda: 0.0)))
    key = {**JSON_HEADERS, "x-functions-key": "servicenow-key"}
    users = {"users": [{"upn": f"u{i}@contoso.test"} for i in range(21)]}

    answers = [provision(post(users, headers=key), api) for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 202, 429]
    assert provision_answer(answers[2])["error"]["code"] == "tooManyRequests"
    assert answers[2].headers["Retry-After"] == "10"


def test_settings_that_cannot_be_used_are_503_naming_them():
    """answer(): a ConfigurationError while building the deps is a documented 503, not a host 500."""

    def broken() -> ApiDeps:
        raise ConfigurationError("PROVISIONING_API_BURST must be a whole number")

    response = answer(provision, post({"upn": ANN}), broken)

    assert response.status_code == 503
    error = provision_answer(response)["error"]
    assert error["code"] == "serviceUnavailable"
    assert "PROVISIONING_API_BURST" in error["message"]
