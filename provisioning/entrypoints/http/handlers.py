"""The HTTP endpoints ServiceNow calls: provision users, watch a job, fetch the OpenAPI document.

Each handler takes a ``func.HttpRequest`` and its ``ApiDeps`` and always answers JSON; input
problems are 4xx with ``{"error": {"code", "message", "field"}}``, never 500. Before the body is read,
``ApiDeps.access`` checks the bearer token (when configured) and the caller's rate (401/403/429).
"""

from __future__ import annotations

import json
import logging
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import azure.functions as func

from provisioning.core.models import JobState, JobStatus, Outcome
from provisioning.core.pace import pace_of
from provisioning.core.phones import check_region
from provisioning.core.ports import JobPort
from provisioning.core.reports import row_reason, summarise
from provisioning.core.writes import subject_statuses
from provisioning.entrypoints.http.access import ApiAccess
from provisioning.entrypoints.http.input import ProvisionRequest, parse_body
from provisioning.entrypoints.http.openapi import build_document
from provisioning.errors import (
    AccessDenied,
    AuthenticationError,
    ConfigurationError,
    ErrorCode,
    PayloadError,
    PhoneError,
)
from provisioning.use_cases.executor import ChunkExecutor
from provisioning.use_cases.provision_rows import provision_rows

log = logging.getLogger(__name__)

# Job ids are ours (the JobPort makes them); anything else cannot name a job.
JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_JSON = "application/json"


@dataclass(frozen=True)
class ApiLimits:
    """Bounds on one request: body bytes, users, and how many users are answered synchronously."""

    max_body_bytes: int = 256 * 1024
    max_users: int = 1_000
    sync_max: int = 20


@dataclass(frozen=True)
class ApiDeps:
    """What the handlers need; built once per process by the shell.

    *executor* is called on each synchronous request and should cache what it builds (the Graph
    stack is made on the first one, so a cold start that only queues jobs never authenticates); the
    request's rows go through it as one chunk, as a queue worker's do.
    *default_region* must be a known ISO 3166 code or None: ``ConfigurationError`` otherwise.
    """

    executor: Callable[[], ChunkExecutor]
    jobs: JobPort
    default_region: str | None = None
    concurrency: int = 4
    limits: ApiLimits = field(default_factory=ApiLimits)
    access: ApiAccess = field(default_factory=ApiAccess)  # the default checks nothing: tests only

    def __post_init__(self) -> None:
        if self.default_region and self.default_region.strip():
            try:
                check_region(self.default_region)
            except PhoneError as exc:
                msg = f"PROVISIONING_DEFAULT_REGION: {exc}"
                raise ConfigurationError(msg) from exc


# --- Handlers -------------------------------------------------------------------------------------


def provision(req: func.HttpRequest, deps: ApiDeps) -> func.HttpResponse:
    """``POST /api/provision``: up to ``sync_max`` users answered now (200), more queued as a job (202).

    The Graph client is asked for only when users are processed synchronously.
    """
    if req.method.upper() != "POST":
        return _not_allowed(req, "POST")
    return _guarded("provision", req, deps, _provision)


def job_status(req: func.HttpRequest, deps: ApiDeps) -> func.HttpResponse:
    """``GET /api/jobs/{id}``: the job's progress (200), or 404 for an unknown or malformed id."""
    if req.method.upper() != "GET":
        return _not_allowed(req, "GET")
    return _guarded("job_status", req, deps, _job_status)


def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/openapi.json``: the OpenAPI 3.0.3 document describing these endpoints."""
    if req.method.upper() != "GET":
        return _not_allowed(req, "GET")
    return json_response(200, build_document(), cache=True)


def answer(
    handler: Callable[[func.HttpRequest, ApiDeps], func.HttpResponse],
    req: func.HttpRequest,
    deps: Callable[[], ApiDeps],
) -> func.HttpResponse:
    """*handler* with the process's deps; settings that cannot be used are 503 naming them, not a 500."""
    try:
        built = deps()
    except ConfigurationError as exc:
        log.error("the HTTP API cannot start with these settings: %s", exc)  # noqa: TRY400 - the message says it all
        msg = f"the function app's settings cannot be used: {exc}. An administrator must fix them."
        return error_response(ErrorCode.SERVICE_UNAVAILABLE, msg)
    return handler(req, built)


