# ruff: noqa: S603, S607 - the suite starts git, tar and its own modules with fixed arguments
"""``python -m bench.run {all,versus,ceiling,fanout,cli-memory,bigfile,summary} [--quick]``: the benchmarks.

All on this machine, against Azurite and the Graph sandbox (loopback only):

- ``versus``  (1 + 4) the old script's algorithm (bench/baseline.py) against the pipeline and the CLI
  ``apply`` on the same mixed CSV, 100 ms sandbox latency, throttling off, a fresh sandbox per side; the
  pipeline and the CLI under the kindest ``$batch`` latency model (per-envelope) and the strictest
  (per-item); then the cost per 1,000 rows (queue messages, function invocations, Graph requests) of the
  per-envelope pipeline run.
- ``ceiling`` (2) the pipeline against the sandbox enforcing Graph's identity limits, windows scaled
  down by ``--time-scale``: share of the write quota achieved, share of requests answered 429, rows lost.
- ``fanout``  (3) a 1,000,000-row CSV uploaded and fanned out by ``fan_out_blob`` in its own process
  (bench/fanout.py), no workers: its peak RSS and the enqueue rate.
- ``cli-memory`` (5) the CLI's ``check``, ``plan`` and ``apply`` of that 1,000,000-row file, each its own
  process, against the sandbox at 0 ms latency, throttling off: peak RSS and rows/s (bench/cli_memory.py).
- ``bigfile`` (6) a 64 MiB CSV through the whole local stack (bench/bigfile.py): every row one outcome,
  the peak RSS of Azurite, the runner and each worker.

Each writes ``bench/results/<name>.json`` (``bench/results/quick/`` with ``--quick``, smaller sizes for a
smoke check) and ``summary`` prints them. Every process started is stopped at the end, even on failure.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from bench import baseline, bigfile, cli_memory, datasets, results
from bench.stack import (
    INPUT,
    ROOT,
    WORK_QUEUE,
    BenchError,
    PipelineRun,
    Stack,
    invocation_counts,
    pipeline_env,
    stop_all,
)
from provisioning.core.job_records import CHUNK_ROWS, CHUNKS_PER_MESSAGE
from provisioning.csv_input.reader import ReaderLimits, iter_rows, scan_csv
from tests.sandbox.throttle import TIER_UNITS, tier_for

PHONE_KINDS = ("mobile", "alternateMobile", "office", "email")
WARM_S = 5.0  # after the runner is ready: its worker processes import and start polling


# --- helpers ------------------------------------------------------------------------------------


class LoadSampler:
    """The 1-minute load average and this machine's CPU use, sampled every second while it runs."""

    def __init__(self) -> None:
        self.load: list[float] = []
        self.busy: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _cpu() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    def _run(self) -> None:
        busy0, total0 = self._cpu()
        while not self._stop.wait(1.0):
            busy1, total1 = self._cpu()
            if total1 > total0:
                self.busy.append((busy1 - busy0) / (total1 - total0))
            busy0, total0 = busy1, total1
            self.load.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self.before = os.getloadavg()[0]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def summary(self) -> dict[str, Any]:
        def stats(values: list[float]) -> dict[str, float] | None:
            if not values:
                return None
            return {"min": round(min(values), 2), "mean": round(sum(values) / len(values), 2),
                    "max": round(max(values), 2)}  # fmt: skip

        return {
            "loadavg1_before": round(self.before, 2),
            "loadavg1_during": stats(self.load),
            "cpu_busy_share_during": stats(self.busy),
        }


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            yield chunk


def expected_lines(path: Path) -> tuple[set[int], int]:
    """The input lines the pipeline must report (its own reader); and how many of them are valid."""
    size = path.stat().st_size
    scan = scan_csv(
        lambda: _chunks(path), name=path.name, default_region=None,
        limits=ReaderLimits(max_bytes=max(size, 1), max_rows=10_000_000), size=size,
    )  # fmt: skip
    if not scan.accepted:
        msg = f"{path.name} rejected by the reader: {scan.file_errors}"
        raise BenchError(msg)
    lines: set[int] = set()
    valid = 0
    for row in iter_rows(lambda: _chunks(path), scan, default_region=None):
        lines.add(row.line)
        valid += row.valid
    return lines, valid


def report_lines(report_csv: bytes) -> Counter[int]:
    reader = csv.DictReader(io.StringIO(report_csv.decode("utf-8-sig")))
    return Counter(int(row["line"]) for row in reader)


def lost_rows(expected: set[int], reported: Counter[int]) -> dict[str, int]:
    present = set(reported)
    return {
        "expected_rows": len(expected),
        "reported_rows": sum(reported.values()),
        "lost": len(expected - present),
        "duplicated": sum(1 for n in reported.values() if n > 1),
        "unexpected": len(present - expected),
    }


def busiest_window(times: list[float], window: float) -> int:
    """The most of *times* (sorted) that any *window* seconds hold, whatever the window's start."""
    most, first = 0, 0
    for end, at in enumerate(times):
        while at - times[first] >= window:
            first += 1
        most = max(most, end - first + 1)
    return most


