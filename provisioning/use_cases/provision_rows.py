"""Rows given at once (the CLI's file, the synchronous HTTP request) through the one chunk executor.

The rows go in chunks of up to 20 valid users (``split_chunks``, as the CSV drop's fan-out cuts
them), each read and applied over ``$batch`` by ``ChunkExecutor`` exactly as a queue worker does;
up to *concurrency* chunks are in flight, and the executor's sender paces them all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from provisioning.core.job_records import split_chunks
from provisioning.core.models import DesiredRow, Outcome
from provisioning.use_cases.executor import ChunkExecutor

Progress = Callable[[int, int], None]


def provision_rows(
    rows: Sequence[DesiredRow],
    executor: ChunkExecutor,
    *,
    dry_run: bool,
    concurrency: int = 1,
    progress: Progress | None = None,
) -> list[Outcome]:
    """One outcome per row, in input order; with *dry_run* nothing is written.

    *progress* is called with (rows done, rows in all) as each chunk ends. An authentication
    failure stops the run (it would fail every row).
    """
    total = len(rows)
    done = 0
    lock = threading.Lock()

    def run(chunk: list[DesiredRow]) -> list[Outcome]:
        nonlocal done
        outcomes = executor.apply(chunk, executor.read(chunk), dry_run=dry_run)
        with lock:
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        return outcomes

    chunks = split_chunks(rows)
    if concurrency <= 1:
        return [outcome for chunk in chunks for outcome in run(chunk)]
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="provision") as pool:
        return [outcome for part in pool.map(run, chunks) for outcome in part]
