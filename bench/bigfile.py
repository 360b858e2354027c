"""``python -m bench.run bigfile``: a 64 MiB CSV (the documented upload limit) through the whole local stack.

Azurite (on disk; ``--azurite memory`` for its in-memory mode), the Graph sandbox (latency 0, throttling
off, every 50th user of the file in the tenant, so those rows write and the rest fail as unknown users)
and the local runner with its worker processes. The file is dropped into the input container, a small
second file a few seconds later (it must start and finish while the big one is still in the works), and
the big job is awaited; every input row must have exactly one line in its report.csv. Every second the
RSS of Azurite, the runner and each worker is sampled (``/proc/PID/status``), their peaks (``VmHWM``)
recorded, with Azurite's RSS and the job's chunks done over time.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench import datasets, results
from bench.stack import REPORTS, BenchError, PipelineRun, Stack, pipeline_env

FILE_BYTES = 64 * 1024 * 1024  # PROVISIONING_MAX_FILE_BYTES' default, the documented limit
SEEDED_EVERY = 50  # every 50th user exists in the sandbox tenant
SMALL_ROWS = 200


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of *pid* in KiB ({} once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class RssSampler:
    """Peak RSS per process (Azurite, the runner, each worker the runner started), sampled every second."""

    def __init__(self, azurite: int, runner: int) -> None:
        self.named = {"azurite": azurite, "runner": runner}
        self.runner = runner
        self.peaks_kib: dict[str, int] = {}
        self.timeline: list[tuple[float, int, int]] = []  # (s, Azurite RSS KiB, chunks done)
        self.chunks_done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()

    def _sample(self) -> int:
        procs = dict(self.named)
        for n, pid in enumerate(sorted(_children(self.runner)), start=1):
            procs[f"worker{n}"] = pid
        azurite_rss = 0
        for name, pid in procs.items():
            status = _status(pid)
            if status:
                peak = max(status.get("VmHWM", 0), status.get("VmRSS", 0))
                self.peaks_kib[name] = max(self.peaks_kib.get(name, 0), peak)
                if name == "azurite":
                    azurite_rss = status.get("VmRSS", 0)
        return azurite_rss

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            rss = self._sample()
            self.timeline.append((round(time.monotonic() - self._t0, 1), rss, self.chunks_done))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sample()
        self._stop.set()
        self._thread.join(timeout=5)


def make_file(path: Path, target_bytes: int) -> int:
    """The benchmark-3 file (bench.datasets.fanout_csv, seed 6) with as many rows as fit in *target_bytes*."""
    sample = path.with_suffix(".sample")
    size = datasets.fanout_csv(sample, 10_000)
    sample.unlink()
    rows = int(target_bytes / (size / 10_000))
    while datasets.fanout_csv(path, rows) > target_bytes:
        rows -= 1_000
    return rows


def _seed(path: Path, rows: int) -> None:
    users = [
        {"userPrincipalName": datasets.upn(i), "displayName": f"User {i}", "inSmsSignInPolicy": True}
        for i in range(0, rows, SEEDED_EVERY)
    ]
    path.write_text(json.dumps({"users": users}), encoding="utf-8")


def _report_lines(run: PipelineRun, job_id: str, spool: Path) -> Counter[int]:
    """How many report.csv lines each input line has (the report is streamed to *spool*, not held)."""
    blob = run.service.get_blob_client(REPORTS, f"{job_id}/report.csv")
    with spool.open("wb") as out:
        blob.download_blob(max_concurrency=2).readinto(out)
    with spool.open(encoding="utf-8-sig", newline="") as text:
        return Counter(int(row["line"]) for row in csv.DictReader(text))


def _job_done(url: str, key: dict[str, str], job_id: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=30) as client:
        response = client.get(f"/api/jobs/{job_id}", headers=key)
        status: dict[str, Any] = response.json() if response.status_code == 200 else {}
        return status


def bench_bigfile(args: argparse.Namespace) -> None:
    target = (4 << 20) if args.quick else FILE_BYTES
    base = Path(args.work_dir) if args.work_dir else None
    work = Path(tempfile.mkdtemp(prefix="entra-bench-bigfile-", dir=base))
    big, small = work / "big.csv", work / "small.csv"
    print(f"[5] big file: generating {target / 2**20:.0f} MiB", flush=True)
    rows = make_file(big, target)
    size = big.stat().st_size
    datasets.fanout_csv(small, SMALL_ROWS, seed=7)
    _seed(work / "tenant.json", rows)
    on_disk = getattr(args, "azurite", "disk") != "memory"
    with Stack(work) as stack:
        azurite = stack.azurite_server(location=work / "azurite-data" if on_disk else None)
        connection = azurite.connection_string
        sandbox = stack.sandbox("sandbox", work / "tenant.json", latency_ms=0, throttle=False)
        env = pipeline_env(sandbox, connection, work / "invocations.jsonl",
                           {"PROVISIONING_WRITE_RATE": "off", "PROVISIONING_REQUEST_RATE": "off"})  # fmt: skip
        ready = stack.runner("runner", env, workers=args.workers)
        time.sleep(5.0)  # the workers import and start polling
        pids = {name: proc.pid for name, proc, _ in stack.procs}
        run = PipelineRun(connection, ready)
        with RssSampler(pids["azurite"], pids["runner"]) as rss:
            job_id, t0 = run.upload(big, "big.csv")
            uploaded = time.monotonic() - t0
            print(f"    {size / 2**20:.1f} MiB, {rows:,} rows uploaded in {uploaded:.1f} s", flush=True)
            time.sleep(5.0)
            small_job, small_t0 = run.upload(small, "small.csv")
            small_status, small_done = run.wait(small_job, 600, interval=1.0)
            big_meanwhile = _job_done(run.url, run.key, job_id)
            print(f"    small file done {small_done - small_t0:.1f} s after its upload; big job then at "
                  f"{big_meanwhile.get('chunksDone')}/{big_meanwhile.get('chunks')} chunks", flush=True)  # fmt: skip

            def poll() -> None:
                status = _job_done(run.url, run.key, job_id)
                rss.chunks_done = int(status.get("chunksDone") or 0)

            status, done = run.wait(job_id, args.bigfile_timeout, on_poll=poll, interval=2.0)
            seconds = done - t0
        print(f"    big job {status.get('state')} in {seconds:.0f} s; checking report.csv", flush=True)
        reported = _report_lines(run, job_id, work / "report.csv")
    expected = range(2, rows + 2)  # one header line, then one row a line
    lost = sum(1 for line in expected if line not in reported)
    found: dict[str, Any] = {
        "completed": status.get("state") == "completed",
        "file_mib": round(size / 2**20, 1),
        "rows": rows,
        "chunks": status.get("chunks"),
        "upload_s": round(uploaded, 1),
        "job_s": round(seconds, 1),
        "rows_per_s": round(rows / seconds, 1),
        "rows_check": {
            "expected_rows": rows,
            "reported_rows": sum(reported.values()),
            "lost": lost,
            "duplicated": sum(1 for n in reported.values() if n > 1),
            "unexpected": sum(1 for line in reported if not 2 <= line < rows + 2),
        },
        "outcomes": status.get("outcomes"),
        "peak_rss_mib": {name: round(kib / 1024, 1) for name, kib in sorted(rss.peaks_kib.items())},
        "small_file": {
            "state": small_status.get("state"),
            "done_after_upload_s": round(small_done - small_t0, 1),
            "big_job_chunks_done_then": big_meanwhile.get("chunksDone"),
            "big_job_chunks_then": big_meanwhile.get("chunks"),
        },
        "azurite_rss_mib_and_chunks_done": [
            (t, round(kib / 1024, 1), n) for t, kib, n in rss.timeline[:: max(1, len(rss.timeline) // 120)]
        ],
    }
    parameters = {
        "target_bytes": target, "generator": "bench.datasets.fanout_csv(seed=6)", "workers": args.workers,
        "azurite": "on disk (--location)" if on_disk else "in memory", "sandbox": "latency 0, throttling off",
        "tenant": f"every {SEEDED_EVERY}th user of the file exists (no methods); the others fail as not found",
        "pacing": "off", "rss": "VmHWM/VmRSS from /proc/PID/status, sampled every second",
    }  # fmt: skip
    ok = found["completed"] and lost == 0 and found["rows_check"]["duplicated"] == 0
    directory = results.RESULTS / "quick" if args.quick else results.RESULTS
    path = results.write("bigfile", parameters, found, {"every_row_one_outcome": True, "met": ok}, directory)
    print(f"    peak RSS MiB {found['peak_rss_mib']}; lost {lost}; -> {path}", flush=True)
    if not ok:
        msg = f"big file: completed {found['completed']}, {lost} rows lost (work files kept in {work})"
        raise BenchError(msg)
    if not args.keep_work:
        shutil.rmtree(work, ignore_errors=True)


def summary_line(doc: dict[str, Any]) -> str:
    """The line ``bench.run summary`` prints for bigfile.json."""
    r = doc["results"]
    return (
        f"5. big file [{doc['commit']}]: {r['file_mib']} MiB, {r['rows']:,} rows in {r['job_s']} s, "
        f"lost {r['rows_check']['lost']}, peak RSS MiB {r['peak_rss_mib']}, small file meanwhile "
        f"{r['small_file']['done_after_upload_s']} s {'MET' if doc['targets'].get('met') else 'NOT MET'}"
    )
