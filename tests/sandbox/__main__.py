"""``python -m tests.sandbox``: run the Graph sandbox until SIGTERM/SIGINT, then exit 0."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from tests.sandbox.batch import BATCH_LATENCY
from tests.sandbox.config import SandboxConfig
from tests.sandbox.faults import FaultConfig
from tests.sandbox.sandbox import Sandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = pick a free one)")
    parser.add_argument("--seed", type=Path, help="seed JSON file (tenant, apps, users)")
    parser.add_argument("--env-file", type=Path, help="write KEY=value settings here once listening")
    parser.add_argument("--state-dir", type=Path, default=Path(".sandbox"), help="certificates and keys")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    parser.add_argument(
        "--batch-latency",
        choices=BATCH_LATENCY,
        default="per-envelope",
        help="what a $batch costs: one latency, one per dependsOn level, or one per inner request in turn",
    )
    parser.add_argument("--throttle", choices=("on", "off"), default="on")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="shrink throttling windows by this factor"
    )
    parser.add_argument("--tier", choices=("auto", "S", "M", "L"), default="auto",
                        help="resource-unit tier (auto: from the tenant's user count)")  # fmt: skip
    parser.add_argument(
        "--default-phone-delete",
        choices=("refuse", "last-method"),
        default="refuse",
        help="deleting the default phone: always refused, or allowed as the last method",
    )
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of Graph operations that fail")
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument(
        "--fault-after-commit", action="store_true", help="5xx/drops on writes after applying"
    )
    parser.add_argument(
        "--fault-timeout-s", type=float, default=30.0, help="how long a 'timeout' fault hangs"
    )
    parser.add_argument("--page-size", type=int, default=100, help="default page of /users, members, delta")
    parser.add_argument(
        "--delta-expiry",
        choices=("410", "syncStateNotFound"),
        default="410",
        help="expired delta token answer",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, start, print the address, write the env file, wait for a signal."""
    args = _parser().parse_args(argv)
    if args.time_scale <= 0:
        print("--time-scale must be positive", file=sys.stderr)
        return 2
    faults = FaultConfig(rate=args.fault_rate, seed=args.fault_seed, after_commit=args.fault_after_commit,
                         timeout_s=args.fault_timeout_s)  # fmt: skip
    config = SandboxConfig(port=args.port, latency_ms=args.latency_ms, batch_latency=args.batch_latency,
                           throttle=args.throttle == "on", time_scale=args.time_scale, faults=faults, page_size=args.page_size,
                           delta_expiry=args.delta_expiry, tier=args.tier,
                           default_phone_delete=args.default_phone_delete)  # fmt: skip
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with Sandbox.start(seed=args.seed, config=config, state_dir=args.state_dir) as sandbox:
        print(f"sandbox listening on {sandbox.url}", flush=True)
        print(f"CA certificate: {sandbox.ca_path.resolve()}", flush=True)
        print(f"tenant {sandbox.tenant_id}, client {sandbox.client_id}", flush=True)
        if args.env_file is not None:
            print(f"env file: {sandbox.write_env(args.env_file).resolve()}", flush=True)
        while not stop.wait(0.5):
            pass
    print("sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