def _guarded(
    name: str,
    req: func.HttpRequest,
    deps: ApiDeps,
    handle: Callable[[func.HttpRequest, ApiDeps], func.HttpResponse],
) -> func.HttpResponse:
    """Admit the caller, run *handle*, and map what escapes: refusals and input errors to 4xx,
    credentials to 503, anything else to 500."""
    try:
        deps.access.admit(name, req.headers, req.params)
        return handle(req, deps)
    except AccessDenied as exc:
        return error_response(exc.code, exc.message, headers=exc.headers)
    except PayloadError as exc:
        return error_response(exc.code, exc.message, exc.field)
    except (AuthenticationError, ConfigurationError) as exc:
        # About the app's own credentials and settings, never a user's data: shown unmasked, since
        # mask_text would hide the digits of codes like AADSTS700027 that the admin needs.
        log.warning("%s: Graph unavailable: %s", name, exc)
        msg = (
            f"Microsoft Graph cannot be used with this function app's settings: {exc}. "
            "An administrator must fix the app registration, certificate or settings; retry later."
        )
        return error_response(ErrorCode.UPSTREAM_UNAVAILABLE, msg)
    except Exception:
        correlation_id = uuid.uuid4().hex
        log.exception("%s: unexpected error (correlation id %s)", name, correlation_id)
        msg = f"unexpected error; quote correlation id {correlation_id} to the administrator"
        return error_response(ErrorCode.INTERNAL_ERROR, msg, correlation_id=correlation_id)


def _provision(req: func.HttpRequest, deps: ApiDeps) -> func.HttpResponse:
    _require_json(req)
    body = _body(req, deps.limits.max_body_bytes)
    request = parse_body(body, default_region=deps.default_region, max_users=deps.limits.max_users)
    if len(request.rows) > deps.limits.sync_max:
        return _submitted(request, deps)
    outcomes = provision_rows(
        request.rows, deps.executor(), dry_run=request.dry_run, concurrency=deps.concurrency
    )
    return json_response(200, render_results(outcomes, dry_run=request.dry_run))


def _submitted(request: ProvisionRequest, deps: ApiDeps) -> func.HttpResponse:
    job_id = deps.jobs.submit(request.rows, dry_run=request.dry_run, source="http")
    url = f"/api/jobs/{job_id}"
    document = {"jobId": job_id, "statusUrl": url, "users": len(request.rows), "dryRun": request.dry_run}
    return json_response(202, document, headers={"Location": url})


def _job_status(req: func.HttpRequest, deps: ApiDeps) -> func.HttpResponse:
    job_id = req.route_params.get("id", "")
    status = deps.jobs.status(job_id) if JOB_ID.fullmatch(job_id) else None
    if status is None:
        msg = "no job with this id; use the jobId a 202 answer from POST /api/provision gave"
        raise PayloadError(ErrorCode.JOB_NOT_FOUND, msg, "id")
    return json_response(200, render_job(status))


# --- Request checks -------------------------------------------------------------------------------


def _not_allowed(req: func.HttpRequest, method: str) -> func.HttpResponse:
    msg = f"{req.method.upper()} is not allowed here; use {method}"
    response = error_response(ErrorCode.METHOD_NOT_ALLOWED, msg)
    response.headers["Allow"] = method
    return response


def _require_json(req: func.HttpRequest) -> None:
    media_type, *params = (
        part.strip().lower() for part in (req.headers.get("Content-Type") or "").split(";")
    )
    charset = next((p.partition("=")[2].strip('"') for p in params if p.startswith("charset=")), "utf-8")
    if media_type != _JSON or charset != "utf-8":
        msg = "send the body as JSON with Content-Type: application/json (UTF-8)"
        raise PayloadError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, msg, "Content-Type")


