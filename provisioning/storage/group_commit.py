"""Group commit of "chunk done" marks: one ``progress.json`` write for every chunk a process finished meanwhile.

The Functions host runs up to ``batchSize`` chunks of one job in parallel threads of one process;
without this they would all race on one blob's ETag, and only one of them would win each round.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from provisioning.core.job_records import ChunkTally, Progress

# write(job_id, chunks, token) marks *chunks* (each with its tally) done in one conditional write and
# returns the result.
Write = Callable[[str, Mapping[int, ChunkTally], str], Progress]


@dataclass
class _JobMarks:
    writing: threading.Lock = field(default_factory=threading.Lock)
    pending: dict[int, ChunkTally] = field(default_factory=dict)
    written: set[int] = field(default_factory=set)  # marked by another thread's write, not yet told
    last: Progress = field(default_factory=Progress)
    users: int = 0


class GroupCommit:
    """Marks chunks done, one writer per job at a time, each write carrying every chunk that waited.

    A thread returns only once a write holding its chunk has succeeded, so a message is never
    acknowledged before its mark is stored. The writer's *token* is the one that may claim
    finalisation; a thread whose chunk rode along in another's write returns that write's progress.
    """

    def __init__(self, write: Write) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._jobs: dict[str, _JobMarks] = {}

    def mark(self, job_id: str, chunk: int, token: str, tally: ChunkTally = (0, 0)) -> Progress:
        """Store *chunk* as done with its *tally* (alone or with others); the progress right after."""
        with self._lock:
            marks = self._jobs.setdefault(job_id, _JobMarks())
            marks.pending[chunk] = tally
            marks.users += 1
        try:
            with marks.writing:
                return self._write_batch(marks, job_id, chunk, token)
        finally:
            with self._lock:
                marks.users -= 1
                if marks.users == 0:
                    del self._jobs[job_id]

    def _write_batch(self, marks: _JobMarks, job_id: str, chunk: int, token: str) -> Progress:
        with self._lock:
            if chunk in marks.written:
                marks.written.discard(chunk)
                return marks.last
            batch = dict(marks.pending)  # this thread's chunk among them (mark() put it there)
            marks.pending.clear()
        try:
            progress = self._write(job_id, batch, token)
        except BaseException:
            with self._lock:  # the others in this batch write their own marks
                marks.pending.update((c, tally) for c, tally in batch.items() if c != chunk)
            raise
        with self._lock:
            marks.written |= batch.keys() - {chunk}
            marks.last = progress
        return progress
