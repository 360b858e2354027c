"""The whole demo at DEBUG: no phone number, email, token, key or certificate in what the app logged.

``scripts/demo.sh`` runs as ``make demo`` does (Azurite, the Graph sandbox, the local runner with two
worker processes, the CLI), with ``PROVISIONING_LOG_LEVEL=debug`` and its own ``DEMO_OUT``.

Scanned, as the app's logs: ``runner.log`` (the local Functions host and both workers), ``cli.log`` (the
CLI's stderr) and the demo's console output. Not scanned, on purpose:
- ``sandbox.log`` and ``azurite/``: the test doubles' own output, not the app's;
- ``cli-output.txt`` (and its lines on the console): the CLI's ``check`` and ``plan`` listings, a report
  shown to the admin who ran it, like ``report.csv`` and ``undo.csv``: records, unmasked by design;
- ``tenant-*.json``: the sandbox's state, dumped by the demo; it is where the needles come from.
The certificate's SHA-1 thumbprint may appear: it identifies the public certificate (the portal shows
it, every client assertion carries it), so an admin can tell which certificate the app used.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests import azurite
from tests.conftest import ROOT, SAMPLES
from tests.leak_scanner import Needles, scan_all

pytestmark = pytest.mark.e2e

DEMO_TIMEOUT_S = 420


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo's output directory and console text after one run at DEBUG."""
    out = tmp_path_factory.mktemp("demo") / "out"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PROVISIONING_", "DEMO_"))},
        "DEMO_OUT": str(out),
        "PROVISIONING_LOG_LEVEL": "debug",
    }
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        check=False,
    )
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-4000:]
    return out, console


def needles_of(out: Path) -> Needles:
    """Every number and address of the demo's data, and the secrets the demo used."""
    needles = Needles()
    for path in [*SAMPLES.glob("*.csv"), out / "users-undo.csv"]:
        needles.add_csv(path.read_text(encoding="utf-8"))
    for path in [SAMPLES / "demo-tenant.json", *out.glob("tenant-*.json")]:
        needles.add_json(json.loads(path.read_text(encoding="utf-8")))
    ready = json.loads((out / "runner.json").read_text(encoding="utf-8"))
    needles.add_secret(ready["functionKey"], "function key")
    needles.add_secret(ready["masterKey"], "master key")
    needles.add_secret(azurite.KEY, "Azurite account key")
    for name in ("client.pem", "signing.key.pem"):
        for line in _pem_body(out / "sandbox" / name):
            needles.add_secret(line, f"a line of {name}")
    return needles


def _pem_body(path: Path) -> list[str]:
    """The full base64 lines of every PEM block in *path* (each one a needle)."""
    return [line for line in path.read_text(encoding="ascii").splitlines() if len(line) == 64]


def app_logs(out: Path, console: str) -> list[tuple[str, str]]:
    """What the app logged: runner and worker log, CLI stderr, and the console without CLI listings."""
    listings = set((out / "cli-output.txt").read_text(encoding="utf-8").splitlines())
    console_log = "\n".join(line for line in console.splitlines() if line not in listings)
    return [
        ("runner.log", (out / "runner.log").read_text(encoding="utf-8")),
        ("cli.log", (out / "cli.log").read_text(encoding="utf-8")),
        ("console", console_log),
    ]


def test_the_demo_at_debug_logs_no_phone_email_token_key_or_certificate(demo):
    """Every source of log text is free of the demo's numbers, addresses, tokens and keys."""
    out, console = demo
    needles = needles_of(out)

    findings = scan_all(app_logs(out, console), needles)

    assert len(needles.phones) > 40  # the needles are real
    assert len(needles.emails) > 40
    assert findings == []


def test_every_process_logged_at_debug(demo):
    """The host, both workers and the CLI honoured PROVISIONING_LOG_LEVEL: the scan saw DEBUG output."""
    out, _ = demo
    runner = (out / "runner.log").read_text(encoding="utf-8")
    cli = (out / "cli.log").read_text(encoding="utf-8")

    debug_pids = set(re.findall(r"^\S+ \S+ (\d+) DEBUG ", runner, re.MULTILINE))

    assert len(debug_pids) >= 3  # the runner host and its two worker processes
    assert re.search(r"^DEBUG provisioning\.graph\.batch: v1\.0 \$batch of \d+ ", cli, re.MULTILINE)


def test_lines_that_named_users_were_logged_masked(demo):
    """The leak-prone lines were there, masked: the app's own per-user lines (httpx's request URLs name
    no user: every user's request rides inside a $batch envelope)."""
    out, console = demo
    text = "\n".join(text for _, text in app_logs(out, console))

    assert re.search(r"httpx: HTTP Request: POST \S+/v1\.0/\$batch ", text)
    assert re.search(r"provisioning\.use_cases\.executor: line \d+ \w\*\*\*@contoso\.test: changed", text)
