"""The $batch chunk executor against the Graph sandbox: same end state as the plan, few calls per row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from provisioning.core.models import DesiredRow, OutcomeKind
from provisioning.csv_input.reader import parse_csv
from provisioning.graph.batch import ENVELOPES_PER_ROUND
from provisioning.graph.paths import GraphPaths
from provisioning.graph.stack import GraphStack, build_graph_stack
from provisioning.settings import Settings
from provisioning.use_cases.executor import ChunkExecutor
from tests.cli_runs import methods
from tests.conftest import SAMPLES
from tests.fakes import SandboxTokens
from tests.sandbox import Sandbox

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(demo_sandbox: Sandbox) -> Iterator[GraphStack]:
    settings = Settings.from_env({**demo_sandbox.env, "PROVISIONING_WRITE_RATE": "off"})
    with build_graph_stack(settings, tokens=SandboxTokens(demo_sandbox)) as built:
        yield built


def executor(stack: GraphStack, sb: Sandbox) -> ChunkExecutor:
    return ChunkExecutor(stack.batch, GraphPaths(sb.url), sb.url)


def sample_rows() -> list[DesiredRow]:
    parsed = parse_csv((SAMPLES / "users.csv").read_bytes(), source="users.csv", default_region="NL")
    return list(parsed.rows)


def test_a_batched_chunk_ends_where_the_one_by_one_path_ends(stack, demo_sandbox, sandbox_state_dir):
    """Every user of the sample ends with exactly the methods the CLI's run of the file gives."""
    rows = sample_rows()
    chunk = executor(stack, demo_sandbox)

    for start in range(0, len(rows), 20):
        part = rows[start : start + 20]
        outcomes = chunk.apply(part, chunk.read(part), dry_run=False)
        assert {o.kind for o in outcomes} <= {OutcomeKind.CHANGED, OutcomeKind.UNCHANGED}

    with Sandbox.start(seed=SAMPLES / "demo-tenant.json", state_dir=sandbox_state_dir) as twin:
        from provisioning.use_cases.provision_rows import provision_rows

        settings = Settings.from_env(twin.env)
        with build_graph_stack(settings, tokens=SandboxTokens(twin)) as other:
            cli = ChunkExecutor(other.batch, GraphPaths(settings.graph_root), settings.graph_root)
            provision_rows(rows, cli, dry_run=False, concurrency=4)
        assert methods(demo_sandbox) == methods(twin)


def test_unchanged_rows_cost_one_read_each_and_no_write(stack, demo_sandbox):
    """A second pass over applied rows reads each user once and writes nothing."""
    rows = sample_rows()[:20]
    chunk = executor(stack, demo_sandbox)
    chunk.apply(rows, chunk.read(rows), dry_run=False)
    demo_sandbox.reset_stats()

    outcomes = chunk.apply(rows, chunk.read(rows), dry_run=False)

    stats = demo_sandbox.stats()
    assert {o.kind for o in outcomes} == {OutcomeKind.UNCHANGED}
    assert stats["writes"] == 0
    needing_default = sum(1 for r in rows if r.default_method is not None or r.forced_removal)
    assert stats["reads"] <= len(rows) + needing_default
    assert stats["batches"] <= 2 * ENVELOPES_PER_ROUND  # two rounds at most, each spread over envelopes
