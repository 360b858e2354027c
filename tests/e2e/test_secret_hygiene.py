"""Certificates and secrets are read once per process and never written to disk by the app.

File reads and writes are counted with a Python audit hook (``open`` events): the real file system,
no patched ``open``. The CLI runs in a child process whose HOME, TMPDIR and working directory are
empty temporary directories; every file it opened for writing, and everything in those directories,
is searched for the private key (PEM, DER, base64), the client secret and any token.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient
from cryptography.hazmat.primitives import serialization

from provisioning.entrypoints.local.runner import LocalRunner
from provisioning.entrypoints.wiring import reset_services
from provisioning.graph.auth import build_token_provider
from provisioning.settings import Settings
from tests.conftest import ROOT, SAMPLES
from tests.pipeline.conftest import FAST_QUEUES, pipeline_env
from tests.sandbox import Sandbox

pytestmark = pytest.mark.e2e

PFX_PASSWORD = "sandbox"  # tests/sandbox/certs.py
CLIENT_SECRET = "hygiene-test-client-secret-0123456789"
_JWT = re.compile(rb"eyJ[\w-]{8,}\.eyJ[\w-]*\.")

# --- reads: an audit hook counting opens of watched paths --------------------------------------------

_WATCHED: dict[str, list[int]] = {}


def _count_opens(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _WATCHED and isinstance(args[0], str | Path):
        path = os.path.abspath(os.fspath(args[0]))
        if path in _WATCHED:
            _WATCHED[path].append(int(args[2]) if isinstance(args[2], int) else 0)


sys.addaudithook(_count_opens)  # process-wide and permanent; costs nothing while nothing is watched


@contextmanager
def opens_of(path: Path) -> Iterator[list[int]]:
    """The flags of every open of *path* in this process while the block runs."""
    key = os.path.abspath(path)
    _WATCHED[key] = []
    try:
        yield _WATCHED[key]
    finally:
        del _WATCHED[key]


def test_the_certificate_file_is_read_once_per_process_across_chunks_and_jobs(
    storage_connection, demo_sandbox, monkeypatch
):
    """Two CSV drops, three chunks, one worker process: the certificate file is opened once, to read."""
    env = pipeline_env(storage_connection, demo_sandbox)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_services()
    runner = LocalRunner(env, options=FAST_QUEUES)
    blobs = BlobServiceClient.from_connection_string(storage_connection)
    try:
        with opens_of(Path(env["PROVISIONING_CERTIFICATE_PATH"])) as opens:
            for sample in ("users.csv", "rules.csv"):
                blob = blobs.get_blob_client(env["PROVISIONING_INPUT_CONTAINER"], sample)
                blob.upload_blob((SAMPLES / sample).read_bytes(), overwrite=True)
                runner.deliver_blobs()
                runner.work_until_idle()
    finally:
        runner.stop()
        reset_services()

    assert demo_sandbox.stats()["writes"] > 0  # the chunks did reach Graph
    assert len(opens) == 1
    assert opens[0] & (os.O_WRONLY | os.O_RDWR) == 0


@dataclass
class CountingVault:
    """A Key Vault secret client holding the sandbox certificate; counts the reads."""

    pem: str
    reads: int = 0

    def get_secret(self, name: str) -> _VaultSecret:
        self.reads += 1
        return _VaultSecret(self.pem)


@dataclass(frozen=True)
class _VaultProperties:
    content_type: str | None = "application/x-pem-file"


@dataclass(frozen=True)
class _VaultSecret:
    value: str
    properties: _VaultProperties = field(default_factory=_VaultProperties)


def test_the_key_vault_certificate_is_read_once_however_many_tokens(demo_sandbox, sandbox_env, monkeypatch):
    """The token provider reads the secret when built and never again; tokens come from MSAL's memory."""
    monkeypatch.delenv("PROVISIONING_CERTIFICATE_PATH")
    monkeypatch.setenv("PROVISIONING_CERTIFICATE_KEYVAULT_URL", "https://kv-hygiene.vault.azure.net/")
    monkeypatch.setenv("PROVISIONING_CERTIFICATE_NAME", "graph-app")
    vault = CountingVault(Path(sandbox_env["PROVISIONING_CERTIFICATE_PATH"]).read_text(encoding="ascii"))
    provider = build_token_provider(Settings.from_env(os.environ), secret_reader=vault)
    try:
        tokens = {provider.token() for _ in range(5)}
    finally:
        provider.close()

    assert vault.reads == 1
    assert len(tokens) == 1
    assert demo_sandbox.stats()["tokens"] == 1


# --- writes: the CLI in a child process with an audit hook recording every file opened to write -------

