"""A CSV drop whose host died between recording the chunk count in job.json and in progress.json."""

from __future__ import annotations

from dataclasses import replace

import pytest

from provisioning.entrypoints.wiring import services
from provisioning.storage.jobs import JobStore
from tests.conftest import SAMPLES
from tests.pipeline.conftest import Pipeline

pytestmark = pytest.mark.e2e


class DiesBetweenCounts(JobStore):
    """The first ``set_chunk_count`` writes job.json, then dies before progress.json (a killed host,
    or a storage outage that outlasts the SDK's retries)."""

    died = False

    def set_chunk_count(self, job_id, chunks, *, rows=None):
        if not DiesBetweenCounts.died:
            DiesBetweenCounts.died = True
            self._update_job(
                job_id, lambda r: replace(r, chunks=chunks, rows=r.rows if rows is None else rows)
            )
            raise RuntimeError("the host died between job.json and progress.json")
        return super().set_chunk_count(job_id, chunks, rows=rows)


def test_the_redelivered_blob_event_finishes_a_fan_out_that_died_between_the_two_counts(pipeline: Pipeline):
    """The blob event comes back (no receipt after the failure) and records the count in progress.json,
    so the job completes instead of waiting forever for a count its chunks never see."""
    DiesBetweenCounts.died = False
    services().jobs.__class__ = DiesBetweenCounts
    pipeline.upload("users.csv", (SAMPLES / "users.csv").read_bytes())
    pipeline.run()  # fan-out dies after job.json; every chunk is worked

    pipeline.run()  # the blob event again

    status = services().jobs.status(pipeline.job_of("users.csv"))
    assert DiesBetweenCounts.died
    assert status is not None
    assert status.state.value == "completed"
