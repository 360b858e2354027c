"""The ServiceNow endpoint: provision one user or many, job status, and the OpenAPI document.

The host checks the function key; ``http_api`` then checks the bearer token (when
``PROVISIONING_API_AUDIENCE`` is set) and the caller's rate. The OpenAPI document needs the key only.
"""

from __future__ import annotations

import azure.functions as func

from provisioning.entrypoints.http import handlers as http_api
from provisioning.entrypoints.wiring import services

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.function_name("provision")
@bp.route(route="provision", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def provision(req: func.HttpRequest) -> func.HttpResponse:
    return http_api.answer(http_api.provision, req, lambda: services().api_deps())


@bp.function_name("job_status")
@bp.route(route="jobs/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def job_status(req: func.HttpRequest) -> func.HttpResponse:
    return http_api.answer(http_api.job_status, req, lambda: services().api_deps())


@bp.function_name("openapi")
@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return http_api.openapi_document(req)