_RECORDER = """
import json, os, sys
written = set()
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        if isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR):
            written.add(os.path.abspath(os.fsdecode(args[0])))
sys.addaudithook(hook)
from provisioning.entrypoints.cli import main
code = main(sys.argv[2:])
record = sorted(written)
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    json.dump(record, handle)
sys.exit(code)
"""


@dataclass(frozen=True)
class Secrets:
    """What must never be on disk, as bytes."""

    values: dict[str, bytes]

    @classmethod
    def of(cls, key_pem: bytes, client_secret: str) -> Secrets:
        key = serialization.load_pem_private_key(key_pem, None)
        values = {
            "key DER (PKCS#8)": key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            "key DER (PKCS#1)": key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ),
            "client secret": client_secret.encode(),
            "PEM private key": b"PRIVATE KEY-----",
        }
        body = [line for line in key_pem.decode().splitlines() if len(line) == 64]
        values |= {f"key base64 line {n}": line.encode() for n, line in enumerate(body[:3])}
        return cls(values)

    def found_in(self, data: bytes) -> list[str]:
        found = [name for name, value in self.values.items() if value in data]
        return [*found, "token"] if _JWT.search(data) else found


def run_cli_in_clean_home(tmp_path: Path, env: dict[str, str], *argv: str) -> tuple[int, list[Path], Path]:
    """Run the CLI with HOME, TMPDIR and cwd in *tmp_path*; returns exit code, written files, home."""
    home, temp, cwd = (tmp_path / name for name in ("home", "tmp", "cwd"))
    for directory in (home, temp, cwd):
        directory.mkdir()
    record = tmp_path / "written.json"
    child_env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": str(home),
        "TMPDIR": str(temp),
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", _RECORDER, str(record), *argv],
        cwd=cwd,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    written = [Path(p) for p in json.loads(record.read_text(encoding="utf-8"))]
    return result.returncode, written, tmp_path


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("credential", ["pem", "pfx", "secret"])
def test_a_cli_apply_writes_only_its_reports_and_no_key_secret_or_token(
    credential, sandbox_state_dir, tmp_path
):
    """Whatever the credential, the only files the CLI writes are report.csv, summary.json and undo.csv,
    and no file it wrote or left in HOME, TMPDIR or cwd holds the key, the secret or a token."""
    seed = json.loads((SAMPLES / "demo-tenant.json").read_text(encoding="utf-8"))
    if credential == "secret":
        seed["apps"] = [{"displayName": "secret app", "clientSecret": CLIENT_SECRET}]
    with Sandbox.start(seed=seed, state_dir=sandbox_state_dir) as sb:
        env = {**sb.env, "PROVISIONING_DEFAULT_REGION": "NL"}
        if credential == "pfx":
            env |= {
                "PROVISIONING_CERTIFICATE_PATH": str(sb.files.client_pfx),
                "PROVISIONING_CERTIFICATE_PASSWORD": PFX_PASSWORD,
            }
        if credential == "secret":
            del env["PROVISIONING_CERTIFICATE_PATH"]
            env["PROVISIONING_CLIENT_SECRET"] = CLIENT_SECRET
        reports = tmp_path / "cwd" / "reports"

        _, written, root = run_cli_in_clean_home(
            tmp_path, env, "apply", str(SAMPLES / "users.csv"), "--report-dir", str(reports)
        )
        applied = sb.stats()["writes"]
        key_pem = sb.files.client_pem.read_bytes()

    secrets = Secrets.of(_key_block(key_pem), CLIENT_SECRET)
    assert applied > 0
    assert sorted(p.name for p in written) == ["report.csv", "summary.json", "undo.csv"]
    leaks = {str(p): secrets.found_in(p.read_bytes()) for p in {*written, *files_under(root)}}
    assert {path: found for path, found in leaks.items() if found} == {}


def _key_block(pem: bytes) -> bytes:
    match = re.search(rb"-----BEGIN PRIVATE KEY-----.+?-----END PRIVATE KEY-----\n?", pem, re.DOTALL)
    assert match is not None
    return match[0]


def test_the_scan_finds_a_key_written_to_disk(sandbox_state_dir, tmp_path):
    """The disk scan can fail: a PEM key, its DER bytes or a token planted in a file are all found."""
    with Sandbox.start(seed=None, state_dir=sandbox_state_dir) as sb:
        key_pem = _key_block(sb.files.client_pem.read_bytes())
        token = sb.token()
    secrets = Secrets.of(key_pem, CLIENT_SECRET)
    der = secrets.values["key DER (PKCS#8)"]

    assert "PEM private key" in secrets.found_in(b"cache\n" + key_pem)
    assert "key DER (PKCS#8)" in secrets.found_in(b"\x00" + der + b"\x00")
    assert secrets.found_in(f'{{"access_token": "{token}"}}'.encode()) == ["token"]
    assert secrets.found_in(b"report.csv,upn,outcome") == []
