"""The OpenAPI 3.0.3 document of the HTTP API, built from the same names the handlers use (pure)."""

from __future__ import annotations

from enum import StrEnum

from provisioning.core.models import Action, DefaultMethod, JobState, OutcomeKind, SmsSignIn, Subject
from provisioning.core.writes import FAILED, NOT_ATTEMPTED
from provisioning.entrypoints.http.input import BATCH_FIELDS, DRY_RUN, USERS
from provisioning.errors import ErrorCode

JOB_ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
MAX_USERS = 1_000  # ApiLimits' default; a deployment may lower it
_JSON = "application/json"
_UPN = "ann.smit@contoso.com"

Schema = dict[str, object]
_BEARER = "entraBearer"


def build_document() -> dict[str, object]:
    """A fresh copy of the whole document, ready for ``json.dumps``."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Entra ID authentication method provisioning",
            "version": "1.0.0",
            "description": (
                "Pre-provisions phone and email authentication methods for Entra ID users. Up to 20 "
                "users are processed while you wait (200); more are queued as a job (202) to poll. "
                "Every call needs the function key; where the deployment sets PROVISIONING_API_AUDIENCE, "
                "provision and job status also need an Entra ID bearer token with the app role "
                "Provisioning.Submit. Each caller's requests are rate limited (429 with Retry-After)."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [*_key_only(), *({**alternative, _BEARER: []} for alternative in _key_only())],
        "paths": {
            "/api/provision": {"post": _provision_operation()},
            "/api/jobs/{id}": {"get": _job_operation()},
            "/api/openapi.json": {"get": _openapi_operation()},
        },
        "components": {
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
                _BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": (
                        "An Entra ID access token for the API's audience carrying the app role "
                        "Provisioning.Submit; required only when the deployment sets "
                        "PROVISIONING_API_AUDIENCE, always together with the function key."
                    ),
                },
            },
            "schemas": _schemas(),
        },
    }


# --- Operations -----------------------------------------------------------------------------------


def _provision_operation() -> dict[str, object]:
    return {
        "operationId": "provision",
        "summary": "Provision the authentication methods of one or more users",
        "requestBody": {
            "required": True,
            "content": {
                _JSON: {
                    "schema": _ref("ProvisionRequest"),
                    "examples": {
                        "oneUser": {"value": _single_example()},
                        "batch": {"value": _batch_example()},
                    },
                }
            },
        },
        "responses": {
            "200": _json_response("Processed now: one result per user", "ProvisionResult", _result_example()),
            "202": {
                **_json_response("More than 20 users: queued as a job", "JobAccepted", _accepted_example()),
                "headers": {
                    "Location": {"description": "The job's status URL", "schema": {"type": "string"}}
                },
            },
            "400": _error_response(
                "The body or a field is invalid; `field` names it", ErrorCode.INVALID_FIELD
            ),
            **_access_responses(),
            "413": _error_response("The body or the user list is too large", ErrorCode.TOO_MANY_USERS),
            "415": _error_response(
                "The body is not sent as application/json", ErrorCode.UNSUPPORTED_MEDIA_TYPE
            ),
            "500": _error_response("Unexpected error; quote the correlation id", ErrorCode.INTERNAL_ERROR),
            "503": _error_response(
                "Graph, or the token issuer's keys, cannot be used with the app's settings now",
                ErrorCode.UPSTREAM_UNAVAILABLE,
            ),
        },
    }


def _job_operation() -> dict[str, object]:
    return {
        "operationId": "jobStatus",
        "summary": "The progress of a queued provisioning job",
        "parameters": [
            {
                "name": "id",
                "in": "path",
                "required": True,
                "description": "The jobId of a 202 answer",
                "schema": {"type": "string", "pattern": JOB_ID_PATTERN},
            }
        ],
        "responses": {
            "200": _json_response("The job", "JobStatus", _job_example()),
            **_access_responses(),
            "404": _error_response("No job with this id", ErrorCode.JOB_NOT_FOUND),
            "500": _error_response("Unexpected error; quote the correlation id", ErrorCode.INTERNAL_ERROR),
            "503": _error_response(
                "The token issuer's keys or the app's settings cannot be used now",
                ErrorCode.SERVICE_UNAVAILABLE,
            ),
        },
    }


def _openapi_operation() -> dict[str, object]:
    return {
        "operationId": "openapiDocument",
        "summary": "This document",
        "security": _key_only(),  # no bearer token and no rate limit: a static, cacheable document
        "responses": {
            "200": {
                "description": "The OpenAPI document",
                "content": {_JSON: {"schema": {"type": "object"}}},
            },
            "401": {"description": "No valid function key (answered by the Functions host, empty body)"},
        },
    }


def _key_only() -> list[dict[str, list[str]]]:
    """The function key, in the header or the query: either will do."""
    return [{"functionKey": []}, {"functionKeyQuery": []}]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(description: str, schema: str, example: object) -> dict[str, object]:
    return {"description": description, "content": {_JSON: {"schema": _ref(schema), "example": example}}}


def _error_response(description: str, code: ErrorCode) -> dict[str, object]:
    example = {"error": {"code": code.value, "message": description, "field": None}}
    if code == ErrorCode.INVALID_FIELD:
        message = "users[3].mobile: not a valid phone number for country code +31 (NL): too short"
        example = {"error": {"code": code.value, "message": message, "field": "users[3].mobile"}}
    return _json_response(description, "Error", example)


def _access_responses() -> dict[str, object]:
    """401, 403 and 429: answered before the body is read."""
    unauthorised = _error_response(
        "No valid function key (the Functions host answers, empty body), or, where bearer tokens are "
        "required, no valid token (JSON, with a WWW-Authenticate challenge)",
        ErrorCode.INVALID_TOKEN,
    )
    retry_after = {
        "description": "Seconds to wait before the next request",
        "schema": {"type": "integer", "minimum": 1},
    }
    return {
        "401": {**unauthorised, "headers": {"WWW-Authenticate": _header("Bearer challenge (RFC 6750)")}},
        "403": _error_response(
            "The bearer token's app lacks the app role Provisioning.Submit", ErrorCode.MISSING_ROLE
        ),
        "429": {
            **_error_response(
                "Too many requests from this caller; retry after Retry-After", ErrorCode.TOO_MANY_REQUESTS
            ),
            "headers": {"Retry-After": retry_after},
        },
    }


def _header(description: str) -> dict[str, object]:
    return {"description": description, "schema": {"type": "string"}}


# --- Schemas --------------------------------------------------------------------------------------


def _schemas() -> dict[str, object]:
    return {
        "User": _user_schema(with_dry_run=False),
        "SingleUserRequest": _user_schema(with_dry_run=True),
        "BatchRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": [USERS],
            "properties": {
                USERS: {"type": "array", "minItems": 1, "maxItems": MAX_USERS, "items": _ref("User")},
                DRY_RUN: _dry_run(),
            },
        },
        "ProvisionRequest": {
            "description": f"One user object, or an object with {' and '.join(BATCH_FIELDS)}",
            "oneOf": [_ref("SingleUserRequest"), _ref("BatchRequest")],
        },
        "ProvisionResult": _provision_result(),
        "UserResult": _user_result(),
        "MethodResult": _method_result(),
        "JobAccepted": _object(
            jobId={"type": "string"},
            statusUrl={"type": "string", "description": "/api/jobs/{jobId}"},
            users={"type": "integer", "minimum": 1},
            dryRun={"type": "boolean"},
        ),
        "JobStatus": _job_status(),
        "Error": _object(error=_error_body()),
    }


def _object(**properties: object) -> Schema:
    """An object whose properties are all required (answers always carry every field)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties),
        "properties": properties,
    }


