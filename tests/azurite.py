"""Azurite for the tests and the demo: start it on free loopback ports, or use the one the Makefile started.

``python -m tests.azurite start DIR`` starts it in the background, writes ``DIR/connection`` and
``DIR/pid`` and returns once it answers; ``python -m tests.azurite stop DIR`` stops it.

By default Azurite keeps everything in memory, which suits tests and the demo. Given a ``location``
it keeps blob and message bodies in files there instead (its metadata stays in memory, a few hundred
bytes an object): what a job of a million rows needs, whose chunk blobs and messages would otherwise
all sit in Azurite's heap (bench/bigfile.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AZURITE = ROOT / "node_modules" / ".bin" / "azurite"
# The well-known development account key published in Azurite's README (not a secret).
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
ENV_CONNECTION = "TEST_STORAGE_CONNECTION"  # set by the Makefile when it started Azurite


@dataclass(frozen=True)
class Azurite:
    """A running Azurite: its ports and a connection string the storage SDKs accept."""

    blob_port: int
    queue_port: int
    table_port: int

    @property
    def connection_string(self) -> str:
        host = "http://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={host}:{self.blob_port}/{ACCOUNT};"
            f"QueueEndpoint={host}:{self.queue_port}/{ACCOUNT};"
            f"TableEndpoint={host}:{self.table_port}/{ACCOUNT};"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"azurite exited with code {process.returncode}; run `npm ci` (make setup) first"
            raise RuntimeError(msg)
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    msg = f"azurite did not listen on port {port} within {timeout:.0f} s"
    raise RuntimeError(msg)


def start(
    log: Path | None = None, *, location: Path | None = None
) -> tuple[Azurite, subprocess.Popen[bytes]]:
    """Start Azurite on free ports, in memory or (given *location*) on disk there; the caller stops it."""
    if not AZURITE.exists():
        msg = f"{AZURITE} is missing; run `make setup` (npm ci) first"
        raise RuntimeError(msg)
    azurite = Azurite(_free_port(), _free_port(), _free_port())
    args = [
        str(AZURITE),
        "--silent",
        *(["--inMemoryPersistence"] if location is None else ["--location", str(location)]),
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--blobHost", "127.0.0.1", "--blobPort", str(azurite.blob_port),
        "--queueHost", "127.0.0.1", "--queuePort", str(azurite.queue_port),
        "--tableHost", "127.0.0.1", "--tablePort", str(azurite.table_port),
    ]  # fmt: skip
    if log is None:
        process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
    else:
        with log.open("ab") as out:  # the child keeps its own copy; ours is closed (no ResourceWarning)
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    for port in (azurite.blob_port, azurite.queue_port):
        _wait(port, process)
    return azurite, process


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop Azurite (SIGTERM, then SIGKILL after 5 s)."""
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def main(argv: list[str]) -> int:
    """``start DIR`` / ``stop DIR`` for the Makefile and the demo."""
    if len(argv) != 2 or argv[0] not in {"start", "stop"}:
        print("usage: python -m tests.azurite start|stop DIR", file=sys.stderr)
        return 2
    directory = Path(argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    if argv[0] == "start":
        azurite, process = start(directory / "azurite.log")
        (directory / "pid").write_text(str(process.pid))
        (directory / "connection").write_text(azurite.connection_string)
        print(f"azurite on blob {azurite.blob_port}, queue {azurite.queue_port} (pid {process.pid})")
        return 0
    pid_file = directory / "pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        pid_file.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
