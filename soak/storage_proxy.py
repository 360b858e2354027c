"""A seeded, faulty HTTP/1.1 proxy in front of one Azurite port (blob or queue).

It relays one request at a time per client connection and, drawn from a seeded RNG, may:

- ``refused``: reset a new connection before reading anything (the SDK sees a connection error);
- ``reset``: read a request, then reset the connection without forwarding it (nothing applied);
- ``lost``: forward the request, read Azurite's answer, then reset the connection instead of relaying
  it (the request *was* applied: the SDK's retry meets a 409/412, or a queue message is duplicated);
- ``delay``: hold the request for a while before forwarding it.

``outage(seconds)`` plays Azurite being down: the listening socket closes (connections are refused
by the kernel), every open connection is cut, and the port listens again afterwards. Only the
pipeline's processes use the proxy; the soak's checker reads Azurite directly.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import struct
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from types import TracebackType

log = logging.getLogger(__name__)

KINDS = ("refused", "reset", "lost", "delay")
_HEAD_LIMIT = 64 * 1024
_UPSTREAM_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ProxyFaults:
    """Per-request fault rates (0..1) and the delay range; all zero relays faithfully."""

    refused: float = 0.0  # per new connection
    reset: float = 0.0
    lost: float = 0.0
    delay: float = 0.0
    delay_s: tuple[float, float] = (0.05, 0.5)

    def __post_init__(self) -> None:
        rates = (self.refused, self.reset, self.lost, self.delay)
        if any(not 0.0 <= r <= 1.0 for r in rates) or self.reset + self.lost + self.delay > 1.0:
            msg = f"proxy fault rates must be within 0..1 and reset+lost+delay at most 1: {self}"
            raise ValueError(msg)


class _Closed(Exception):
    """The peer closed the connection (or it was cut) in the middle of a message."""


class StorageProxy:
    """Listens on a free loopback port and relays to ``127.0.0.1:upstream_port`` with faults."""

    def __init__(self, upstream_port: int, faults: ProxyFaults, *, seed: int, name: str = "storage") -> None:
        self.upstream_port = upstream_port
        self.faults = faults
        self.name = name
        self._rng = random.Random(f"{name}-{seed}")
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self._connections: set[socket.socket] = set()
        self._forced: deque[str | None] = deque()
        self._outage_lock = threading.Lock()
        self._stop = threading.Event()
        self._up = threading.Event()
        self._listener = self._listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._up.set()
        self._thread = threading.Thread(target=self._accept_loop, name=f"proxy-{name}", daemon=True)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> StorageProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._up.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._cut_all()
        self._thread.join(timeout=5)

    def __enter__(self) -> StorageProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def outage(self, seconds: float) -> None:
        """Refuse every connection for *seconds* (blocking): Azurite briefly unreachable.

        Outages of one proxy never overlap (a second call waits for the first to end).
        """
        with self._outage_lock:
            with self._lock:
                self.counts["outages"] += 1
                self.counts["outage_ms"] += int(seconds * 1000)
            self._up.clear()
            with contextlib.suppress(OSError):
                self._listener.close()
            cut = self._cut_all()
            with self._lock:
                self.counts["cut_by_outage"] += cut
            self._stop.wait(seconds)
            try:
                self._relisten()
            finally:
                self._up.set()

    def _relisten(self) -> None:
        """Listen on the same port again; the old listener may take a moment to be released."""
        for _ in range(100):
            if self._stop.is_set():
                return
            try:
                self._listener = self._listen(self.port)
            except OSError:
                time.sleep(0.1)
            else:
                return
        msg = f"proxy {self.name}: port {self.port} could not be listened on again after an outage"
        raise RuntimeError(msg)

    def force(self, *kinds: str | None) -> None:
        """The next requests meet these faults (None: none), before the seeded draws resume (tests)."""
        unknown = {k for k in kinds if k is not None} - {"reset", "lost", "delay"}
        if unknown:
            msg = f"unknown request faults {sorted(unknown)}; use reset, lost, delay or None"
            raise ValueError(msg)
        with self._lock:
            self._forced.extend(kinds)

    def snapshot(self) -> dict[str, int]:
        """Requests relayed and faults by kind so far."""
        with self._lock:
            return dict(self.counts)

    # --- accepting -------------------------------------------------------------------------------

    @staticmethod
    def _listen(port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(256)
        sock.settimeout(0.2)
        return sock

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            self._up.wait()
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue  # timeout, or the listener was closed for an outage
            client.settimeout(None)
            if self._draw_connection():
                _reset(client)
                continue
            with self._lock:
                self._connections.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _cut_all(self) -> int:
        with self._lock:
            live = list(self._connections)
            self._connections.clear()
        for sock in live:
            _reset(sock)
        return len(live)

    # --- relaying --------------------------------------------------------------------------------

    def _serve(self, client: socket.socket) -> None:
        upstream: _Reader | None = None
        reader = _Reader(client)
        try:
            while not self._stop.is_set():
                request = reader.message(is_request=True)
                if request is None:
                    return
                fault = self._draw_request()
                if fault == "reset":
                    return  # reset in finally, before anything reached Azurite
                if fault == "delay":
                    low, high = self.faults.delay_s
                    time.sleep(self._uniform(low, high))
                if upstream is None:
                    sock = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
                    sock.settimeout(_UPSTREAM_TIMEOUT_S)
                    upstream = _Reader(sock)
                upstream.sock.sendall(request.raw)
                response = upstream.message(is_request=False, method=request.method)
                if response is None:
                    return
                if fault == "lost":
                    return  # Azurite applied it; the client never hears
                client.sendall(response.raw)
                if response.closes:
                    return
        except (_Closed, OSError):
            return
        finally:
            with self._lock:
                self._connections.discard(client)
            _reset(client)
            if upstream is not None:
                with contextlib.suppress(OSError):
                    upstream.sock.close()

    def _draw_connection(self) -> bool:
        with self._lock:
            refused = self._rng.random() < self.faults.refused
            self.counts["connections"] += 1
            if refused:
                self.counts["refused"] += 1
            return refused

    def _draw_request(self) -> str | None:
        with self._lock:
            self.counts["requests"] += 1
            fault = self._forced.popleft() if self._forced else self._roll()
            if fault is not None:
                self.counts[fault] += 1
            return fault

    def _roll(self) -> str | None:
        """One seeded draw over reset, lost and delay (call under the lock)."""
        roll = self._rng.random()
        for kind, rate in (
            ("reset", self.faults.reset),
            ("lost", self.faults.lost),
            ("delay", self.faults.delay),
        ):
            if roll < rate:
                return kind
            roll -= rate
        return None

    def _uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self._rng.uniform(low, high)


@dataclass(frozen=True)
class _Message:
    raw: bytes
    method: str
    closes: bool


class _Reader:
    """Reads whole HTTP/1.1 messages (head + body by Content-Length or chunked) from one socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    def message(self, *, is_request: bool, method: str = "") -> _Message | None:
        head = self._head()
        if head is None:
            return None
        lines = head.split(b"\r\n")
        start = lines[0].decode("latin-1")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        verb = start.split(" ", 1)[0] if is_request else method
        status = 0 if is_request else int(start.split(" ")[1])
        body = self._body(headers, is_request=is_request, method=verb, status=status)
        closes = headers.get("connection", "").lower() == "close"
        return _Message(head + b"\r\n\r\n" + body, verb, closes)

    def _head(self) -> bytes | None:
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > _HEAD_LIMIT:
                raise _Closed
            data = self.sock.recv(65536)
            if not data:
                if self._buffer:
                    raise _Closed
                return None
            self._buffer += data
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        return head

    def _body(self, headers: dict[str, str], *, is_request: bool, method: str, status: int) -> bytes:
        if not is_request and (method == "HEAD" or status in (204, 304) or 100 <= status < 200):
            return b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._chunked()
        length = int(headers.get("content-length", "0") or 0)
        return self._exactly(length)

    def _exactly(self, length: int) -> bytes:
        while len(self._buffer) < length:
            data = self.sock.recv(max(65536, length - len(self._buffer)))
            if not data:
                raise _Closed
            self._buffer += data
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return body

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            data = self.sock.recv(65536)
            if not data:
                raise _Closed
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line + b"\r\n"

    def _chunked(self) -> bytes:
        out = bytearray()
        while True:
            size_line = self._line()
            out += size_line
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailers, then the empty line
                    trailer = self._line()
                    out += trailer
                    if trailer == b"\r\n":
                        return bytes(out)
            out += self._exactly(size + 2)


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the peer sees a reset, not a clean end of stream."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
