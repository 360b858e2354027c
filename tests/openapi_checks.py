"""Checks of JSON against the OpenAPI document: pointers into it, schema errors, and HTTP answers
checked against the schema documented for their operation and status."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
from openapi_schema_validator import OAS30Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from provisioning.entrypoints.http.openapi import build_document

DOC_URI = "urn:provisioning-openapi"
DOCUMENT: dict[str, Any] = build_document()


def pointer(*parts: str) -> str:
    """A JSON pointer to *parts* (``/`` and ``~`` escaped)."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def schema_errors(document: dict[str, Any], at: str, instance: object) -> list[str]:
    """Where *instance* breaks the schema at JSON pointer *at* of *document* (``$ref``s resolved)."""
    registry = Registry().with_resource(DOC_URI, DRAFT4.create_resource(document))
    validator = OAS30Validator({"$ref": f"{DOC_URI}#{at}"}, registry=registry)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def response_schema_at(document: dict[str, Any], path: str, method: str, status: int) -> str:
    """The pointer to the JSON schema of one documented answer; KeyError when it is not documented."""
    response = document["paths"][path][method]["responses"][str(status)]
    assert "application/json" in response["content"]
    return pointer("paths", path, method, "responses", str(status), "content", "application/json", "schema")


def documented(response: func.HttpResponse, path: str, method: str) -> Any:
    """The parsed body, after checking it against the document's schema for this operation and status."""
    body = json.loads(response.get_body())
    if response.status_code == 405:  # no operation describes another method; the body is still an Error
        at = pointer("components", "schemas", "Error")
    else:
        at = response_schema_at(DOCUMENT, path, method, response.status_code)

    assert schema_errors(DOCUMENT, at, body) == []
    assert response.mimetype == "application/json"
    return body
