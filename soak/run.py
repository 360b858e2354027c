"""``python -m soak.run --users 5000 --kills 24 --seed 1 --out soak/results/soak-5000.json``: the chaos soak.

One CSV job through the whole pipeline (blob event, fan-out, queue workers, finalisation) while:
the Graph sandbox injects faults on a seeded schedule (429 with Retry-After, 500, 503, 504, dropped
connections, read timeouts and slow replies, per operation and per ``$batch`` envelope, 500/504/drops
after the write committed); a seeded proxy in front of Azurite resets connections, loses answers of
applied requests, delays requests and has outages; the driver SIGKILLs worker processes at random
moments (and restarts them), and sends copies of some chunk messages. Then ``soak.invariants`` checks
the tenant and the report against the plan. Results go to ``--out`` (JSON) and a ``.md`` beside it.
Exit 0 only when the job completed with zero violations; a run past ``--deadline`` fails loudly.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobServiceClient

from provisioning.core.job_records import (
    ChunkMessage,
    RawRow,
    encode_message,
    job_blob,
    job_id_for_blob,
    progress_blob,
    split_chunks,
)
from provisioning.core.models import DesiredRow
from provisioning.csv_input.reader import ReaderLimits, iter_raw_rows, parse_csv, parse_raw, scan_csv
from provisioning.storage.account import StorageSettings, build_queue, ensure_resources
from soak import events as ev
from soak import invariants
from soak.config import SoakConfig
from soak.dataset import generate
from soak.processes import ROOT, Processes, Sandbox, SoakError, tail
from soak.results import build_results, summary_markdown
from soak.storage_proxy import StorageProxy
from tests.azurite import ACCOUNT, KEY, Azurite
from tests.contract.check import as_json, check_file

log = logging.getLogger("soak")
TRAFFIC = "graph-traffic.jsonl"  # in the work dir: every Graph request the sandbox answered

INPUT, STATE, REPORTS, QUEUE = "soak-input", "soak-state", "soak-reports", "soak-work"
GRAPH_MIX = {"429": 2, "500": 2, "503": 2, "504": 2, "drop": 1, "timeout": 1, "slow": 2}


@dataclass
class _Worker:
    slot: int
    name: str
    proc: subprocess.Popen[bytes]
    events: Path
    read: int = 0  # bytes of the events file already parsed
    # (message id, dequeue count, chunk) -> (start, chunk, outcome write announced)
    inflight: dict[tuple[object, ...], tuple[float, int, bool]] = field(default_factory=dict)


def _csv_drop_windows(data: bytes) -> list[list[DesiredRow]]:
    """The chunks the CSV drop's fan-out cuts from *data* (raw rows count as valid), parsed as the
    workers parse them: a duplicate message must carry exactly a real chunk's rows."""

    def source() -> Any:
        return iter([data])

    scan = scan_csv(source, name="users.csv", default_region="NL", limits=ReaderLimits(), size=len(data))
    layout, raw = iter_raw_rows(source, scan, default_region="NL")
    return [[parse_raw(r, layout) if isinstance(r, RawRow) else r for r in w] for w in split_chunks(raw)]


