"""``python -m bench.fanout CONTAINER BLOB --out FILE``: the CSV drop's fan-out alone, in its own process.

Calls ``provisioning.use_cases.pipeline.fan_out_blob`` exactly as the blob trigger does (settings from the
environment: ``PROVISIONING_STORAGE``, ``PROVISIONING_MAX_FILE_BYTES``, ...), with no workers running,
and writes JSON: wall time, the job id, this process's peak RSS (``ru_maxrss``, KiB on Linux) and a
sampled RSS timeline (``/proc/self/status`` every 0.5 s).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BlobRef:
    """What ``fan_out_blob`` reads of the SDK's BlobClient."""

    container_name: str
    blob_name: str


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__)
    parser.add_argument("container")
    parser.add_argument("blob")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    start = time.monotonic()

    def sample() -> None:
        while not stop.wait(0.5):
            samples.append((round(time.monotonic() - start, 1), _rss_kib()))

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from provisioning.entrypoints.wiring import build_services
    from provisioning.use_cases.pipeline import fan_out_blob

    services = build_services(os.environ)
    imported_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    threading.Thread(target=sample, daemon=True).start()
    t0 = time.monotonic()
    job_id = fan_out_blob(BlobRef(args.container, args.blob), services)
    seconds = time.monotonic() - t0
    stop.set()
    status = services.jobs.status(job_id)
    result = {
        "job_id": job_id,
        "seconds": round(seconds, 3),
        "state": status.state.value if status else None,
        "rows": status.rows if status else None,
        "chunks": status.chunks if status else None,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "rss_kib_at_start": base_rss,
        "peak_rss_kib_after_imports": imported_rss,
        "rss_timeline_kib": samples[:: max(1, len(samples) // 200)],
    }
    args.out.write_text(json.dumps(result), encoding="utf-8")
    services.close()


if __name__ == "__main__":
    main()
