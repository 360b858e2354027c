"""Rows given at once (the CLI's file, the synchronous HTTP request) through the one chunk executor.

The rows go in chunks of up to 20 valid users (``split_chunks``, as the CSV drop's fan-out cuts
them), each read and applied over ``$batch`` by ``ChunkExecutor`` exactly as a queue worker does;
up to *concurrency* chunks are in flight, and the executor's sender paces them all.
``provision_chunks`` streams: it takes the rows as they come (a file read row by row) and hands each
chunk's outcomes on in input order, holding only the chunks in flight, so a file of any size runs
in bounded memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from provisioning.core.job_records import split_chunks
from provisioning.core.models import DesiredRow, Outcome
from provisioning.use_cases.executor import ChunkExecutor

Progress = Callable[[int, int], None]
T = TypeVar("T")


def provision_chunks(
    rows: Iterable[DesiredRow],
    executor: ChunkExecutor,
    *,
    dry_run: bool,
    concurrency: int = 1,
) -> Iterator[list[Outcome]]:
    """Each chunk's outcomes, one per row, in input order; with *dry_run* nothing is written.

    *rows* is read lazily: at most *concurrency* chunks are in flight and as many again wait, done,
    for the ones before them. An authentication failure stops the run (it would fail every row): it
    is raised here, and the chunks not yet started are dropped.
    """

    def run(chunk: list[DesiredRow]) -> list[Outcome]:
        return executor.apply(chunk, executor.read(chunk), dry_run=dry_run)

    return stream_chunks(rows, run, concurrency=concurrency)


def stream_chunks(
    rows: Iterable[DesiredRow], work: Callable[[list[DesiredRow]], list[T]], *, concurrency: int = 1
) -> Iterator[list[T]]:
    """``work`` of each chunk of *rows* (``split_chunks``), in input order, up to *concurrency* chunks
    in flight and as many again done and waiting for the ones before them (``provision_chunks``)."""
    chunks = split_chunks(rows)
    if concurrency <= 1:
        yield from map(work, chunks)
        return
    pending: deque[Future[list[T]]] = deque()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="chunks") as pool:
        try:
            for chunk in chunks:
                pending.append(pool.submit(work, chunk))
                while len(pending) >= 2 * concurrency:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # a failure, or a caller that stopped reading: start nothing more
            for future in pending:
                future.cancel()


def provision_rows(
    rows: Sequence[DesiredRow],
    executor: ChunkExecutor,
    *,
    dry_run: bool,
    concurrency: int = 1,
    progress: Progress | None = None,
) -> list[Outcome]:
    """One outcome per row, in input order (``provision_chunks`` over rows already in memory).

    *progress* is called with (rows done, rows in all) as each chunk's outcomes come in.
    """
    outcomes: list[Outcome] = []
    for chunk in provision_chunks(rows, executor, dry_run=dry_run, concurrency=concurrency):
        outcomes.extend(chunk)
        if progress is not None:
            progress(len(outcomes), len(rows))
    return outcomes
