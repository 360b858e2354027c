"""The OpenAPI document: valid OpenAPI 3.0.3, examples valid against their schemas, in step with the parser."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from provisioning.entrypoints.http.input import USER_FIELDS
from provisioning.entrypoints.http.openapi import build_document
from provisioning.errors import ErrorCode
from tests.openapi_checks import pointer, schema_errors


def spec() -> dict[str, Any]:
    """The document, typed for indexing in tests."""
    return build_document()


def examples(document: dict[str, Any]):
    """Every example in the document with the pointer of the schema it illustrates."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            media = operation.get("requestBody", {}).get("content", {}).get("application/json")
            at = pointer("paths", path, method, "requestBody", "content", "application/json", "schema")
            for name, example in (media or {}).get("examples", {}).items():
                yield f"{method} {path} body {name}", at, example["value"]
            for status, response in operation["responses"].items():
                media = response.get("content", {}).get("application/json", {})
                if "example" in media:
                    at = pointer(
                        "paths", path, method, "responses", status, "content", "application/json", "schema"
                    )
                    yield f"{method} {path} {status}", at, media["example"]


def test_the_document_is_valid_openapi():
    """openapi-spec-validator accepts the document."""
    validate(build_document())


def test_the_document_describes_the_three_operations():
    """provision, jobStatus and openapiDocument are there, behind the function key."""
    document = spec()

    operations = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    schemes = document["components"]["securitySchemes"]

    assert operations == {"provision", "jobStatus", "openapiDocument"}
    assert {(s.get("in"), s.get("name") or s.get("scheme")) for s in schemes.values()} == {
        ("header", "x-functions-key"),
        ("query", "code"),
        (None, "bearer"),
    }


def test_every_alternative_needs_the_key_and_only_the_document_skips_the_bearer_token():
    """Key alone or key plus bearer for the API; key alone for the OpenAPI document."""
    document = spec()
    key_only: list[dict[str, list[str]]] = [{"functionKey": []}, {"functionKeyQuery": []}]

    assert document["security"] == [*key_only, *({**k, "entraBearer": []} for k in key_only)]
    assert document["paths"]["/api/openapi.json"]["get"]["security"] == key_only


@pytest.mark.parametrize(("path", "method"), [("/api/provision", "post"), ("/api/jobs/{id}", "get")])
def test_access_refusals_are_documented_with_their_headers(path, method):
    """401, 403, 429 (with Retry-After) and 503 carry the Error schema on both API operations."""
    responses = spec()["paths"][path][method]["responses"]

    assert {"401", "403", "429", "503"} <= set(responses)
    assert "Retry-After" in responses["429"]["headers"]
    assert "WWW-Authenticate" in responses["401"]["headers"]


def test_every_example_is_valid_against_its_schema():
    """Each request and response example validates against the schema beside it."""
    document = spec()

    found = {name: schema_errors(document, at, example) for name, at, example in examples(document)}

    assert len(found) >= 10
    assert {name: errors for name, errors in found.items() if errors} == {}


def test_request_user_fields_are_the_parsers_fields():
    """The request schemas list exactly the fields the parser accepts, and forbid others."""
    schemas = spec()["components"]["schemas"]

    assert list(schemas["User"]["properties"]) == list(USER_FIELDS)
    assert list(schemas["SingleUserRequest"]["properties"]) == [*USER_FIELDS, "dryRun"]
    assert all(
        schemas[name]["additionalProperties"] is False
        for name in ("User", "SingleUserRequest", "BatchRequest")
    )


def test_error_codes_are_the_handlers_codes():
    """The Error schema's code enum is every ErrorCode, in order, each described with its status."""
    code = spec()["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]

    assert code["enum"] == [member.value for member in ErrorCode]
    assert code["x-enum-descriptions"] == [member.description for member in ErrorCode]
    assert all(f"`{m.value}` ({m.status}): {m.description}" in code["description"] for m in ErrorCode)


# The wire: these strings and statuses are what ServiceNow integrations match on; they never change.
WIRE = {
    "INVALID_JSON": ("invalidJson", 400),
    "INVALID_REQUEST": ("invalidRequest", 400),
    "UNKNOWN_FIELD": ("unknownField", 400),
    "MISSING_FIELD": ("missingField", 400),
    "INVALID_FIELD": ("invalidField", 400),
    "DUPLICATE_USER": ("duplicateUser", 400),
    "PAYLOAD_TOO_LARGE": ("payloadTooLarge", 413),
    "TOO_MANY_USERS": ("tooManyUsers", 413),
    "UNSUPPORTED_MEDIA_TYPE": ("unsupportedMediaType", 415),
    "METHOD_NOT_ALLOWED": ("methodNotAllowed", 405),
    "JOB_NOT_FOUND": ("jobNotFound", 404),
    "UPSTREAM_UNAVAILABLE": ("upstreamUnavailable", 503),
    "INTERNAL_ERROR": ("internalError", 500),
    "INVALID_TOKEN": ("invalidToken", 401),
    "MISSING_ROLE": ("missingRole", 403),
    "TOO_MANY_REQUESTS": ("tooManyRequests", 429),
    "SERVICE_UNAVAILABLE": ("serviceUnavailable", 503),
}


def test_error_code_wire_values_and_statuses_are_unchanged():
    """Each code keeps its wire string and status; each has a description."""
    assert {m.name: (m.value, m.status) for m in ErrorCode} == WIRE
    assert all(m.description.strip() for m in ErrorCode)


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        pytest.param({"upn": "a@contoso.test"}, True, id="single"),
        pytest.param({"users": [{"upn": "a@contoso.test", "mobile": None}]}, True, id="batch"),
        pytest.param({"upn": "a@contoso.test", "users": []}, False, id="both-shapes"),
        pytest.param({"users": [{"upn": "a@contoso.test", "dryRun": True}]}, False, id="dry-run-per-user"),
        pytest.param({"upn": "a@contoso.test", "smsSignIn": "on"}, False, id="bad-enum"),
        pytest.param({"upn": "a@contoso.test", "forcedUpdate": "yes"}, False, id="string-bool"),
        pytest.param({"mobile": "+31612345678"}, False, id="no-upn"),
    ],
)
def test_the_request_schema_is_precise(body, valid):
    """Shapes the handler refuses are refused by the schema too."""
    document = spec()
    at = pointer("components", "schemas", "ProvisionRequest")

    assert (schema_errors(document, at, body) == []) is valid


def test_the_document_is_built_fresh_each_time():
    """Changing one copy does not change the next."""
    first = spec()
    first["paths"] = {}

    assert spec()["paths"]


DOCS = Path(__file__).resolve().parents[3] / "docs" / "servicenow.md"
DOC_SCHEMAS = ("ProvisionRequest", "ProvisionResult", "JobAccepted", "JobStatus", "Error")


def test_every_json_example_in_the_servicenow_guide_fits_a_schema():
    """The guide's request and answer examples are valid against the document (they drift otherwise)."""
    document = spec()
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)

    misfits = [
        block
        for block in blocks
        if not any(
            schema_errors(document, pointer("components", "schemas", name), json.loads(block)) == []
            for name in DOC_SCHEMAS
        )
    ]

    assert len(blocks) >= 6
    assert misfits == []
