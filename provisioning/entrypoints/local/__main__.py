"""``python -m provisioning.entrypoints.local``: run the Function App locally against Azurite (see runner.py)."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from provisioning.entrypoints.local.runner import LocalRunner, run_worker, write_ready
from provisioning.entrypoints.logging_setup import configure_logging
from provisioning.errors import ConfigurationError
from provisioning.log_redaction import add_secret

_LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m provisioning.entrypoints.local", description=__doc__)
    parser.add_argument("--env-file", help="KEY=value settings to load first (e.g. the sandbox's)")
    parser.add_argument("--port", type=int, default=7071, help="HTTP port (0 = any free port)")
    parser.add_argument("--workers", type=int, default=1, help="queue worker processes (0 = in this process)")
    parser.add_argument("--ready-file", help="write the URL and keys here once listening")
    parser.add_argument(
        "--no-queues",
        action="store_true",
        help="serve HTTP and blob events only; queue workers run as separate processes started elsewhere",
    )
    parser.add_argument("--role", choices=["host", "worker"], default="host", help=argparse.SUPPRESS)
    parser.add_argument("--log-level", help="default: PROVISIONING_LOG_LEVEL, else info")
    args = parser.parse_args()
    if args.env_file:
        for line in Path(args.env_file).read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                os.environ[key.strip()] = value.strip()
    try:  # workers inherit PROVISIONING_LOG_LEVEL from the host; the process id tells their lines apart
        configure_logging(args.log_level, default="info", fmt=_LOG_FORMAT)
    except ConfigurationError as exc:
        parser.error(str(exc))
    if args.role == "worker":
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        run_worker(os.environ)
        return 0
    runner = LocalRunner(os.environ, port=args.port, workers=args.workers, poll_queues=not args.no_queues)
    add_secret(runner.function_key)
    add_secret(runner.master_key)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    runner.start()
    if args.ready_file:
        write_ready(Path(args.ready_file), runner)
    print(f"local runner listening on {runner.http.url}", flush=True)
    done.wait()
    runner.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
