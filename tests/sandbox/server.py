"""The HTTPS transport: a threading HTTP/1.1 server on loopback (keep-alive, TLS handshake in the
connection's own thread), per-request latency, fault delays and dropped connections."""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.sandbox.messages import Reply, Request, graph_error

_IDLE_TIMEOUT_S = 120.0
_HANDSHAKE_TIMEOUT_S = 10.0


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The server's TLS context."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class HttpsServer(ThreadingHTTPServer):
    """One thread per connection; the app is attached after binding (it needs the port)."""

    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext) -> None:
        super().__init__(address, _Handler)
        self.context = context
        self.app: Any = None
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        sock.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )  # headers and body go out as separate writes
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # clients going away is normal
            traceback.print_exc()

    def close_connections(self) -> None:
        """Shut every open keep-alive connection (on stop)."""
        with self.connections_lock:
            for sock in list(self.connections):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = _IDLE_TIMEOUT_S
    server: HttpsServer

    def setup(self) -> None:
        self.handshake_ok = False
        sock = self.request
        sock.settimeout(_HANDSHAKE_TIMEOUT_S)
        try:
            sock.do_handshake()
            self.handshake_ok = True
        except (OSError, ssl.SSLError):
            pass
        with self.server.connections_lock:
            self.server.connections.add(sock)
        super().setup()

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.request)
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        if self.handshake_ok:
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(
            self.command, url.path, dict(parse_qsl(url.query, keep_blank_values=True)), headers, body
        )
        app = self.server.app
        if not url.path.startswith("/_sandbox/") and app.latency_s > 0:
            time.sleep(app.latency_s)
        try:
            reply: Reply = app.dispatch(request)
        except Exception:  # a sandbox bug must still answer, visibly
            traceback.print_exc()
            reply = graph_error(500, "sandboxBug", "Unhandled error in the Graph sandbox; see its stderr.")
        if reply.delay_s > 0:
            time.sleep(reply.delay_s)
        if reply.drop:
            self._drop()
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        payload = reply.encoded()
        self.send_response_only(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if "Date" not in reply.headers:
            self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)
        self.wfile.flush()

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.request.shutdown(socket.SHUT_RDWR)
