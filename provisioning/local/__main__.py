"""``python -m provisioning.local``: run the Function App locally against Azurite (see runner.py)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path

from provisioning.local.runner import LocalRunner, run_worker, write_ready


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m provisioning.local", description=__doc__)
    parser.add_argument("--env-file", help="KEY=value settings to load first (e.g. the sandbox's)")
    parser.add_argument("--port", type=int, default=7071, help="HTTP port (0 = any free port)")
    parser.add_argument("--workers", type=int, default=1, help="queue worker processes (0 = in this process)")
    parser.add_argument("--ready-file", help="write the URL and keys here once listening")
    parser.add_argument("--role", choices=["host", "worker"], default="host", help=argparse.SUPPRESS)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.env_file:
        for line in Path(args.env_file).read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                os.environ[key.strip()] = value.strip()
    if args.role == "worker":
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        run_worker(os.environ)
        return 0
    runner = LocalRunner(os.environ, port=args.port, workers=args.workers)
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
