"""The CLI's peak memory on a big file: ``check``, ``plan`` and ``apply`` each as its own process.

The file is the fan-out benchmark's (``datasets.fanout_csv``, 1,000,000 rows, ~92 MiB); the Graph
sandbox answers at 0 ms latency with throttling off, and the CLI's pacer is off too, so the runs are
bound by this machine, not by Graph's quota. One user in ``--cli-seed-every`` (10) is in the tenant
with no method, so its row adds three phones and an email (4 writes, an undo row); the others are
not found (one read, ``failed``): every row's outcome goes through the report either way.

Peak RSS is the child's ``VmHWM`` (its resident high-water mark, ``/proc/PID/status``) read every
0.2 s until it exits, with ``VmRSS`` as a timeline. Not ``ru_maxrss``: Linux carries the image a child
was forked from into it across ``exec``, so a child of this (bigger) process would report at least this
process's size. A command still running at ``--cli-timeout`` (1,800 s) is stopped; its rows done so far are
counted in the lines it had written (report lines are written as rows finish) and its full time is
projected from its rate. Called by ``python -m bench.run cli-memory``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import datasets
from bench.stack import ROOT, Stack

COMMANDS = ("check", "plan", "apply")
TARGET_MIB = 150


def seed_tenant(path: Path, rows: int, every: int) -> int:
    """A tenant holding user ``i`` for every *every*-th row of the file, with no method; the count."""
    with path.open("w", encoding="utf-8") as out:
        out.write('{"users": [')
        count = 0
        for i in range(0, rows, every):
            user = {
                "userPrincipalName": datasets.upn(i),
                "displayName": f"User {i}",
                "inSmsSignInPolicy": True,
            }
            out.write(("," if count else "") + json.dumps(user))
            count += 1
        out.write("]}")
    return count


def _memory_kib(pid: int) -> tuple[int, int]:
    """The process's (VmHWM, VmRSS) in KiB; zeros once it is gone."""
    found = {"VmHWM:": 0, "VmRSS:": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(maxsplit=1)[0] if line else ""
            if key in found:
                found[key] = int(line.split()[1])
    except OSError:
        pass
    return found["VmHWM:"], found["VmRSS:"]


def measure(argv: list[str], env: dict[str, str], stdout: Path, log: Path, timeout: float) -> dict[str, Any]:
    """Run ``python -m provisioning ARGV``; its exit code, wall time, peak RSS and RSS timeline."""
    samples: list[tuple[float, int]] = []
    peak = 0
    with stdout.open("wb") as out, log.open("wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "provisioning", *argv], stdout=out, stderr=err, env=env, cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            tick = 0
            while not done.wait(0.2):
                hwm, rss = _memory_kib(proc.pid)
                peak = max(peak, hwm)
                tick += 1
                if tick % 5 == 0:
                    samples.append((round(time.monotonic() - start, 1), rss))

        threading.Thread(target=sample, daemon=True).start()
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGTERM))
        timer.start()
        # Reaped only after the sampler's last read: /proc/PID/status is gone with the zombie.
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        done.set()
        _, status = os.waitpid(proc.pid, 0)
        seconds = time.monotonic() - start
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4; keep Popen from waiting again
    timed_out = proc.returncode < 0
    return {
        "argv": ["python", "-m", "provisioning", *(Path(a).name if "/" in a else a for a in argv)],
        "exit_code": proc.returncode,
        "timed_out": timed_out,
        "seconds": round(seconds, 1),
        "peak_rss_kib": peak,
        "peak_rss_mib": round(peak / 1024, 1),
        "rss_timeline_kib": samples[:: max(1, len(samples) // 100)],
        "stderr_tail": log.read_text(encoding="utf-8", errors="replace").splitlines()[-3:],
    }


def report_check(report: Path, rows: int) -> dict[str, Any]:
    """Report lines so far, and whether they are exactly lines 2..rows+1 in input order (streamed)."""
    if not report.exists():
        return {"report_lines": 0, "in_input_order": False}
    count, expected = 0, 2
    ordered = True
    with report.open(encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            ordered = ordered and record["line"] == str(expected)
            count, expected = count + 1, expected + 1
    return {"report_lines": count, "in_input_order": ordered, "complete": ordered and count == rows}


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def bench(args: argparse.Namespace, work: Path, write: Callable[[str, dict[str, Any], dict[str, Any],
          dict[str, Any]], Path]) -> None:  # fmt: skip
    """Generate the file and the tenant, run each command on them, write ``cli_memory.json``."""
    rows = args.cli_rows or (20_000 if args.quick else 1_000_000)
    every = args.cli_seed_every
    commands = [c for c in args.cli_commands.split(",") if c]
    csv_path, seed = work / "fanout.csv", work / "tenant.json"
    print(f"[5] CLI memory: {rows:,} rows, {', '.join(commands)}", flush=True)
    size = datasets.fanout_csv(csv_path, rows)
    seeded = seed_tenant(seed, rows, every)
    found: dict[str, Any] = {"file_mib": round(size / 2**20, 1)}
    with Stack(work) as stack:
        sandbox = stack.sandbox("sandbox", seed, latency_ms=0, throttle=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONING_")}
        env |= sandbox.env | {
            "PYTHONPATH": str(ROOT),
            "PROVISIONING_MAX_FILE_BYTES": str(max(size * 2, 64 << 20)),
            "PROVISIONING_MAX_ROWS": str(max(rows, 1_000_000)),
            "PROVISIONING_WRITE_RATE": "off",
            "PROVISIONING_REQUEST_RATE": "off",
        }
        for command in commands:
            argv = [command, str(csv_path)]
            if command != "check":
                argv += ["--report-dir", str(work / command)]
            stdout = work / f"{command}.out"
            run = measure(argv, env, stdout, work / f"{command}.err", args.cli_timeout)
            if command == "check":
                run["rows_done"] = max(_lines(stdout) - 2, 0)  # header line, summary line
            else:
                run |= report_check(work / command / "report.csv", rows)
                run["rows_done"] = run["report_lines"]
            run["rows_per_s"] = round(run["rows_done"] / run["seconds"], 1) if run["seconds"] else None
            if run["timed_out"] and run["rows_done"]:
                run["projected_full_run_s"] = round(rows / run["rows_done"] * run["seconds"])
            if command == "apply":
                run["sandbox_writes"] = sandbox.stats().get("writes")
            found[command] = run
            print(f"    {command}: {run['rows_done']:,} rows in {run['seconds']} s ({run['rows_per_s']} rows/s), "
                  f"peak RSS {run['peak_rss_mib']} MiB, exit {run['exit_code']}"
                  + (" (stopped at the timeout)" if run["timed_out"] else ""), flush=True)  # fmt: skip
    parameters = {
        "rows": rows, "generator": "bench.datasets.fanout_csv(seed=6)", "commands": commands,
        "tenant": f"{seeded:,} users (every {every}th row's user, no methods); the other rows' users are not found",
        "sandbox": {"latency_ms": 0, "throttle": "off"}, "pacer": "PROVISIONING_WRITE_RATE/REQUEST_RATE off",
        "timeout_s": args.cli_timeout, "check_format": "text (the default; the table's cells spooled to a temp file)",
        "rss": "VmHWM of the CLI process (/proc/PID/status, read every 0.2 s); timeline: VmRSS every 1 s",
    }  # fmt: skip
    peaks = {c: found[c]["peak_rss_mib"] for c in commands}
    met = all(peak <= TARGET_MIB for peak in peaks.values()) and not any(
        found[c]["timed_out"] for c in commands
    )
    write(
        "cli_memory", parameters, found, {"peak_rss_mib_max": TARGET_MIB, "peak_rss_mib": peaks, "met": met}
    )