def phone_writes(history: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Successful method writes in the sandbox's history (its automatic default changes excluded)."""
    return [c for changes in history.values() for c in changes if c["kind"] in PHONE_KINDS]


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def pacer_env(
    args: argparse.Namespace, limits: tuple[float, float] | None, windows: tuple[float, float] | None = None
) -> dict[str, str]:
    """The pacer's settings, as an admin would set them for the tenant the sandbox plays.

    ``--pacing match`` (default): the sandbox's limits, scaled by the same time factor (the app-wide
    rates; each worker process paces at its share), or ``off`` when the sandbox does not throttle.
    ``--pacing default``: the project's defaults (Graph's real 20 writes/s), nothing set.
    """
    if args.pacing == "default":
        return {}
    if limits is None:
        return {"PROVISIONING_WRITE_RATE": "off", "PROVISIONING_REQUEST_RATE": "off"}
    writes, units = limits
    env = {"PROVISIONING_WRITE_RATE": f"{writes:g}", "PROVISIONING_REQUEST_RATE": f"{units:g}"}
    if windows is not None:  # the sandbox's windows, scaled: the pacer's window guarantee follows them
        env |= {
            "PROVISIONING_WRITE_WINDOW": f"{windows[0]:g}",
            "PROVISIONING_REQUEST_WINDOW": f"{windows[1]:g}",
        }
    return env


def _work_dir(args: argparse.Namespace, name: str) -> Path:
    base = Path(args.work_dir) if args.work_dir else Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"entra-bench-{name}-", dir=base))


def _write(args: argparse.Namespace, name: str, parameters: dict[str, Any], found: dict[str, Any],
           targets: dict[str, Any]) -> Path:  # fmt: skip
    # A smoke check (--quick) writes under quick/ and never touches the full results.
    directory = results.RESULTS / "quick" if args.quick else results.RESULTS
    path = results.write(name, parameters, found, targets, directory)
    print(f"  -> {_shown(path)}", flush=True)
    return path


# --- 1 + 4: versus the old script, and cost -----------------------------------------------------


MODELS = ("per-envelope", "per-item")  # the kindest reading of a $batch's latency, and the strictest


