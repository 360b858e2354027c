"""Shared fixtures: the Graph sandbox seeded with the demo tenant, and settings pointing at it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from tests.contract.check import Report as ContractReport
from tests.contract.check import check_file
from tests.sandbox import Sandbox, SandboxConfig
from tests.sandbox.recorder import ENV_RECORD

# pytest rewrites asserts only in test modules and conftests; shared checking helpers ask for it too,
# so their failures show the values as they did when the helpers lived in test modules.
pytest.register_assert_rewrite("tests.openapi_checks")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
# The community script's sample CSV (copied unchanged from the shared fixtures; the repo needs nothing beside it).
SEED_CSV = ROOT / "tests" / "data" / "csv" / "fixture-seed-AuthMethodsImport.csv"

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


# The Graph contract check (tests/contract/check.py): every sandbox started in this session (in-process or
# a child process) records each Graph request into one file, judged when the session ends. A violation
# fails the run; so does an empty recording once a test that drives the product end to end has passed.
# (The soak's sandbox records into its own work directory and the soak judges that file itself.)
_PRODUCT_TESTS = ("tests/e2e/", "tests/pipeline/")


@dataclass
class _Contract:
    path: Path
    product_tests: int = 0
    report: ContractReport | None = None
    failure: str = ""


_contract: list[_Contract] = []  # one per session (a list, so the hooks below need no `global`)


def pytest_configure(config: pytest.Config) -> None:
    given = os.environ.get(ENV_RECORD, "").strip()
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="graph-contract-")) / "recording.jsonl"
    os.environ[ENV_RECORD] = str(path)
    _contract[:] = [_Contract(path)]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _contract and report.when == "call" and report.passed and report.nodeid.startswith(_PRODUCT_TESTS):
        _contract[0].product_tests += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _contract:
        return
    state = _contract[0]
    if state.path.is_file():
        state.report = check_file(state.path)
    requests = state.report.requests if state.report else 0
    if state.report and state.report.violation_count:
        state.failure = f"Graph contract: {state.report.violation_count} violations (recording: {state.path})"
    elif state.product_tests and requests == 0:
        state.failure = (
            f"Graph contract: no product request recorded in {state.path} though product tests passed"
        )
    if state.failure:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _contract:
        return
    state = _contract[0]
    if state.report is not None:
        terminalreporter.write_line(state.report.summary())
        for line in state.report.details():
            terminalreporter.write_line(line)
    if state.failure:
        terminalreporter.write_line(state.failure, red=True)
