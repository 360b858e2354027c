"""Demo steps that talk to the running pipeline (local runner + Azurite + Graph sandbox).

Usage: ``demo_pipeline.py upload FILE`` | ``provision`` | ``sync`` | ``status JOB``; settings come from
the environment (the sandbox's env file plus the storage settings) and the runner's ready file
(``RUNNER_READY``). Each step prints what an admin would look at and fails loudly if it did not work.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import httpx
from azure.storage.blob import BlobServiceClient

from provisioning.core.job_records import job_id_for_blob
from provisioning.core.masking import mask_log_text


def _runner() -> tuple[str, dict[str, str], dict[str, str]]:
    ready = json.loads(Path(os.environ["RUNNER_READY"]).read_text())
    return ready["url"], {"x-functions-key": ready["functionKey"]}, {"x-functions-key": ready["masterKey"]}


def _wait_for_job(
    client: httpx.Client, job_id: str, key: dict[str, str], timeout: float = 180
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    status: dict[str, object] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/api/jobs/{job_id}", headers=key)
        if response.status_code == 200:
            status = response.json()
            if status["state"] in ("completed", "rejected"):
                return status
        time.sleep(0.5)
    msg = f"job {job_id} did not complete in {timeout:.0f} s (last status: {status})"
    raise SystemExit(msg)


def _summary(service: BlobServiceClient, job_id: str) -> dict[str, object]:
    container = os.environ.get("PROVISIONING_REPORT_CONTAINER", "provisioning-reports")
    blob = service.get_blob_client(container, f"{job_id}/summary.json")
    summary: dict[str, object] = json.loads(blob.download_blob().readall())
    return summary


def upload(path: Path) -> None:
    """Drop a CSV into the input container and wait for its report."""
    url, key, _ = _runner()
    service = BlobServiceClient.from_connection_string(os.environ["PROVISIONING_STORAGE"])
    container = os.environ.get("PROVISIONING_INPUT_CONTAINER", "provisioning-input")
    blob = service.get_blob_client(container, path.name)
    blob.upload_blob(path.read_bytes(), overwrite=True)
    job_id = job_id_for_blob(container, path.name, blob.get_blob_properties().etag)
    print(f"uploaded {path.name} to {container}/ -> job {job_id}")
    with httpx.Client(base_url=url, timeout=30) as client:
        status = _wait_for_job(client, job_id, key)
    summary = _summary(service, job_id)
    print(f"job {status['state']}: {status['rows']} rows in {status['chunks']} chunks")
    print(f"outcomes: {json.dumps(summary['outcomes'])}")
    print(f"writes:   {json.dumps(summary['writes'])}")
    print(f"report:   {', '.join(str(v) for v in dict(status['report']).values())}")  # type: ignore[call-overload]
    failed = dict(summary["outcomes"]).get("failed", 0)  # type: ignore[call-overload]
    if status["state"] != "completed" or failed:
        raise SystemExit(1)


def provision() -> None:
    """ServiceNow-style request for one user."""
    url, key, _ = _runner()
    body = {"upn": "jordan.miller@contoso.test", "mobile": "+1 (425) 555-0190", "smsSignIn": "enable"}
    # The console is a log like any other: the request and the API's answer are shown masked.
    print(f"POST /api/provision {mask_log_text(json.dumps(body))}")
    with httpx.Client(base_url=url, timeout=60) as client:
        response = client.post("/api/provision", json=body, headers=key)
        print(f"-> {response.status_code}")
        print(mask_log_text(json.dumps(response.json(), indent=2)))
        unauthorised = client.post("/api/provision", json=body)
        print(f"the same request without the function key -> {unauthorised.status_code}")
    if response.status_code != 200 or unauthorised.status_code != 401:
        raise SystemExit(1)


def sync() -> None:
    """Run the nightly sync now through the host's admin API, as a dry run, and show its report."""
    url, key, master = _runner()
    service = BlobServiceClient.from_connection_string(os.environ["PROVISIONING_STORAGE"])
    state = os.environ.get("PROVISIONING_STATE_CONTAINER", "provisioning-state")
    with httpx.Client(base_url=url, timeout=120) as client:
        response = client.post("/admin/functions/nightly_sync", headers=master)
        print(f"POST /admin/functions/nightly_sync -> {response.status_code}")
        jobs = [b.name.split("/")[1] for b in service.get_container_client(state).list_blobs("jobs/")
                if b.name.endswith("/job.json")]  # fmt: skip
        for job_id in jobs:
            record = json.loads(
                service.get_blob_client(state, f"jobs/{job_id}/job.json").download_blob().readall()
            )
            if record["kind"] == "sync":
                status = _wait_for_job(client, job_id, key)
                summary = _summary(service, job_id)
                print(
                    f"sync job {job_id} ({'dry run' if summary['dryRun'] else 'applied'}): {status['rows']} users"
                )
                print(f"outcomes: {json.dumps(summary['outcomes'])}")
                return
    msg = "no sync job was recorded"
    raise SystemExit(msg)


def main(argv: list[str]) -> int:
    if argv[:1] == ["upload"] and len(argv) == 2:
        upload(Path(argv[1]))
    elif argv == ["provision"]:
        provision()
    elif argv == ["sync"]:
        sync()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