def bench_versus(args: argparse.Namespace) -> None:
    users = args.users or (300 if args.quick else 2000)
    baseline_rows = min(users, args.baseline_rows or (50 if args.quick else 300))
    latency = args.latency_ms
    work = _work_dir(args, "versus")
    data = datasets.mixed(users, seed=4)
    seed, csv_path = work / "mixed-tenant.json", work / "mixed.csv"
    data.write(seed, csv_path)
    expected, valid_rows = expected_lines(csv_path)
    print(f"[1] versus the old script: {users} users/rows, baseline on the first {baseline_rows}", flush=True)
    sides: dict[str, dict[str, Any]] = {}
    with Stack(work) as stack, LoadSampler() as load:
        connection = stack.azurite()
        # The old script sends no $batch, so the batch latency model does not touch it: run once.
        sandbox = stack.sandbox("sandbox-baseline", seed, latency_ms=latency, throttle=False)
        old = baseline.run(sandbox.env, csv_path, baseline_rows)
        old_stats = sandbox.stats()
        stack.stop(sandbox.proc)
        old_rate = old.rows / old.seconds
        print(f"    old script: {old.rows} rows in {old.seconds:.1f} s = {old_rate:.2f} rows/s", flush=True)
        for model in MODELS:
            pipeline = _versus_pipeline(args, stack, connection, seed, csv_path, model)
            pipeline["rows_check"] = lost_rows(expected, pipeline.pop("reported"))
            cli = _versus_cli(args, stack, seed, csv_path, model)
            cli["rows_check"] = lost_rows(expected, cli.pop("reported"))
            sides[model] = {"pipeline": pipeline, "cli": cli}
            for name, side in (("pipeline", pipeline), ("cli apply", cli)):
                side["ratio_to_old_script"] = round(side["rows_per_s"] / old_rate, 1)
                print(f"    {model:12} {name:9} {users} rows in {side['seconds']:.1f} s = "
                      f"{side['rows_per_s']:.1f} rows/s ({side['ratio_to_old_script']:.1f}x)", flush=True)  # fmt: skip
    kindest = sides[MODELS[0]]["pipeline"]
    counts, stats, history = kindest.pop("counts"), kindest.pop("stats"), kindest.pop("history")
    summary = kindest["summary"]
    for model in MODELS:  # only the per-envelope pipeline run's raw data feeds the cost part
        for side in sides[model].values():
            for raw in ("counts", "stats", "history", "summary"):
                side.pop(raw, None)

    # Writes per row kind, from the tenant's history of the pipeline's sandbox.
    kind_of = {datasets.upn(i).lower(): kind for i, kind in enumerate(data.row_kinds)}
    writes_by_kind: Counter[str] = Counter()
    for change in phone_writes(history):
        writes_by_kind[kind_of.get(change["user"].lower(), "?")] += 1
    parameters = {
        "users": users, "rows": users, "baseline_rows": baseline_rows, "dataset": data.describe(),
        "sandbox": {"latency_ms": latency, "throttle": "off", "batch_latency": list(MODELS)},
        "workers": args.workers,
        "pipeline_env": pacer_env(args, None) or "project defaults",
        "cli": f"python -m provisioning apply FILE --report-dir DIR --concurrency {CLI_CONCURRENCY}, a "
               "subprocess with the sandbox's env file settings and pipeline_env (32 chunks in flight, as the "
               "README advises for a big file unthrottled; the default 16 reaches Graph's quotas)",
        "valid_rows": valid_rows, "generator": "bench.datasets.mixed(seed=4)",
        "timing": "pipeline: upload start -> GET /api/jobs/{id} says completed (polled every 0.25 s), runner "
                  f"warm ({WARM_S:.0f} s after ready); cli: the process from start to exit (imports, token and "
                  "reports included); old script: its loop, token fetched before",
        "batch_latency": "per-envelope: a $batch costs one latency (the kindest reading); per-item: one per "
                         "inner request, served one after another (the strictest); tests/sandbox/README.md",
    }  # fmt: skip
    ratios = {
        model: {side: sides[model][side]["ratio_to_old_script"] for side in ("pipeline", "cli")}
        for model in MODELS
    }
    found = {
        "old_script": old.as_dict() | {"sandbox_stats": _brief_stats(old_stats)},
        "pipeline": kindest,  # per-envelope, as before
        "cli": sides[MODELS[0]]["cli"],
        "speedup": ratios[MODELS[0]]["pipeline"],
        "ratios_to_old_script": ratios,
        "by_batch_latency": sides,
        "load": load.summary(),
    }  # fmt: skip
    met = all(r >= 50 for by_side in ratios.values() for r in by_side.values())
    _write(args, "versus_old_script", parameters, found,
           {"speedup_min": 50, "applies_to": "pipeline and cli apply, under each batch latency model",
            "met": met})  # fmt: skip

    # --- 4: cost, from the same pipeline run (per-envelope) ---
    per_k = 1000 / users
    fn = counts["by_function"]
    calls = {name: v["ok"] + v["failed"] for name, v in fn.items()}
    messages = counts["distinct_messages"].get("chunk_worker", 0)
    triggered = calls.get("csv_drop", 0) + calls.get("chunk_worker", 0) + calls.get("poison_handler", 0)
    kinds = data.kinds
    writes_attempted = int(summary["writes"]["applied"]) + int(summary["writes"]["failed"])
    allowed = valid_rows + kinds["remove"] + writes_attempted  # 1 read + default read on deletes + writes
    cost = {
        "rows": users,
        "queue_messages": messages,
        "queue_messages_per_1000_rows": round(messages * per_k, 1),
        "poison_messages": counts["distinct_messages"].get("poison_handler", 0),
        "invocations": {"csv_drop": calls.get("csv_drop", 0), "chunk_worker": calls.get("chunk_worker", 0),
                        "poison_handler": calls.get("poison_handler", 0), "total": triggered,
                        "failed": sum(v["failed"] for k, v in fn.items() if k != "job_status"),
                        "http_job_status_polls_by_the_benchmark": calls.get("job_status", 0)},
        "invocations_per_1000_rows": round(triggered * per_k, 1),
        "graph_requests": stats["requests"],
        "graph_requests_per_1000_rows": round(stats["requests"] * per_k, 1),
        "graph_reads_per_1000_rows": round(stats["reads"] * per_k, 1),
        "graph_writes_per_1000_rows": round(stats["writes"] * per_k, 1),
        "graph_batches": stats["batches"], "token_requests": stats["tokens"],
        "graph_by_operation": stats["by_operation"],
        "requests_vs_plan": {
            "requests": stats["requests"], "writes_attempted_per_summary": writes_attempted,
            "allowed": allowed, "excess": stats["requests"] - allowed,
            "rule": "valid rows x 1 read + removal rows x 1 default-method read + writes the plan needs",
        },
        "method_writes_by_row_kind": dict(writes_by_kind),
        "rows_by_kind": dict(kinds),
        "old_script_graph_requests_per_1000_rows": round(sum(old.requests.values()) * 1000 / old.rows, 1),
    }  # fmt: skip
    met = cost["queue_messages_per_1000_rows"] <= 50 and writes_by_kind.get("unchanged", 0) == 0
    _write(args, "cost", {"source": "the per-envelope pipeline run of versus_old_script", **parameters}, cost,
           {"queue_messages_per_1000_rows_max": 50, "unchanged_rows_writes": 0,
            "graph_requests_max": "allowed (see requests_vs_plan)", "met": met,
            "requests_within_plan": cost["requests_vs_plan"]["excess"] <= 0})  # fmt: skip
    _cleanup(args, work)