class Driver:
    """Runs one soak in *work*: starts everything, injects the chaos, waits for the job, collects."""

    def __init__(self, config: SoakConfig, work: Path) -> None:
        self.config = config
        self.work = work
        self.rng = random.Random(f"soak-driver-{config.seed}")
        self.kills: list[ev.Kill] = []
        self.duplicates: list[dict[str, Any]] = []
        self.workers: list[_Worker] = []
        self.incarnations = Counter[int]()
        self.outage_threads: list[threading.Thread] = []
        self.chunk_users: dict[int, list[str]] = {}

    # --- the run --------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        config, t0 = self.config, time.monotonic()
        dataset = generate(config.users, seed=config.seed)
        dataset.write(self.work / "seed.json", self.work / "users.csv")
        data = dataset.csv_bytes()
        rows = list(parse_csv(data, source="users.csv", default_region="NL").rows)
        windows = _csv_drop_windows(data)
        self.chunk_users = {i: [row.user for row in window if row.valid] for i, window in enumerate(windows)}
        with Processes(self.work) as procs:
            self.procs = procs
            storage = procs.azurite_server()
            sandbox = procs.soak_sandbox(
                self.work / "seed.json", time_scale=config.time_scale, record=self.work / TRAFFIC
            )
            initial = sandbox.users()
            with (
                StorageProxy(storage.blob_port, config.storage, seed=config.seed, name="blob") as blob,
                StorageProxy(storage.queue_port, config.storage, seed=config.seed, name="queue") as queue,
            ):
                env = self._pipeline_env(sandbox, storage, blob.port, queue.port)
                self._prepare_storage(storage.connection_string)
                procs.host(env)
                self.workers = [self._spawn(slot, env) for slot in range(config.workers)]
                sandbox.configure({"faults": self._graph_faults()})
                job_id = self._upload(storage.connection_string, data)
                state = self._drive(
                    job_id, windows, storage.connection_string, env, [blob, queue], sandbox, t0
                )
                sandbox.configure({"faults": {"rate": 0.0, "batch_rate": 0.0}})
                self._drain(storage.connection_string)
                for worker in self.workers:
                    procs.stop(worker.proc)
                proxies = {"blob": blob.snapshot(), "queue": queue.snapshot()}
            duration = time.monotonic() - t0
            return self._collect(
                job_id,
                state,
                data,
                rows,
                windows,
                initial,
                sandbox,
                storage.connection_string,
                proxies,
                duration,
            )

    def _drive(
        self,
        job_id: str,
        windows: list[list[DesiredRow]],
        connection: str,
        env: dict[str, str],
        proxies: list[StorageProxy],
        sandbox: Sandbox,
        t0: float,
    ) -> str:
        """Kill, duplicate and cut storage at seeded progress points until the job completes."""
        config = self.config
        blobs = BlobServiceClient.from_connection_string(connection).get_container_client(STATE)
        # Kills spread over the first 75 % of the job: near its end few chunks are in flight to aim at.
        kill_at = sorted(0.75 * (i + self.rng.random()) / config.kills for i in range(config.kills))
        dup_at = sorted(self.rng.random() * 0.9 for _ in range(config.duplicates))
        outage_at = sorted(0.15 + 0.7 * self.rng.random() for _ in range(config.outages))
        work_queue = build_queue(self._direct_settings(connection), QUEUE)
        while True:
            if time.monotonic() - t0 > config.deadline_s:
                msg = f"the soak's deadline of {config.deadline_s:.0f} s passed before job {job_id} completed"
                raise SoakError(msg)
            state, progress = _job_progress(blobs, job_id)
            if state in ("completed", "rejected"):
                return state
            self._read_events()
            self._respawn_dead(env)
            aimed = len(kill_at) % 2 == 0  # every other kill waits for a Graph write of a chunk in flight
            if kill_at and progress >= kill_at[0] and self._kill_one(progress, env, sandbox, aimed=aimed):
                kill_at.pop(0)
            if dup_at and progress >= dup_at[0] and self._duplicate(job_id, windows, work_queue, len(dup_at)):
                dup_at.pop(0)
            if outage_at and progress >= outage_at[0] and not any(t.is_alive() for t in self.outage_threads):
                outage_at.pop(0)
                self._outage(proxies)
            time.sleep(0.2)

    # --- chaos ----------------------------------------------------------------------------------

    def _kill_one(self, progress: float, env: dict[str, str], sandbox: Sandbox, *, aimed: bool) -> bool:
        """SIGKILL a worker with a chunk in flight whose outcomes are not written yet: at a random age,
        or (*aimed*) one whose users the sandbox saw written since the chunk started."""
        now = time.time()
        age = self.rng.uniform(0.3, 2.5)
        pending = [
            (worker, start, chunk)
            for worker in self.workers
            for start, chunk, written in worker.inflight.values()
            if not written and now - start >= (0.3 if aimed else age)
        ]
        if aimed and pending:
            history = sandbox.control("GET", f"history?since={min(s for _, s, _ in pending)}")
            changed = {user.lower(): max(c["time"] for c in entries) for user, entries in history.items()}
            pending = [
                (worker, start, chunk)
                for worker, start, chunk in pending
                if any(changed.get(user.lower(), 0.0) >= start for user in self.chunk_users.get(chunk, ()))
            ]
        if not pending:
            return False
        victim = self.rng.choice(sorted({w.name: w for w, _, _ in pending}.items()))[1]
        self.procs.kill(victim.proc)
        self.kills.append(ev.Kill(victim.name, victim.proc.pid, time.time(), progress, aimed))
        log.info(
            "killed %s (%d chunks in flight) at %.0f%%", victim.name, len(victim.inflight), 100 * progress
        )
        self._replace(victim, env)
        return True

    def _duplicate(self, job_id: str, windows: list[list[DesiredRow]], queue: Any, left: int) -> bool:
        """Send a copy of a chunk message: in flight now (every other one), or any chunk."""
        inflight = sorted({chunk for w in self.workers for _, chunk, _ in w.inflight.values()})
        concurrent = left % 2 == 0
        if concurrent and not inflight:
            return False
        queued = [i for i, window in enumerate(windows) if any(row.valid for row in window)]
        chunk = self.rng.choice(inflight if concurrent else queued)
        queue.send_message(encode_message(ChunkMessage(job_id, chunk, False, tuple(windows[chunk]))))
        self.duplicates.append({"chunk": chunk, "while_in_flight": concurrent, "at": round(time.time(), 3)})
        return True

    def _outage(self, proxies: list[StorageProxy]) -> None:
        for proxy in proxies:
            thread = threading.Thread(target=proxy.outage, args=(self.config.outage_s,), daemon=True)
            thread.start()
            self.outage_threads.append(thread)

    # --- workers --------------------------------------------------------------------------------

    def _spawn(self, slot: int, env: dict[str, str]) -> _Worker:
        self.incarnations[slot] += 1
        name = f"worker{slot}-{self.incarnations[slot]}"
        events = self.work / f"{name}.events"
        events.touch()
        args = [sys.executable, "-m", "soak.worker", "--events", str(events), "--log-level",
                self.config.worker_log_level]  # fmt: skip
        return _Worker(slot, name, self.procs.spawn(name, args, env), events)

    def _replace(self, worker: _Worker, env: dict[str, str]) -> None:
        self.workers[self.workers.index(worker)] = self._spawn(worker.slot, env)

    def _respawn_dead(self, env: dict[str, str]) -> None:
        for worker in list(self.workers):
            if worker.proc.poll() is not None:
                log.warning("%s exited by itself (%s):\n%s", worker.name, worker.proc.returncode,
                            tail(self.work / f"{worker.name}.log"))  # fmt: skip
                self._replace(worker, env)

    def _read_events(self) -> None:
        """Track each worker's chunks in flight from the new lines of its event file."""
        for worker in self.workers:
            with worker.events.open("rb") as handle:
                handle.seek(worker.read)
                data = handle.read()
            complete = data[: data.rfind(b"\n") + 1]
            worker.read += len(complete)
            for line in complete.splitlines():
                event = json.loads(line)
                key = (event.get("msg"), event.get("dequeue"))
                if event.get("ev") == "start" and event.get("fn") == ev.CHUNK_FUNCTION:
                    for chunk in event.get("chunks") or ():
                        worker.inflight[(*key, chunk)] = (float(event["t"]), int(chunk), False)
                elif event.get("ev") == "outcomes":
                    for k, (start, chunk, _) in list(worker.inflight.items()):
                        if chunk == event.get("chunk"):
                            worker.inflight[k] = (start, chunk, True)
                elif event.get("ev") == "end":
                    for k in [k for k in worker.inflight if k[:2] == key]:
                        del worker.inflight[k]

    # --- set-up and tear-down ---------------------------------------------------------------------

    def _graph_faults(self) -> dict[str, object]:
        config = self.config
        return {
            "rate": config.graph_fault_rate,
            "batch_rate": config.batch_fault_rate,
            "seed": config.seed,
            "mix": GRAPH_MIX,
            "after_commit": True,
            "retry_after_s": 1,
            "timeout_s": config.http_timeout_s + 1.0,
            "slow_s": 0.3,
        }

    def _pipeline_env(self, sandbox: Sandbox, storage: Azurite, blob: int, queue: int) -> dict[str, str]:
        host = "http://127.0.0.1"
        proxied = (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={host}:{blob}/{ACCOUNT};QueueEndpoint={host}:{queue}/{ACCOUNT};"
            f"TableEndpoint={host}:{storage.table_port}/{ACCOUNT};"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONING_")}
        return env | sandbox.env | {
            "PYTHONPATH": str(ROOT),
            "PROVISIONING_STORAGE": proxied,
            "AzureWebJobsStorage": proxied,
            "PROVISIONING_INPUT_CONTAINER": INPUT,
            "PROVISIONING_STATE_CONTAINER": STATE,
            "PROVISIONING_REPORT_CONTAINER": REPORTS,
            "PROVISIONING_WORK_QUEUE": QUEUE,
            "PROVISIONING_DEFAULT_REGION": "NL",
            "PROVISIONING_SYNC_SCHEDULE": "0 0 2 * * *",
            "PROVISIONING_LOCAL_LOCK_S": str(self.config.lock_s),
            "PROVISIONING_HTTP_TIMEOUT": str(self.config.http_timeout_s),
            "PROVISIONING_WRITE_RATE": str(15 * self.config.time_scale),
            "PROVISIONING_REQUEST_RATE": str(300 * self.config.time_scale),
            # the sandbox's windows, scaled like its rates: the pacer's windows and presence follow them
            "PROVISIONING_WRITE_WINDOW": str(150 / self.config.time_scale),
            "PROVISIONING_REQUEST_WINDOW": str(10 / self.config.time_scale),
        }  # fmt: skip

    @staticmethod
    def _direct_settings(connection: str) -> StorageSettings:
        return StorageSettings.from_env(
            {
                "PROVISIONING_STORAGE": connection,
                "PROVISIONING_INPUT_CONTAINER": INPUT,
                "PROVISIONING_STATE_CONTAINER": STATE,
                "PROVISIONING_REPORT_CONTAINER": REPORTS,
                "PROVISIONING_WORK_QUEUE": QUEUE,
            }
        )

    def _prepare_storage(self, connection: str) -> None:
        ensure_resources(self._direct_settings(connection))

    def _upload(self, connection: str, data: bytes) -> str:
        blob = BlobServiceClient.from_connection_string(connection).get_blob_client(INPUT, "users.csv")
        blob.upload_blob(data, overwrite=True)
        return job_id_for_blob(INPUT, "users.csv", blob.get_blob_properties().etag)

    def _drain(self, connection: str, timeout: float = 90.0) -> None:
        """After completion: let copies and redeliveries still queued run out, so the tenant is final."""
        queue = build_queue(self._direct_settings(connection), QUEUE)
        deadline = time.monotonic() + timeout
        for thread in self.outage_threads:
            thread.join(timeout=timeout)
        while time.monotonic() < deadline:
            self._read_events()
            busy = any(w.inflight for w in self.workers)
            if not busy and queue.get_queue_properties().approximate_message_count == 0:
                return
            time.sleep(0.5)
        log.warning("the work queue did not drain in %.0f s after the job completed", timeout)

    # --- results ------------------------------------------------------------------------------------

    def _collect(
        self,
        job_id: str,
        state: str,
        data: bytes,
        rows: list[DesiredRow],
        windows: list[list[DesiredRow]],
        initial: list[dict[str, Any]],
        sandbox: Sandbox,
        connection: str,
        proxies: dict[str, dict[str, int]],
        duration: float,
    ) -> dict[str, Any]:
        service = BlobServiceClient.from_connection_string(connection)
        report = service.get_blob_client(REPORTS, f"{job_id}/report.csv").download_blob().readall().decode()
        history, final = sandbox.history(), sandbox.users()
        evidence = {
            "initial": initial,
            "final": final,
            "history": history,
            "report_csv": report,
            "job_state": state,
        }
        (self.work / "evidence.json").write_text(
            json.dumps(evidence), encoding="utf-8"
        )  # to re-check by hand
        verdict = invariants.check(invariants.Evidence(data, initial, final, history, report, state))
        attempts: list[ev.Attempt] = []
        poison = 0
        for path in sorted(self.work.glob("worker*.events")):
            events = ev.read_events(path)
            attempts += ev.attempts_of(path.stem, events)
            poison += sum(1 for e in events if e.get("ev") == "start" and e.get("fn") == ev.POISON_FUNCTION)
        kills = ev.attribute_kills(self.kills, attempts, self.chunk_users, history)
        contract = as_json(check_file(self.work / TRAFFIC))  # every Graph request the workers sent
        return build_results(
            self.config, job_id, state, rows, windows, verdict, sandbox.stats(), proxies, kills,
            self.duplicates, ev.deliveries(attempts, poison), duration, contract,
        )  # fmt: skip


def _job_progress(container: Any, job_id: str) -> tuple[str | None, float]:
    """The job's state and the share of its chunks done (read from Azurite directly)."""
    try:
        job = json.loads(container.get_blob_client(job_blob(job_id)).download_blob().readall())
    except Exception:  # not written yet
        return None, 0.0
    if job.get("state") != "running":
        return str(job.get("state")), 1.0
    try:
        progress = json.loads(container.get_blob_client(progress_blob(job_id)).download_blob().readall())
    except Exception:
        return "running", 0.0
    chunks = job.get("chunks") or 0
    return "running", (progress.get("count", 0) / chunks) if chunks else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soak.run", description=__doc__)
    parser.add_argument("--users", type=int, default=SoakConfig.users)
    parser.add_argument("--kills", type=int, default=SoakConfig.kills, help="SIGKILLs of worker processes")
    parser.add_argument("--duplicates", type=int, default=SoakConfig.duplicates)
    parser.add_argument("--workers", type=int, default=SoakConfig.workers)
    parser.add_argument("--seed", type=int, default=SoakConfig.seed)
    parser.add_argument("--deadline", type=float, default=SoakConfig.deadline_s, help="seconds")
    parser.add_argument("--worker-log-level", default=SoakConfig.worker_log_level)
    parser.add_argument("--out", type=Path, required=True, help="results JSON (a .md summary goes beside it)")
    parser.add_argument(
        "--work", type=Path, help="logs and event files (default: a temp dir, kept on failure)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("azure", "httpx"):  # every storage and control request at info
        logging.getLogger(noisy).setLevel(logging.WARNING)
    config = SoakConfig(
        users=args.users, kills=args.kills, duplicates=args.duplicates, workers=args.workers, seed=args.seed,
        deadline_s=args.deadline, worker_log_level=args.worker_log_level,
    )  # fmt: skip
    results = run_soak(config, args.out, args.work)
    print(summary_markdown(results))
    return 0 if results["ok"] else 1


def run_soak(config: SoakConfig, out: Path, work: Path | None = None) -> dict[str, Any]:
    """Run one soak and write its results to *out* (and *out* with ``.md``); the results."""
    keep = work is not None
    work = work or Path(tempfile.mkdtemp(prefix=f"soak-{config.users}-"))
    work.mkdir(parents=True, exist_ok=True)
    log.info("soak: %d users, %d kills, seed %d; logs in %s", config.users, config.kills, config.seed, work)
    results = Driver(config, work).run()
    results["work"] = str(work)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(summary_markdown(results), encoding="utf-8")
    if results["ok"] and not keep:
        shutil.rmtree(work, ignore_errors=True)
    return results


if __name__ == "__main__":
    raise SystemExit(main())