def _nullable(type_: str, **more: object) -> Schema:
    return {"type": type_, "nullable": True, **more}


def _dry_run() -> Schema:
    return {"type": "boolean", "default": False, "description": "Plan only: nothing is written"}


def _user_schema(*, with_dry_run: bool) -> Schema:
    absent = "Absent: this kind is not managed. Null or empty: none wanted (removed only with forcedRemoval)."
    phone = _nullable("string", description=f"+CC NUMBER, or national for the default region. {absent}")
    properties: dict[str, object] = {
        "upn": {
            "type": "string",
            "minLength": 1,
            "maxLength": 1024,
            "description": "User principal name or object id",
        },
        "mobile": phone,
        "alternateMobile": phone,
        "office": phone,
        "email": _nullable("string", maxLength=254, description=f"Email method address. {absent}"),
        "forcedUpdate": {"type": "boolean", "default": False, "description": "Overwrite a different value"},
        "forcedRemoval": {"type": "boolean", "default": False, "description": "Remove kinds sent empty"},
        "smsSignIn": _nullable(
            "string", enum=[*_values(SmsSignIn), "", None], description="Null: left alone"
        ),
        "defaultMethod": _nullable(
            "string", enum=[*_values(DefaultMethod), "", None], description="Null: left alone"
        ),
    }
    if with_dry_run:
        properties[DRY_RUN] = _dry_run()
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["upn"],
        "properties": properties,
    }


