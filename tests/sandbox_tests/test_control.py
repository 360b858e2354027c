"""Control endpoints, stats, history, latency, and the command line with its env file."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.sandbox import Sandbox
from tests.sandbox_tests.conftest import MOBILE_ID, phones

ROOT = Path(__file__).resolve().parents[2]


def test_stats_count_operations_by_kind_status_and_name(sandbox: Sandbox, graph: httpx.Client) -> None:
    """/_sandbox/stats counts reads, writes, statuses and operations; reset zeroes them."""
    graph.get(phones("mob@contoso.test"))
    graph.post(phones("mob@contoso.test"), json={"phoneNumber": "+31 600000000", "phoneType": "mobile"})

    stats = httpx.get(f"{sandbox.url}/_sandbox/stats", verify=sandbox.ssl_context()).json()

    assert (stats["requests"], stats["reads"], stats["writes"]) == (2, 1, 1)
    assert stats["by_status"] == {"200": 1, "400": 1}
    assert stats["by_operation"] == {"GET phoneMethods": 1, "POST phoneMethods": 1}
    httpx.post(f"{sandbox.url}/_sandbox/stats/reset", verify=sandbox.ssl_context())
    assert sandbox.stats()["requests"] == 0


def test_control_endpoints_show_users_state_and_history(sandbox: Sandbox, graph: httpx.Client) -> None:
    """Users, whole state and per-user ordered history are readable without a token."""
    graph.patch(f"{phones('mob@contoso.test')}/{MOBILE_ID}", json={"phoneNumber": "+31 600000000"})

    with httpx.Client(base_url=f"{sandbox.url}/_sandbox", verify=sandbox.ssl_context()) as control:
        user = control.get("/users/MOB@contoso.test").json()
        state = control.get("/state").json()
        history = control.get("/history").json()

    assert user["phoneMethods"] == {"mobile": "+31 600000000"}
    assert len(state["users"]) == len(sandbox.users())
    assert history["mob@contoso.test"] == [
        {"time": history["mob@contoso.test"][0]["time"], "user": "mob@contoso.test", "kind": "mobile",
         "action": "update", "before": "+31 611111111", "after": "+31 600000000"},
    ]  # fmt: skip


def test_config_endpoint_changes_latency_at_run_time(sandbox: Sandbox, graph: httpx.Client) -> None:
    """POST /_sandbox/config with latency_ms slows every Graph request."""
    httpx.post(f"{sandbox.url}/_sandbox/config", json={"latency_ms": 200}, verify=sandbox.ssl_context())

    started = time.monotonic()
    graph.get(phones("mob@contoso.test"))

    assert time.monotonic() - started >= 0.2
    assert sandbox.config.latency_ms == 200


def test_the_command_line_writes_the_env_file_and_stops_on_sigterm(tmp_path: Path, state_dir: Path) -> None:
    """python -m tests.sandbox prints its URL, writes the env file once listening, and exits 0 on SIGTERM."""
    env_file = tmp_path / "sandbox.env"
    seed = ROOT / "tests" / "sandbox" / "seeds" / "example.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.sandbox", "--seed", str(seed), "--env-file", str(env_file),
         "--state-dir", str(state_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while not env_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        values = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        trust = ssl.create_default_context(cafile=values["SSL_CERT_FILE"])
        health = httpx.get(f"{values['SANDBOX_URL']}/_sandbox/health", verify=trust)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)

    assert process.returncode == 0
    assert f"sandbox listening on {values['SANDBOX_URL']}" in output
    assert health.status_code == 200
    assert values["PROVISIONING_GRAPH_URL"] == values["PROVISIONING_AUTHORITY_URL"] == values["SANDBOX_URL"]
    assert values["PROVISIONING_TENANT_ID"] == "8f2b1c4e-5d6a-4b7c-9e0f-1a2b3c4d5e6f"
    assert Path(values["PROVISIONING_CERTIFICATE_PATH"]).read_text().count("BEGIN") == 2
    assert {"REQUESTS_CA_BUNDLE", "PROVISIONING_CLIENT_ID"} <= set(values)