def _versus_pipeline(
    args: argparse.Namespace, stack: Stack, connection: str, seed: Path, csv_path: Path, model: str
) -> dict[str, Any]:
    """The pipeline side under one batch latency model: a fresh sandbox and runner, the file dropped."""
    sandbox = stack.sandbox(f"sandbox-pipeline-{model}", seed, latency_ms=args.latency_ms, throttle=False,
                            batch_latency=model)  # fmt: skip
    invocations = stack.work / f"invocations-{model}.jsonl"
    env = pipeline_env(sandbox, connection, invocations, pacer_env(args, None))
    runner = f"runner-{model}"
    run = PipelineRun(connection, stack.runner(runner, env, workers=args.workers))
    time.sleep(WARM_S)
    sandbox.control("POST", "stats/reset")
    job, t0 = run.upload(csv_path, f"{model}-{csv_path.name}")  # a blob (and job) of its own per model
    status, t1 = run.wait(job, args.timeout)
    seconds = t1 - t0
    stats, history = sandbox.stats(), sandbox.history()
    summary = json.loads(run.report(job, "summary.json"))
    reported = report_lines(run.report(job, "report.csv"))
    time.sleep(1.0)  # let a last invocation's log line land
    stack.stop_named(runner)
    stack.stop(sandbox.proc)
    counts = invocation_counts(invocations, run.t0_wall)
    rows = sum(reported.values())
    return {
        "rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 2),
        "job": job, "state": status.get("state"), "chunks": status.get("chunks"),
        "outcomes": summary.get("outcomes"), "writes": summary.get("writes"), "actions": summary.get("actions"),
        "sandbox_stats": _brief_stats(stats),
        "function_timing_after_upload": counts["timing_after_upload"],
        "summary": summary, "reported": reported, "counts": counts, "stats": stats, "history": history,
    }  # fmt: skip


CLI_CONCURRENCY = 32  # chunks in flight for the CLI side (README: PROVISIONING_CONCURRENCY)


def _versus_cli(
    args: argparse.Namespace, stack: Stack, seed: Path, csv_path: Path, model: str
) -> dict[str, Any]:
    """The CLI side under one batch latency model: ``apply`` as a user runs it, against a fresh sandbox."""
    sandbox = stack.sandbox(f"sandbox-cli-{model}", seed, latency_ms=args.latency_ms, throttle=False,
                            batch_latency=model)  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONING_")}
    env |= sandbox.env | pacer_env(args, None) | {"PYTHONPATH": str(ROOT)}
    reports = stack.work / f"cli-{model}"
    t0 = time.monotonic()
    proc = stack.spawn(f"cli-{model}", [sys.executable, "-m", "provisioning", "apply", str(csv_path),
                                        "--report-dir", str(reports), "--concurrency", str(CLI_CONCURRENCY)],
                       env)  # fmt: skip
    try:
        code = proc.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired as exc:
        msg = f"cli apply ({model}) not done after {args.timeout:.0f} s"
        raise BenchError(msg) from exc
    seconds = time.monotonic() - t0
    stack.stop(proc)
    if code not in (0, 1):  # 1: some rows invalid or failed, as the mixed file has invalid rows
        msg = f"cli apply ({model}) exited with {code}; see {stack.work / f'cli-{model}.log'}"
        raise BenchError(msg)
    stats = sandbox.stats()
    stack.stop(sandbox.proc)
    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    reported = report_lines((reports / "report.csv").read_bytes())
    rows = sum(reported.values())
    return {
        "rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 2), "exit_code": code,
        "outcomes": summary.get("outcomes"), "writes": summary.get("writes"),
        "sandbox_stats": _brief_stats(stats), "reported": reported,
    }  # fmt: skip


def _brief_stats(stats: dict[str, Any]) -> dict[str, Any]:
    keys = ("requests", "reads", "writes", "throttled", "batches", "tokens", "faults", "by_status")
    return {k: stats.get(k) for k in keys}


# --- 2: at the ceiling --------------------------------------------------------------------------


