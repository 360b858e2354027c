"""The ``/_sandbox/*`` control endpoints (no auth, loopback only): stats, state, history, config, and
expiry of delta tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from tests.sandbox.messages import Reply, Request

if TYPE_CHECKING:
    from tests.sandbox.app import SandboxApp


def handle(app: SandboxApp, request: Request) -> Reply:
    """Answer one control request."""
    parts = [unquote(p) for p in request.path.removeprefix("/_sandbox/").strip("/").split("/")]
    key = (request.method, parts[0])
    if key == ("GET", "stats") and len(parts) == 1:
        return _ok(app.stats.snapshot())
    if key == ("POST", "stats") and parts[1:] == ["reset"]:
        app.stats.reset()
        return Reply(204)
    if key == ("GET", "users") and len(parts) == 2:
        try:
            return _ok(app.tenant.snapshot(parts[1]))
        except KeyError:
            return _error(404, f"no user {parts[1]!r}")
    if key == ("GET", "state"):
        return _ok({"tenantId": app.tenant.tenant_id, "users": app.tenant.snapshots()})
    if key == ("GET", "history"):
        return _history(app, request)
    if key == ("GET", "config"):
        return _ok(app.config.as_dict())
    if key == ("POST", "config"):
        return _configure(app, request)
    if key == ("POST", "delta") and parts[1:] == ["expire"]:
        app.tenant.expire_delta_tokens()
        return Reply(204)
    if key == ("GET", "health"):
        return _ok({"status": "ok"})
    return _error(404, f"no control endpoint {request.method} {request.path}")


def _history(app: SandboxApp, request: Request) -> Reply:
    """``?user=`` one user's changes; ``?since=`` (epoch seconds) only the changes recorded after it."""
    user, since = request.query.get("user"), request.query.get("since")
    try:
        after = None if since is None else float(since)
    except ValueError:
        return _error(400, f"since={since!r}: give epoch seconds")
    try:
        return _ok(app.tenant.history(user, since=after))
    except Exception:  # unknown user
        return _error(404, f"no user {user!r}")


def _configure(app: SandboxApp, request: Request) -> Reply:
    try:
        changes = request.json()
    except ValueError as exc:
        return _error(400, str(exc))
    if not isinstance(changes, dict):
        return _error(400, "the body must be a JSON object")
    try:
        return _ok(app.configure(changes).as_dict())
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))


def _ok(body: object) -> Reply:
    return Reply(200, body, {"Content-Type": "application/json"})


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message}, {"Content-Type": "application/json"})
