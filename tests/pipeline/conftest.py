"""Fixtures for the pipeline tests: Azurite (real), the Graph sandbox, and the local runner in-process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from provisioning.core.job_records import job_id_for_blob
from provisioning.entrypoints.local.host import QueueOptions
from provisioning.entrypoints.local.runner import LocalRunner
from provisioning.entrypoints.wiring import reset_services
from tests.sandbox import Sandbox

# Zero visibility timeout: a failed message is retried at once, so the poison path takes no time.
FAST_QUEUES = QueueOptions(
    max_dequeue_count=5, visibility_timeout_s=0, batch_size=8, max_polling_interval_s=0.2
)


@dataclass
class Pipeline:
    """A pipeline under test: its environment, storage, sandbox and runner."""

    env: dict[str, str]
    blobs: BlobServiceClient
    sandbox: Sandbox
    runner: LocalRunner

    @property
    def input(self) -> str:
        return self.env["PROVISIONING_INPUT_CONTAINER"]

    @property
    def reports(self) -> str:
        return self.env["PROVISIONING_REPORT_CONTAINER"]

    def upload(self, name: str, data: bytes) -> None:
        self.blobs.get_blob_client(self.input, name).upload_blob(data, overwrite=True)

    def job_of(self, name: str) -> str:
        """The id of the job started for the current version of input blob *name*."""
        props = self.blobs.get_blob_client(self.input, name).get_blob_properties()
        return job_id_for_blob(self.input, name, props.etag)

    def report(self, job_id: str, name: str) -> str:
        return self.blobs.get_blob_client(self.reports, f"{job_id}/{name}").download_blob().readall().decode()

    def run(self) -> None:
        """Deliver new blobs, then work the queues until they are empty."""
        self.runner.deliver_blobs()
        self.runner.work_until_idle()


def pipeline_env(storage_connection: str, sandbox: Sandbox) -> dict[str, str]:
    """Settings for one isolated pipeline: its own containers and queue, the sandbox as Graph."""
    suffix = uuid.uuid4().hex[:10]
    return {
        **sandbox.env,
        "PROVISIONING_STORAGE": storage_connection,
        "AzureWebJobsStorage": storage_connection,
        "PROVISIONING_INPUT_CONTAINER": f"in-{suffix}",
        "PROVISIONING_REPORT_CONTAINER": f"reports-{suffix}",
        "PROVISIONING_STATE_CONTAINER": f"state-{suffix}",
        "PROVISIONING_WORK_QUEUE": f"work-{suffix}",
        "PROVISIONING_DEFAULT_REGION": "NL",
        "PROVISIONING_SYNC_SCHEDULE": "0 0 2 * * *",
        "PROVISIONING_LOCAL_FUNCTION_KEY": "test-function-key",
        "PROVISIONING_LOCAL_MASTER_KEY": "test-master-key",
    }


@pytest.fixture
def pipeline(
    storage_connection: str, demo_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pipeline]:
    """The demo tenant behind a fresh pipeline; the runner's queues are worked on demand (no threads)."""
    env = pipeline_env(storage_connection, demo_sandbox)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_services()
    runner = LocalRunner(env, options=FAST_QUEUES)
    try:
        yield Pipeline(
            env, BlobServiceClient.from_connection_string(storage_connection), demo_sandbox, runner
        )
    finally:
        runner.stop()
        reset_services()


SAMPLES = Path(__file__).resolve().parents[2] / "samples"
