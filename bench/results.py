"""Result files: one JSON per benchmark under ``bench/results/``, with the machine, date and commit."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# A run on an exported snapshot (bench.run --snapshot) writes back into the checkout it came from.
RESULTS = Path(os.environ.get("BENCH_RESULTS_DIR") or ROOT / "bench" / "results")


def _git(*args: str, strip: bool = True) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - fixed git arguments
            ["git", *args],  # noqa: S607 - git from PATH
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if strip else done.stdout


def changed_paths(porcelain_z: str) -> list[str]:
    """The paths in ``git status --porcelain -z`` output (a rename's entry names the new path)."""
    entries = porcelain_z.split("\0")
    paths: list[str] = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":
            i += 1  # the rename's source path follows as its own entry
    return paths


def commit() -> dict[str, Any]:
    """``git rev-parse --short HEAD``, plus whether the tree differs from it (``dirty``)."""
    snapshot = os.environ.get("BENCH_SOURCE_COMMIT")
    if snapshot:
        return {"commit": snapshot, "head": snapshot, "dirty": False, "dirty_paths_outside_bench": [],
                "source": "git archive of that commit, with the working tree's bench/"}  # fmt: skip
    head = _git("rev-parse", "--short", "HEAD") or "unknown"
    # bench/results/ is this run's own output (an earlier benchmark of `all` wrote there): not a change
    # to what is measured.
    changed = [
        p
        for p in changed_paths(_git("status", "--porcelain", "-z", strip=False))
        if not p.startswith("bench/results/")
    ]
    outside = [p for p in changed if not p.startswith("bench/")]
    label = head + (" dirty" if changed else "")
    return {"commit": label, "head": head, "dirty": bool(changed), "dirty_paths_outside_bench": outside}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _memory_mib() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_mib": _memory_mib(),
        "python": sys.version.split()[0],
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def write(
    name: str,
    parameters: dict[str, Any],
    results: dict[str, Any],
    targets: dict[str, Any],
    directory: Path = RESULTS,
) -> Path:
    """Write ``<directory>/<name>.json`` (temp file + rename) and return its path."""
    document = {
        "benchmark": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **commit(),
        "machine": machine(),
        "parameters": parameters,
        "results": results,
        "targets": targets,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
