"""HTTP triggers on localhost with the host's routing (``/api/<route>``) and function-key checks.

Unlike ``func start``, the runner enforces keys locally: a FUNCTION-level route needs the key in the
``x-functions-key`` header or the ``code`` query parameter (401 otherwise), so tests see production
behaviour. ``POST /admin/functions/<name>`` runs a non-HTTP function (the timer) on demand with the
master key, as the host's admin API does.
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from provisioning.entrypoints.local.host import Function

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024 * 1024  # the host's own default request limit is far larger; enough for tests


class Route:
    """One HTTP-triggered function and the regex its route compiles to."""

    def __init__(self, function: Function) -> None:
        self.function = function
        route = str(function.trigger.get("route") or function.name)
        pattern = re.sub(r"\{(\w+)(?::\w+)?\??\}", r"(?P<\1>[^/]+)", route)
        self.regex = re.compile(f"^/api/{pattern}$")
        self.methods = {m.upper() for m in function.trigger.get("methods") or ["GET", "POST"]}
        self.auth = str(function.trigger.get("authLevel", "FUNCTION")).upper()


class LocalHttp:
    """A threading HTTP server dispatching to the app's HTTP functions."""

    def __init__(
        self,
        functions: list[Function],
        *,
        function_key: str,
        master_key: str,
        run_admin: Callable[[str], None],
        port: int = 7071,
    ) -> None:
        self.routes = [Route(f) for f in functions if f.kind == "httpTrigger"]
        self.function_key = function_key
        self.master_key = master_key
        self.run_admin = run_admin
        handler = type("Handler", (_Handler,), {"runner": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="local-http", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def key_ok(self, given: str | None, *, admin: bool) -> bool:
        keys = [self.master_key] if admin else [self.function_key, self.master_key]
        return given is not None and any(hmac.compare_digest(given, k) for k in keys)


class _Handler(BaseHTTPRequestHandler):
    runner: LocalHttp
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def __getattr__(self, name: str) -> Callable[[], None]:
        # Any other method (HEAD, OPTIONS, TRACE, QUERY...) goes through the same routing, as on the
        # host (405 where the route does not allow it), never http.server's HTML 501.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query))
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._reply(413, b'{"error": {"code": "payloadTooLarge", "message": "request body too large"}}')
            return
        body = self.rfile.read(length) if length else b""
        key = self.headers.get("x-functions-key") or params.get("code")
        admin = re.fullmatch(r"/admin/functions/(\w+)", parts.path)
        if admin and self.command == "POST":
            self._admin(admin.group(1), key)
            return
        for route in self.runner.routes:
            match = route.regex.match(parts.path)
            if match is None:
                continue
            if self.command not in route.methods:
                self._reply(405, b"")
                return
            if route.auth != "ANONYMOUS" and not self.runner.key_ok(key, admin=route.auth == "ADMIN"):
                self._reply(401, b"")
                return
            self._invoke(route, parts.path, params, match.groupdict(), body)
            return
        self._reply(404, b"")

    def _invoke(
        self, route: Route, path: str, params: Mapping[str, str], route_params: Mapping[str, str], body: bytes
    ) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() != "x-functions-key"}
        request = func.HttpRequest(
            self.command, f"{self.runner.url}{path}", headers=headers, params=params,
            route_params=route_params, body=body,
        )  # fmt: skip
        try:
            response = route.function.call(**{route.function.arg: request})
        except Exception:
            log.exception("%s raised", route.function.name)
            self._reply(500, b"")
            return
        assert isinstance(response, func.HttpResponse)
        self._reply(response.status_code, response.get_body(), dict(response.headers), response.mimetype)

    def _admin(self, name: str, key: str | None) -> None:
        if not self.runner.key_ok(key, admin=True):
            self._reply(401, b"")
            return
        try:
            self.runner.run_admin(name)
        except KeyError:
            self._reply(404, b"")
            return
        except Exception:
            log.exception("admin run of %s failed", name)
            self._reply(500, b"")
            return
        self._reply(202, b"")

    def _reply(
        self, status: int, body: bytes, headers: Mapping[str, str] | None = None, mimetype: str | None = None
    ) -> None:
        self.send_response(status)
        sent = {k.lower() for k in (headers or {})}
        for name, value in (headers or {}).items():
            if name.lower() not in {"content-length", "connection"}:
                self.send_header(name, value)
        if "content-type" not in sent and body:
            self.send_header("Content-Type", mimetype or "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