def _body(req: func.HttpRequest, max_bytes: int) -> bytes:
    """The body, once its declared and its actual length are within *max_bytes*."""
    declared = (req.headers.get("Content-Length") or "").strip()
    too_large = declared.isdecimal() and int(declared) > max_bytes
    body = b"" if too_large else req.get_body()
    if too_large or len(body) > max_bytes:
        msg = f"the body is larger than {max_bytes:,} bytes; send fewer users per request"
        raise PayloadError(ErrorCode.PAYLOAD_TOO_LARGE, msg)
    return body


# --- Rendering ------------------------------------------------------------------------------------


def render_results(outcomes: Sequence[Outcome], *, dry_run: bool) -> dict[str, object]:
    """The 200 answer: counts per outcome and one result per user, in request order."""
    s = summarise(outcomes)
    return {
        "dryRun": dry_run,
        "summary": {
            "changed": s.changed,
            "unchanged": s.unchanged,
            "skipped": s.skipped,
            "failed": s.failed,
            "invalid": s.invalid,
        },
        "results": [render_outcome(o) for o in outcomes],
    }


def render_outcome(outcome: Outcome) -> dict[str, object]:
    """One user's result; ``methods`` holds only the subjects the row's plan mentions.

    Values are unmasked, as in ``report.csv``: the caller sent them and owns the record.
    """
    ids = [*outcome.request_ids, *(r.request_id for r in outcome.results if r.request_id)]
    return {
        "upn": outcome.row.user,
        "outcome": outcome.kind.value,
        "reason": row_reason(outcome),
        "smsSignInState": outcome.sms_sign_in_state,
        "requestIds": list(dict.fromkeys(ids)),
        "methods": {
            subject.value: {
                "action": status.action,
                "previous": status.previous or None,
                "new": status.new or None,
                "reason": status.reason,
            }
            for subject, status in subject_statuses(outcome).items()
        },
    }


def render_job(status: JobStatus, now: datetime | None = None) -> dict[str, object]:
    """A job's progress in the API's camelCase, with its pace at *now* (default: the clock's now):
    writes per second since it started, and the time left at that pace while it runs."""
    pace = pace_of(status.rows_done, status.rows, status.writes_applied, _elapsed_s(status, now))
    left = pace.seconds_left if status.state is JobState.RUNNING else None
    return {
        "jobId": status.job_id,
        "kind": status.kind,
        "source": status.source,
        "state": status.state.value,
        "rows": status.rows,
        "chunks": status.chunks,
        "chunksDone": status.chunks_done,
        "started": status.started,
        "finished": status.finished,
        "dryRun": status.dry_run,
        "report": dict(status.report),
        "outcomes": dict(status.outcomes),
        "rowsDone": status.rows_done,
        "writesApplied": status.writes_applied,
        "writesPerSecond": None if pace.writes_per_s is None else round(pace.writes_per_s, 2),
        "secondsLeft": None if left is None else math.ceil(left),
    }


def _elapsed_s(status: JobStatus, now: datetime | None) -> float:
    """Seconds from the job's start to its end, or to *now* while it runs; 0 when a stamp is unreadable."""
    try:
        start = datetime.fromisoformat(status.started)
        end = datetime.fromisoformat(status.finished) if status.finished else (now or datetime.now(UTC))
    except ValueError:
        return 0.0
    if start.tzinfo is None or end.tzinfo is None:
        return 0.0
    return (end - start).total_seconds()


def error_response(
    code: ErrorCode,
    message: str,
    field: str | None = None,
    *,
    correlation_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> func.HttpResponse:
    """``{"error": {"code", "message", "field"}}`` with the code's status; 500s add ``correlationId``."""
    error: dict[str, object] = {"code": code.value, "message": message, "field": field}
    if correlation_id is not None:
        error["correlationId"] = correlation_id
    return json_response(code.status, {"error": error}, headers=headers)


def json_response(
    status: int, document: object, *, headers: Mapping[str, str] | None = None, cache: bool = False
) -> func.HttpResponse:
    """*document* as UTF-8 JSON; answers are not cached unless *cache*."""
    all_headers = {"Cache-Control": "public, max-age=300" if cache else "no-store", **(headers or {})}
    return func.HttpResponse(
        json.dumps(document, ensure_ascii=False),
        status_code=status,
        headers=all_headers,
        mimetype=_JSON,
        charset="utf-8",
    )
