"""Shared fixtures: the Graph sandbox seeded with the demo tenant, and settings pointing at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from tests.sandbox import Sandbox, SandboxConfig

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"

# Property tests are repeatable by default (the same examples on every run, as CI needs) and keep no
# example database; HYPOTHESIS_PROFILE=explore draws fresh examples and remembers failures locally.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, deadline=None)
hypothesis_settings.register_profile("explore", deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _clean_provisioning_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's PROVISIONING_* or CA settings unless it sets them."""
    import os

    for key in list(os.environ):
        if key.startswith("PROVISIONING_") or key in {"REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SANDBOX_URL"}:
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def sandbox_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Key material generated once per test session."""
    return tmp_path_factory.mktemp("sandbox-keys")


@pytest.fixture
def demo_sandbox(sandbox_state_dir: Path) -> Iterator[Sandbox]:
    """A fresh sandbox holding the demo tenant (samples/demo-tenant.json)."""
    config = SandboxConfig()
    with Sandbox.start(seed=SAMPLES / "demo-tenant.json", config=config, state_dir=sandbox_state_dir) as sb:
        yield sb


@pytest.fixture
def sandbox_env(demo_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The process environment pointed at the demo sandbox, as its env file would set it."""
    env = {**demo_sandbox.env, "PROVISIONING_DEFAULT_REGION": "NL"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="session")
def storage_connection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A connection string to Azurite: the one the Makefile started, or one started for this session."""
    import os

    from tests import azurite

    given = os.environ.get(azurite.ENV_CONNECTION)
    if given:
        yield given
        return
    server, process = azurite.start(tmp_path_factory.mktemp("azurite") / "azurite.log")
    try:
        yield server.connection_string
    finally:
        azurite.stop(process)