def bench_ceiling(args: argparse.Namespace) -> None:
    rows = args.rows or (600 if args.quick else 6000)
    scale = args.time_scale or (20.0 if args.quick else 5.0)
    write_cap = 400 if args.quick else 3000  # quick: a smaller bucket so a small file still hits it
    window = 150.0 / scale
    quota = write_cap / window
    work = _work_dir(args, "ceiling")
    data = datasets.ceiling(rows, seed=5)
    seed, csv_path = work / "ceiling-tenant.json", work / "ceiling.csv"
    data.write(seed, csv_path)
    expected, _ = expected_lines(csv_path)
    needed = sum(datasets.CEILING_WRITES[k] * n for k, n in data.kinds.items())
    print(f"[2] at the ceiling: {rows} rows needing {needed} writes; quota {write_cap} writes per "
          f"{window:.0f} s ({quota:.0f}/s), time scale {scale:g}", flush=True)  # fmt: skip
    timeline: list[dict[str, Any]] = []
    with Stack(work) as stack, LoadSampler() as load:
        connection = stack.azurite()
        sandbox = stack.sandbox("sandbox", seed, latency_ms=args.latency_ms, throttle=True, time_scale=scale)
        if write_cap != 3000:
            sandbox.control("POST", "config", {"writes": write_cap})
        config = sandbox.control("GET", "config")
        units = TIER_UNITS[tier_for(len(data.seed["users"]))]  # the sandbox's "auto" tier for this tenant
        pacing = pacer_env(args, (write_cap / window, units / (10.0 / scale)), (window, 10.0 / scale))
        env = pipeline_env(sandbox, connection, work / "inv.jsonl", pacing)
        run = PipelineRun(connection, stack.runner("runner", env, workers=args.ceiling_workers))
        time.sleep(WARM_S)
        sandbox.control("POST", "stats/reset")
        job, t0 = run.upload(csv_path, csv_path.name)
        last = [0.0]

        def sample() -> None:
            now = time.monotonic()
            if now - last[0] >= 1.0:
                last[0] = now
                s = sandbox.stats()
                timeline.append({"t": round(now - t0, 1), "requests": s["requests"], "writes": s["writes"],
                                 "throttled": s["throttled"]})  # fmt: skip

        status, t1 = run.wait(job, args.timeout, on_poll=sample)
        stats = sandbox.stats()
        history = sandbox.history()
        summary = json.loads(run.report(job, "summary.json"))
        reported = report_lines(run.report(job, "report.csv"))
    writes = sorted(c["time"] for c in phone_writes(history))
    job_s = t1 - t0
    minimum_s = needed / quota
    found: dict[str, Any] = {"job": job, "state": status.get("state"), "seconds": round(job_s, 2),
                             "outcomes": summary.get("outcomes"), "writes_summary": summary.get("writes"),
                             "quota_bound_minimum_s": round(minimum_s, 2),
                             "job_time_vs_minimum": _round(job_s / minimum_s),
                             "job_time_allowed_s": round(1.05 * minimum_s + window, 2)}  # fmt: skip
    if len(writes) >= 2:
        span = writes[-1] - writes[0]
        windows = Counter(int((t - writes[0]) // window) for t in writes)
        busiest = busiest_window(writes, window)
        found |= {
            "writes_ok": len(writes),
            "writes_span_s": round(span, 2),
            "write_windows_covered": round(span / window, 2),
            "writes_per_s_overall": round(len(writes) / span, 2),
            "busiest_window_writes": busiest,
            "busiest_window_share": _round(busiest / write_cap),
            "quota_share_overall": _round(len(writes) / span / quota),
            "writes_per_window": [windows[i] for i in range(max(windows) + 1)],
        }
        if span > window:  # the steady state: without the first window (start-up, processes joining)
            later = sum(1 for t in writes if t > writes[0] + window)
            found["quota_share_after_first_window"] = _round(later / (span - window) / quota)
    found |= {
        "graph_requests": stats["requests"],
        "throttled_429": stats["throttled"],
        "share_429": _round(stats["throttled"] / stats["requests"], 4) if stats["requests"] else None,
        "sandbox_stats": _brief_stats(stats),
        "rows_check": lost_rows(expected, reported),
        "invocations": invocation_counts(work / "inv.jsonl", run.t0_wall),
        "stats_timeline": timeline[:: max(1, len(timeline) // 300)],
        "load": load.summary(),
    }
    parameters = {
        "rows": rows, "writes_needed": needed, "dataset": data.describe(), "workers": args.ceiling_workers,
        "sandbox": {"latency_ms": args.latency_ms, "throttle": "on", "time_scale": scale,
                    "write_quota": f"{write_cap} per {window:g} s", "ru_quota": f"{units} per {10 / scale:g} s",
                    "config": config},
        "quota_writes_per_s": quota,
        "pipeline_env": pacing or "project defaults",
        "metrics": {
            "busiest_window_share": "the most successful method writes any write window holds (sliding: every "
                                    "start, exact, from the writes' timestamps) / the window's quota",
            "quota_share_after_first_window": "the steady state: successful writes from one write window after "
                                              "the first write to the last / that span / quota per s",
            "quota_share_overall": "successful method writes / (last - first write time) / quota per s",
            "share_429": "sandbox stats throttled / requests (inner batch requests counted individually)",
            "job_time_vs_minimum": "upload to job done / (writes needed / quota per s)",
        },
    }  # fmt: skip
    targets = {"busiest_window_share_max": 1.0, "quota_share_after_first_window_min": 0.97,
               "share_429_max": 0.001, "job_time_max_s": found["job_time_allowed_s"], "lost_rows": 0}  # fmt: skip
    met = (
        (found.get("busiest_window_share") or 0.0) <= 1.0
        and (found.get("quota_share_after_first_window") or 0.0) >= 0.97
        and (found["share_429"] or 0) <= 0.001
        and job_s <= found["job_time_allowed_s"]
        and found["rows_check"]["lost"] == 0
    )
    _write(args, "ceiling", parameters, found, targets | {"met": met})
    share = found.get("quota_share_after_first_window") or 0.0
    print(f"    {found.get('writes_ok')} writes, busiest window {found.get('busiest_window_share')} of quota, "
          f"steady {share:.1%}, 429 share {found['share_429']}, job {job_s:.0f} s (allowed "
          f"{found['job_time_allowed_s']:.0f} s), lost {found['rows_check']['lost']}", flush=True)  # fmt: skip
    _cleanup(args, work)


# --- 3: fan-out at scale ------------------------------------------------------------------------


def bench_fanout(args: argparse.Namespace) -> None:
    rows = args.rows or (50_000 if args.quick else 1_000_000)
    work = _work_dir(args, "fanout")
    csv_path = work / "fanout.csv"
    print(f"[3] fan-out: generating {rows:,} rows", flush=True)
    t = time.monotonic()
    size = datasets.fanout_csv(csv_path, rows)
    generated = time.monotonic() - t
    out = work / "fanout.json"
    queue_timeline: list[tuple[float, int]] = []
    with Stack(work) as stack, LoadSampler() as load:
        connection = stack.azurite()
        service = BlobServiceClient.from_connection_string(connection)
        container = service.get_container_client(INPUT)
        container.create_container()
        t = time.monotonic()
        with csv_path.open("rb") as data:
            container.upload_blob(csv_path.name, data, overwrite=True, max_concurrency=2)
        uploaded = time.monotonic() - t
        print(f"    {size / 2**20:.1f} MiB uploaded in {uploaded:.1f} s; fanning out", flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONING_")}
        env |= {"PYTHONPATH": str(ROOT), "PROVISIONING_STORAGE": connection,
                "PROVISIONING_MAX_FILE_BYTES": str(max(size * 2, 64 << 20)),
                "PROVISIONING_MAX_ROWS": str(max(rows, 1_000_000))}  # fmt: skip
        proc = stack.spawn("fanout", [sys.executable, "-m", "bench.fanout", INPUT, csv_path.name, "--out",
                                      str(out)], env)  # fmt: skip
        queue = QueueClient.from_connection_string(connection, WORK_QUEUE)
        t0 = time.monotonic()
        deadline = t0 + args.timeout
        timed_out = False
        while proc.poll() is None:
            if time.monotonic() > deadline:
                timed_out = True
                break
            queue_timeline.append((round(time.monotonic() - t0, 1), _queue_count(queue)))
            time.sleep(2.0)
        elapsed = time.monotonic() - t0
        messages = _queue_count(queue)
        queue_timeline.append((round(elapsed, 1), messages))
        if timed_out:
            stack.stop(proc)
    fan: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    first = next((t for t, n in queue_timeline if n > 0), None)
    enqueue_s = (queue_timeline[-1][0] - first) if first is not None else None
    expected_messages = math.ceil(math.ceil(rows / CHUNK_ROWS) / CHUNKS_PER_MESSAGE)
    found: dict[str, Any] = {
        "completed": bool(fan) and not timed_out,
        "file_mib": round(size / 2**20, 1),
        "generate_s": round(generated, 1),
        "upload_s": round(uploaded, 1),
        "fanout_process_s": round(elapsed, 1),
        "fan_out_blob_s": fan.get("seconds"),
        "job_state": fan.get("state"),
        "chunks": fan.get("chunks"),
        "queue_messages": messages,
        "peak_rss_kib": fan.get("peak_rss_kib"),
        "peak_rss_mib": round(fan["peak_rss_kib"] / 1024, 1) if fan.get("peak_rss_kib") else None,
        "peak_rss_mib_after_imports": round(fan["peak_rss_kib_after_imports"] / 1024, 1) if fan else None,
        "messages_per_1000_rows": round(messages * 1000 / rows, 2),
        "messages_per_s_overall": round(messages / elapsed, 1) if elapsed else None,
        "rows_per_s_overall": round(rows / elapsed, 1) if elapsed and not timed_out else None,
        "rows_per_s_fan_out_blob": round(rows / fan["seconds"], 1) if fan.get("seconds") else None,
        "first_message_after_s": first,
        "messages_per_s_enqueue_phase": round(messages / enqueue_s, 1) if enqueue_s else None,
        "queue_timeline": queue_timeline[:: max(1, len(queue_timeline) // 200)],
        "rss_timeline_kib": fan.get("rss_timeline_kib"),
        "load": load.summary(),
    }
    if timed_out and messages and enqueue_s and first is not None:
        found["projected_total_s"] = round(first + expected_messages / (messages / enqueue_s), 0)
    parameters = {
        "rows": rows, "generator": "bench.datasets.fanout_csv(seed=6)", "expected_messages": expected_messages,
        "timeout_s": args.timeout, "process": "python -m bench.fanout (fan_out_blob, no workers)",
        "rss": "resource.getrusage(RUSAGE_SELF).ru_maxrss of that process (KiB on Linux)",
        "rates": "rows / the fan-out process's wall time (rows_per_s_overall) and fan_out_blob's own time; "
                 "messages counted on the work queue (Azurite), up to CHUNKS_PER_MESSAGE chunks of 20 rows each",
    }  # fmt: skip
    met = (
        bool(fan) and not timed_out and fan["peak_rss_kib"] <= 150 * 1024
        and (found["rows_per_s_overall"] or 0) >= 20_000 and found["messages_per_1000_rows"] <= 50
    )  # fmt: skip
    targets = {
        "peak_rss_mib_max": 150,
        "rows_per_s_min": 20_000,
        "messages_per_1000_rows_max": 50,
        "met": met,
    }
    _write(args, "fanout", parameters, found, targets)
    print(f"    peak RSS {found['peak_rss_mib']} MiB; {messages} messages in {elapsed:.0f} s "
          f"({found['messages_per_s_overall']} msg/s)", flush=True)  # fmt: skip
    _cleanup(args, work)


# --- 5: the CLI's memory on the 1M-row file -------------------------------------------------------


def bench_cli_memory(args: argparse.Namespace) -> None:
    work = _work_dir(args, "cli-memory")
    cli_memory.bench(args, work, functools.partial(_write, args))
    _cleanup(args, work)


def _queue_count(queue: QueueClient) -> int:
    try:
        return int(queue.get_queue_properties().approximate_message_count or 0)
    except ResourceNotFoundError:
        return 0


# --- summary ------------------------------------------------------------------------------------


def summary(args: argparse.Namespace) -> None:
    base = results.RESULTS / "quick" if args.quick else results.RESULTS

    def load(name: str) -> dict[str, Any] | None:
        path = base / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def ok(doc: dict[str, Any]) -> str:
        return "MET" if doc["targets"].get("met") else "NOT MET"

    print(f"\n== Benchmark summary ({_shown(base)}) ==")
    if versus := load("versus_old_script"):
        r = versus["results"]
        print(f"1. versus old script [{versus['commit']}, {versus['date']}]: old {r['old_script']['rows_per_s']} "
              f"rows/s, pipeline {r['pipeline']['rows_per_s']} rows/s -> {r['speedup']}x (target >= 50x) {ok(versus)}")  # fmt: skip
        for model, by_side in r.get("by_batch_latency", {}).items():
            print(f"   {model}: " + ", ".join(f"{side} {v['rows_per_s']} rows/s ({v['ratio_to_old_script']}x)"
                                           for side, v in by_side.items()))  # fmt: skip
    if ceiling := load("ceiling"):
        r = ceiling["results"]
        print(f"2. at the ceiling [{ceiling['commit']}]: {r.get('writes_ok')} writes over "
              f"{r.get('write_windows_covered')} windows; busiest window {r.get('busiest_window_share')} of quota, "
              f"steady {r.get('quota_share_after_first_window')}, 429 share {r.get('share_429')}, job "
              f"{r.get('job_time_vs_minimum')}x the quota-bound minimum, lost rows {r['rows_check']['lost']} "
              f"(targets <= 1.0, >= 0.97, <= 0.001, <= 1.05x + a window, 0) {ok(ceiling)}")  # fmt: skip
    if fan := load("fanout"):
        r = fan["results"]
        print(f"3. fan-out [{fan['commit']}]: {fan['parameters']['rows']:,} rows, peak RSS {r['peak_rss_mib']} MiB "
              f"(target <= 150), {r.get('messages_per_1000_rows')} msgs/1000 rows (<= 50), "
              f"{r['rows_per_s_overall']} rows/s overall (>= 20,000), completed {r['completed']} {ok(fan)}")  # fmt: skip
    if big := load("bigfile"):
        print(bigfile.summary_line(big))
    if cost := load("cost"):
        r = cost["results"]
        print(f"4. cost per 1,000 rows [{cost['commit']}]: {r['queue_messages_per_1000_rows']} queue messages "
              f"(target <= 50), {r['invocations_per_1000_rows']} invocations, "
              f"{r['graph_requests_per_1000_rows']} Graph requests (old script "
              f"{r['old_script_graph_requests_per_1000_rows']}); unchanged-row writes "
              f"{r['method_writes_by_row_kind'].get('unchanged', 0)} {ok(cost)}")  # fmt: skip
    if cli := load("cli_memory"):
        runs = [f"{c} {cli['results'][c]['peak_rss_mib']} MiB at {cli['results'][c]['rows_per_s']} rows/s"
                + (" (stopped)" if cli["results"][c]["timed_out"] else "") for c in cli["parameters"]["commands"]]  # fmt: skip
        print(f"5. CLI memory [{cli['commit']}]: {cli['parameters']['rows']:,} rows: {'; '.join(runs)} "
              f"(target <= 150 MiB each) {ok(cli)}")  # fmt: skip


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run_on_snapshot(rev: str, argv: list[str]) -> int:
    """Run the suite on ``git archive REV`` (plus this checkout's bench/) and write results here.

    For measuring a commit while the working tree is being edited: the numbers belong to REV.
    """
    short = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True,
                           check=True, timeout=30).stdout.strip()  # fmt: skip
    snapshot = Path(tempfile.mkdtemp(prefix=f"entra-bench-src-{short}-"))
    child: subprocess.Popen[bytes] | None = None
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=ROOT, capture_output=True,
                                 check=True, timeout=120).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(snapshot)], input=archive, check=True, timeout=120)
        shutil.rmtree(snapshot / "bench", ignore_errors=True)
        shutil.copytree(
            ROOT / "bench", snapshot / "bench", ignore=shutil.ignore_patterns("results", "__pycache__")
        )
        (snapshot / "node_modules").symlink_to(ROOT / "node_modules")
        env = {**os.environ, "BENCH_SOURCE_COMMIT": short, "BENCH_RESULTS_DIR": str(results.RESULTS),
               "PYTHONPATH": str(snapshot)}  # fmt: skip
        print(f"measuring {short} (snapshot in {snapshot})", flush=True)
        child = subprocess.Popen([sys.executable, "-m", "bench.run", *argv], cwd=snapshot, env=env)
        return child.wait()
    finally:
        if child is not None and child.poll() is None:
            child.terminate()  # it unwinds its stacks on SIGTERM
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=10)
        shutil.rmtree(snapshot, ignore_errors=True)


def _cleanup(args: argparse.Namespace, work: Path) -> None:
    if args.keep_work:
        print(f"    work files kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Stop the servers now: a KeyboardInterrupt raised in the middle of a library call can be swallowed
    # (seen with the baseline's blocking HTTPS read), and then the unwinding below would never happen.
    stop_all()
    raise KeyboardInterrupt  # unwinds through every Stack, which stops anything left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument(
        "command", choices=("all", "versus", "ceiling", "fanout", "cli-memory", "bigfile", "summary")
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check of the harness")
    parser.add_argument("--workers", type=int, default=2, help="runner worker processes (2)")
    parser.add_argument("--ceiling-workers", type=int, default=4,
                        help="ceiling: runner worker processes sharing the quota (4)")  # fmt: skip
    parser.add_argument("--latency-ms", type=float, default=100.0, help="sandbox latency per request (100)")
    parser.add_argument("--users", type=int, help="versus: users and rows (2000; quick 300)")
    parser.add_argument("--baseline-rows", type=int, help="versus: rows the old script runs (300; quick 50)")
    parser.add_argument("--rows", type=int, help="ceiling (6000) or fanout (1,000,000) rows")
    parser.add_argument("--cli-rows", type=int, help="cli-memory: rows (1,000,000; quick 20,000)")
    parser.add_argument("--cli-commands", default="check,plan,apply", help="cli-memory: commands to measure")
    parser.add_argument(
        "--cli-seed-every", type=int, default=10, help="cli-memory: 1 user in N is in the tenant"
    )
    parser.add_argument("--cli-timeout", type=float, default=1800.0, help="cli-memory: per command, seconds")
    parser.add_argument("--time-scale", type=float, help="ceiling: window scale factor (5; quick 20)")
    parser.add_argument("--pacing", choices=("match", "default"), default="match",
                        help="pacer settings: the sandbox's (scaled) limits, or the project's defaults")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=1200.0, help="per pipeline job / fan-out, seconds")
    parser.add_argument("--bigfile-timeout", type=float, default=4800.0,
                        help="bigfile: the 64 MiB job, seconds (4800; ~45 min on 2 cores)")  # fmt: skip
    parser.add_argument("--work-dir", help="where generated files and logs go (default: a temp dir)")
    parser.add_argument("--keep-work", action="store_true", help="keep generated files and process logs")
    parser.add_argument("--snapshot", metavar="REV", help="measure git archive REV, not the working tree")
    parser.add_argument(
        "--azurite", choices=("disk", "memory"), default="disk", help="bigfile: Azurite's persistence"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    if args.snapshot:
        rest = list(argv if argv is not None else sys.argv[1:])
        i = rest.index("--snapshot")
        return run_on_snapshot(args.snapshot, rest[:i] + rest[i + 2 :])
    commands: dict[str, Callable[[argparse.Namespace], None]] = {
        "versus": bench_versus, "ceiling": bench_ceiling, "fanout": bench_fanout,
        "cli-memory": bench_cli_memory, "bigfile": bigfile.bench_bigfile,
    }  # fmt: skip
    chosen = list(commands) if args.command == "all" else [] if args.command == "summary" else [args.command]
    failed = []
    for name in chosen:
        try:
            commands[name](args)
        except Exception as exc:  # report it, stop what it started (done), go on with the next one
            traceback.print_exc()
            print(f"    {name} FAILED: {exc} (its work files and process logs are kept)", file=sys.stderr,
                  flush=True)  # fmt: skip
            failed.append(name)
    summary(args)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