def _provision_result() -> Schema:
    counts = {kind.value: {"type": "integer", "minimum": 0} for kind in OutcomeKind}
    return _object(
        dryRun={"type": "boolean"},
        summary=_object(**counts),
        results={"type": "array", "items": _ref("UserResult")},
    )


def _user_result() -> Schema:
    methods: Schema = {
        "type": "object",
        "additionalProperties": False,
        "description": "Only the subjects the user's entry touches",
        "properties": {subject.value: _ref("MethodResult") for subject in Subject},
    }
    return _object(
        upn={"type": "string"},
        outcome={"type": "string", "enum": _values(OutcomeKind)},
        reason={"type": "string"},
        smsSignInState=_nullable("string"),
        requestIds={"type": "array", "items": {"type": "string"}},
        methods=methods,
    )


def _method_result() -> Schema:
    return _object(
        action={"type": "string", "enum": [*_values(Action), FAILED, NOT_ATTEMPTED]},
        previous=_nullable("string"),
        new=_nullable("string"),
        reason={"type": "string"},
    )


def _job_status() -> Schema:
    return _object(
        jobId={"type": "string"},
        kind={"type": "string", "enum": ["csv", "http", "sync"]},
        source={"type": "string"},
        state={"type": "string", "enum": _values(JobState)},
        rows={"type": "integer", "minimum": 0},
        chunks=_nullable("integer", minimum=0),
        chunksDone={"type": "integer", "minimum": 0},
        started={"type": "string"},
        finished=_nullable("string"),
        dryRun={"type": "boolean"},
        report={"type": "object", "additionalProperties": {"type": "string"}},
        outcomes={"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
        rowsDone={"type": "integer", "minimum": 0},
        writesApplied={"type": "integer", "minimum": 0},
        writesPerSecond=_nullable("number", minimum=0),
        secondsLeft=_nullable("integer", minimum=0),
    )


def _error_body() -> Schema:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["code", "message", "field"],
        "properties": {
            "code": _error_code(),
            "message": {"type": "string"},
            "field": _nullable("string", description="The field to fix, as users[3].mobile"),
            "correlationId": {"type": "string", "description": "Only on 500: quote it to the admin"},
        },
    }


def _error_code() -> Schema:
    """Every ``ErrorCode``, each with its status and description (OpenAPI 3.0 has no per-value text)."""
    lines = [f"- `{code.value}` ({code.status}): {code.description}" for code in ErrorCode]
    return {
        "type": "string",
        "enum": _values(ErrorCode),
        "description": "What went wrong, one of:\n\n" + "\n".join(lines),
        "x-enum-descriptions": [code.description for code in ErrorCode],
    }


def _values(enum: type[StrEnum]) -> list[object]:
    return [member.value for member in enum]


# --- Examples -------------------------------------------------------------------------------------


def _single_example() -> dict[str, object]:
    return {"upn": _UPN, "mobile": "+31 612345678", "email": None, "smsSignIn": "enable", "dryRun": True}


def _batch_example() -> dict[str, object]:
    return {
        USERS: [
            {"upn": _UPN, "mobile": "+31 612345678", "forcedUpdate": True},
            {"upn": "bob@contoso.com", "office": "020 123 4567", "defaultMethod": "voiceOffice"},
        ],
        DRY_RUN: False,
    }


def _result_example() -> dict[str, object]:
    mobile = {"action": "add", "previous": None, "new": "+31 612345678", "reason": "not registered yet"}
    return {
        "dryRun": False,
        "summary": {"changed": 1, "unchanged": 0, "skipped": 0, "failed": 0, "invalid": 0},
        "results": [
            {
                "upn": _UPN,
                "outcome": "changed",
                "reason": "add mobile",
                "smsSignInState": "notEnabled",
                "requestIds": ["0f3c2a1e-8d7b-4c3e-9a51-2b6f1d0e4c77"],
                "methods": {"mobile": mobile},
            }
        ],
    }


def _accepted_example() -> dict[str, object]:
    job = "20250101T120000Z-9f1c"
    return {"jobId": job, "statusUrl": f"/api/jobs/{job}", "users": 250, "dryRun": False}


def _job_example() -> dict[str, object]:
    return {
        "jobId": "20250101T120000Z-9f1c",
        "kind": "http",
        "source": "http",
        "state": "running",
        "rows": 250,
        "chunks": 13,
        "chunksDone": 4,
        "started": "2025-01-01T12:00:00Z",
        "finished": None,
        "dryRun": False,
        "report": {},
        "outcomes": {},
        "rowsDone": 80,
        "writesApplied": 120,
        "writesPerSecond": 19.6,
        "secondsLeft": 26,
    }
