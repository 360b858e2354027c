"""The soak's results: the JSON document from what the driver collected, and a short Markdown summary."""

from __future__ import annotations

import os
import platform
import subprocess
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from provisioning.core.models import DesiredRow
from soak.config import SoakConfig
from soak.invariants import Verdict

ROOT = Path(__file__).resolve().parents[1]


def summary_markdown(results: Mapping[str, Any]) -> str:
    """A one-screen summary of a soak's results JSON."""
    job, graph, storage = results["job"], results["graph"], results["storage"]
    kills, duplicates, deliveries = results["kills"], results["duplicates"], results["deliveries"]
    violations: Mapping[str, int] = results["violations"]
    lines = [
        f"# Chaos soak: {job['rows']} rows ({results['parameters']['users']} users), "
        f"{'PASSED' if results['ok'] else 'FAILED'}",
        "",
        f"- commit {results['commit']}{' (dirty tree)' if results['dirty'] else ''}, {results['date']}, "
        f"{results['duration_s']} s, seed {results['parameters']['seed']}",
        f"- job {job['id']}: {job['state']}, {job['chunks']} chunks; outcomes {_pairs(results['outcomes'])}",
        f"- Graph: {graph['requests']} requests, {graph['faults']} faults "
        f"({100 * graph['fault_share_of_requests']:.1f}%): {_pairs(graph['faults_by_kind'])}; "
        f"envelope faults {_pairs(graph['envelope_faults_by_kind'])}; "
        f"429s from the throttling limits {graph['throttled_by_limits']}",
        f"- Graph contract: {_contract_line(graph.get('contract'))}",
        f"- storage: {storage['requests']} requests through the proxy; faults {_pairs(storage['faults_by_kind'])}",
        f"- kills: {kills['total']} SIGKILLs of workers, {kills['between_graph_write_and_outcome_write']} "
        "between a Graph write and the outcome write",
        f"- duplicates: {duplicates['sent']} chunk messages sent twice ({duplicates['while_in_flight']} while "
        f"the chunk was in flight); {deliveries['chunks_delivered_more_than_once']} chunks delivered more "
        f"than once, {deliveries['redeliveries']} redeliveries, {deliveries['poison_handled']} poisoned",
        f"- violations: {sum(violations.values())} ({_pairs(violations)})",
    ]
    failed = results.get("failed_rows") or []
    if failed:
        lines.append(f"- failed rows (state checked: as before or as planned): {len(failed)}")
        lines += [f"  - line {row['line']}: {row['reason']}" for row in failed[:5]]
    return "\n".join(lines) + "\n"


def _contract_line(contract: Mapping[str, Any] | None) -> str:
    if not contract:
        return "not checked"
    line = (
        f"{contract['requests']} requests, {contract['envelopes']} envelopes ({contract['parallel_inner']} "
        f"parallel and {contract['sequential_inner']} sequential inner requests), {contract['violations']} violations"
    )
    worst = ", ".join(f"{v['count']} x {v['problem']}" for v in contract["distinct_violations"][:3])
    return f"{line}: {worst}" if worst else line


def _pairs(counts: Mapping[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items())) or "none"


def build_results(
    config: SoakConfig,
    job_id: str,
    state: str,
    rows: list[DesiredRow],
    windows: list[list[DesiredRow]],
    verdict: Verdict,
    stats: dict[str, Any],
    proxies: dict[str, dict[str, int]],
    kills: list[dict[str, Any]],
    duplicates: list[dict[str, Any]],
    deliveries: dict[str, int],
    duration: float,
    contract: dict[str, Any],
) -> dict[str, Any]:
    requests = int(stats.get("requests", 0))
    op_faults = {k: int(v) for k, v in stats.get("faults_by_kind", {}).items()}
    storage_faults: Counter[str] = Counter()
    for counts in proxies.values():
        storage_faults.update({k: v for k, v in counts.items() if k not in ("requests", "connections")})
    return {
        "soak": "chaos",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "parameters": asdict(config),
        "job": {"id": job_id, "state": state, "rows": len(rows), "chunks": len(windows)},
        "duration_s": round(duration, 1),
        "graph": {
            "requests": requests,
            "envelopes": int(stats.get("batches", 0)),
            "faults_by_kind": op_faults,
            "envelope_faults_by_kind": stats.get("batch_faults_by_kind", {}),
            "faults": sum(op_faults.values()),
            "fault_share_of_requests": round(sum(op_faults.values()) / requests, 4) if requests else 0.0,
            "throttled_by_limits": int(stats.get("throttled", 0)) - op_faults.get("429", 0),
            "by_status": stats.get("by_status", {}),
            "contract": contract,  # tests/contract/check.py over the recorded traffic
        },
        "storage": {
            "requests": sum(c.get("requests", 0) for c in proxies.values()),
            "faults_by_kind": dict(storage_faults),
            "by_service": proxies,
        },
        "kills": {
            "total": len(kills),
            "between_graph_write_and_outcome_write": sum(
                k["between_graph_write_and_outcome_write"] for k in kills
            ),
            "list": kills,
        },
        "duplicates": {
            "sent": len(duplicates),
            "while_in_flight": sum(d["while_in_flight"] for d in duplicates),
            "list": duplicates,
        },
        "deliveries": deliveries,
        "outcomes": dict(verdict.outcomes),
        "failed_rows": verdict.failed_rows[:50],
        "violations": verdict.by_invariant(),
        "violation_examples": [asdict(v) for v in verdict.violations[:30]],
        "ok": verdict.ok
        and state == "completed"
        and contract["violations"] == 0
        and contract["requests"] > 0,
    }


def _git(*args: str) -> str:
    try:
        command = ["git", *args]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603 - git, fixed arguments
    except OSError:
        return ""
    return done.stdout.strip()
