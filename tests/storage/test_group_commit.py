"""GroupCommit: concurrent marks of one process share writes and lose nothing (no Azurite needed)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import pytest

from provisioning.core.job_records import ChunkTally, Progress
from provisioning.storage.group_commit import GroupCommit


class SlowStore:
    """A progress store whose writes take a while, so marks pile up behind the writer."""

    def __init__(self, *, fail_first: bool = False) -> None:
        self.progress = Progress(chunks=64)
        self.writes: list[frozenset[int]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def write(self, job_id: str, chunks: Mapping[int, ChunkTally], token: str) -> Progress:
        threading.Event().wait(0.01)
        with self.lock:
            if self.fail_first and not self.writes:
                self.writes.append(frozenset())
                raise ConnectionError("storage went away")
            self.writes.append(frozenset(chunks))
            for chunk, tally in chunks.items():
                self.progress = self.progress.mark(chunk, tally)
            self.progress = self.progress.claimed_by(token)
            return self.progress


def mark_all(commit: GroupCommit, chunks: range) -> list[Progress | Exception]:
    start = threading.Barrier(len(chunks))

    def one(chunk: int) -> Progress | Exception:
        start.wait()
        try:
            return commit.mark("job", chunk, f"chunk:{chunk}", (20, chunk))
        except ConnectionError as exc:
            return exc

    with ThreadPoolExecutor(len(chunks)) as pool:
        return list(pool.map(one, chunks))


def test_concurrent_marks_share_writes_and_every_chunk_is_stored():
    """64 threads marking at once need far fewer writes than marks; every chunk ends up done."""
    store = SlowStore()

    results = mark_all(GroupCommit(store.write), range(64))

    assert store.progress.complete
    assert (store.progress.rows_done, store.progress.writes_done) == (64 * 20, sum(range(64)))  # each once
    assert len(store.writes) < 32
    assert all(isinstance(r, Progress) and r.is_done(chunk) for chunk, r in enumerate(results))
    assert sum(r.finaliser == f"chunk:{chunk}" for chunk, r in enumerate(results)) == 1  # type: ignore[union-attr]


def test_a_failed_write_fails_only_its_writer_and_the_others_write_their_own():
    """When a shared write fails, its writer raises and the chunks riding along are written later."""
    store = SlowStore(fail_first=True)

    results = mark_all(GroupCommit(store.write), range(16))

    failures = [chunk for chunk, r in enumerate(results) if isinstance(r, Exception)]
    assert len(failures) == 1
    done = store.progress
    assert [chunk for chunk in range(16) if not done.is_done(chunk)] == failures


@pytest.mark.parametrize("repeat", [2, 3])
def test_the_same_chunk_marked_by_several_threads_is_done_once(repeat):
    """A chunk delivered to several threads at once is marked, and each thread returns."""
    store = SlowStore()
    commit = GroupCommit(store.write)

    with ThreadPoolExecutor(repeat) as pool:
        results = list(pool.map(lambda _: commit.mark("job", 5, "chunk:5"), range(repeat)))

    assert all(r.is_done(5) for r in results)
    assert store.progress.count == 1
