"""Rows through the chunk executor over a fake $batch Graph: outcomes, ordering, failures as values, dry runs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from provisioning.core.models import (
    AddPhone,
    CurrentMethods,
    DefaultMethod,
    DeletePhone,
    DesiredRow,
    OutcomeKind,
    SetDefaultMethod,
    SmsSignIn,
)
from provisioning.errors import AuthenticationError
from provisioning.graph.paths import GraphPaths
from provisioning.use_cases.executor import ChunkExecutor
from provisioning.use_cases.provision_rows import provision_chunks, provision_rows
from tests.builders import ALT, MOBILE, OFFICE, A, B, C
from tests.fakes import FakeGraph, FakeUser

ROOT = "https://graph.test"


def executor(graph: FakeGraph) -> ChunkExecutor:
    return ChunkExecutor(graph, GraphPaths(ROOT), ROOT)


def provision(rows, graph: FakeGraph, **kwargs):
    return provision_rows(rows, executor(graph), **kwargs)


class Journal:
    """A journal that already holds an earlier attempt's read."""

    def __init__(self, before: Mapping[int, CurrentMethods]) -> None:
        self.before = before

    def keep(self, current: Mapping[int, CurrentMethods]) -> Mapping[int, CurrentMethods]:
        return self.before


def apply_row(desired: DesiredRow, graph: FakeGraph, *, before: CurrentMethods):
    chunk = executor(graph)
    return chunk.apply(
        [desired], chunk.read([desired]), dry_run=False, journal=Journal({desired.line: before})
    )[0]


def row(user: str, values=None, line: int = 2, **kwargs) -> DesiredRow:
    return DesiredRow(line, user, values or {}, **kwargs)


def test_one_failing_user_does_not_stop_the_others():
    """A user whose write fails is `failed`; the next user is still provisioned."""
    graph = FakeGraph({"ann": FakeUser(), "bob": FakeUser()}, failing={"ann": AddPhone})

    outcomes = provision([row("ann", {MOBILE: A}), row("bob", {MOBILE: A}, line=3)], graph, dry_run=False)

    assert [o.kind for o in outcomes] == [OutcomeKind.FAILED, OutcomeKind.CHANGED]
    assert graph.users["bob"].phones == {MOBILE: A}
    assert outcomes[0].error is not None
    assert "400" in outcomes[0].error


def test_missing_user_is_a_failed_row_with_the_reason():
    """A user Graph does not know becomes a failed row naming the 404."""
    outcomes = provision([row("ghost", {MOBILE: A})], FakeGraph({}), dry_run=False)

    assert outcomes[0].kind is OutcomeKind.FAILED
    assert outcomes[0].error is not None
    assert "404" in outcomes[0].error


def test_invalid_rows_are_reported_and_never_read():
    """An invalid row gets the outcome `invalid` without any Graph call."""
    graph = FakeGraph({"ann": FakeUser()})

    outcomes = provision([row("ann", errors=("Mobile: not a phone number",))], graph, dry_run=False)

    assert outcomes[0].kind is OutcomeKind.INVALID
    assert graph.reads == []


def test_dry_run_writes_nothing_and_reports_what_would_change():
    """A dry run plans every row and applies nothing."""
    graph = FakeGraph({"ann": FakeUser()})

    outcomes = provision([row("ann", {MOBILE: A})], graph, dry_run=True)

    assert outcomes[0].kind is OutcomeKind.CHANGED
    assert graph.applied == []
    assert graph.users["ann"].phones == {}


def test_second_run_of_the_same_rows_is_unchanged():
    """Applying the same rows twice changes nothing the second time."""
    graph = FakeGraph({"ann": FakeUser(phones={OFFICE: C}, default="voiceOffice")})
    rows = [row("ann", {MOBILE: A, ALT: B}, sms_sign_in=SmsSignIn.ENABLE)]
    provision(rows, graph, dry_run=False)
    writes = len(graph.applied)

    outcomes = provision(rows, graph, dry_run=False)

    assert outcomes[0].kind is OutcomeKind.UNCHANGED
    assert len(graph.applied) == writes


def test_skipped_row_is_reported_as_skipped():
    """A row whose only change is refused by a rule is `skipped`, not `unchanged`."""
    graph = FakeGraph({"ann": FakeUser(phones={MOBILE: A})})

    outcomes = provision([row("ann", {MOBILE: B})], graph, dry_run=False)

    assert outcomes[0].kind is OutcomeKind.SKIPPED


def test_failure_stops_the_rest_of_that_users_plan():
    """After a failed write, the user's later operations are not attempted."""
    graph = FakeGraph(
        {"ann": FakeUser(phones={MOBILE: A, OFFICE: C}, default="sms")}, failing={"ann": SetDefaultMethod}
    )
    desired = row("ann", {OFFICE: C}, forced_removal=True, default_method=DefaultMethod.VOICE_OFFICE)

    outcomes = provision([desired], graph, dry_run=False)

    assert outcomes[0].kind is OutcomeKind.FAILED
    assert graph.users["ann"].phones == {MOBILE: A, OFFICE: C}
    assert not any(isinstance(op, DeletePhone) for op in graph.applied)


def test_default_is_read_only_for_rows_that_need_it():
    """Rows that neither delete nor set a default cost no default-method read."""
    graph = FakeGraph({"ann": FakeUser(), "bob": FakeUser(phones={OFFICE: C}, default="voiceOffice")})

    provision(
        [row("ann", {MOBILE: A}), row("bob", {}, line=3, forced_removal=True)],
        graph,
        dry_run=False,
    )

    assert ("ann", "default") not in graph.reads
    assert ("bob", "default") in graph.reads


def test_the_one_read_also_knows_the_email():
    """The single methods read includes the email, so undo.csv never clears an unknown one."""
    graph = FakeGraph({"ann": FakeUser(email="ann@home.example")})

    outcomes = provision([row("ann", {MOBILE: A})], graph, dry_run=False)

    assert outcomes[0].current is not None
    assert outcomes[0].current.email == "ann@home.example"


def test_sms_sign_in_state_is_reported_after_enabling():
    """The report gets the mobile's smsSignInState as it is after the run."""
    graph = FakeGraph({"ann": FakeUser()})

    outcomes = provision([row("ann", {MOBILE: A}, sms_sign_in=SmsSignIn.ENABLE)], graph, dry_run=False)

    assert outcomes[0].sms_sign_in_state == "ready"


def test_authentication_failure_stops_the_run():
    """A token failure would fail every row, so it escapes instead of becoming outcomes."""

    class NoToken(FakeGraph):
        def send(self, requests):
            raise AuthenticationError("no token", status=401)

    with pytest.raises(AuthenticationError):
        provision([row("ann", {MOBILE: A})], NoToken({}), dry_run=False)


def test_concurrent_chunks_keep_input_order_and_report_progress():
    """Rows go in chunks of 20 (four here, up to four at once); outcomes stay in input order."""
    graph = FakeGraph({f"u{i}": FakeUser() for i in range(70)})
    seen: list[int] = []

    outcomes = provision(
        [row(f"u{i}", {MOBILE: A}, line=i + 2) for i in range(70)],
        graph,
        dry_run=False,
        concurrency=4,
        progress=lambda done, total: seen.append(done),
    )

    assert [o.row.line for o in outcomes] == list(range(2, 72))
    assert sorted(seen)[-1] == 70
    assert len(seen) == 4  # one call per chunk of up to 20 users
    assert max(len(batch) for batch in graph.batches) == 20  # a chunk's reads (or writes) in one send


def test_a_retry_reports_the_whole_change_since_the_first_attempt():
    """When an earlier attempt already added the mobile, the retry still reports it as changed."""
    graph = FakeGraph({"ann": FakeUser(phones={MOBILE: A})})
    before = CurrentMethods("ann", {})
    desired = row("ann", {MOBILE: A, OFFICE: C})

    outcome = apply_row(desired, graph, before=before)

    assert outcome.kind is OutcomeKind.CHANGED
    assert outcome.current == before
    assert [(type(r.operation).__name__, r.ok) for r in outcome.results] == [
        ("AddPhone", True),
        ("AddPhone", True),
    ]
    assert graph.applied == [AddPhone("ann", OFFICE, C)]


def test_a_retry_with_nothing_done_earlier_is_a_normal_run():
    """A retry whose first attempt wrote nothing reports exactly what it applied."""
    graph = FakeGraph({"ann": FakeUser()})
    now = CurrentMethods("ann", {})

    outcome = apply_row(row("ann", {MOBILE: A}), graph, before=now)

    assert outcome.kind is OutcomeKind.CHANGED
    assert [r.request_id for r in outcome.results] == ["req-1"]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_rows_are_read_only_as_far_as_the_chunks_in_flight(concurrency):
    """A file's rows are taken as the chunks go: after the first chunk's outcomes, at most the chunks
    in flight and those waiting behind them (2 x concurrency, 20 users each) have been read."""
    graph = FakeGraph({f"u{i}": FakeUser() for i in range(2000)})
    taken: list[int] = []

    def rows() -> Iterator[DesiredRow]:
        for i in range(2000):
            taken.append(i)
            yield row(f"u{i}", {MOBILE: A}, line=i + 2)

    chunks = provision_chunks(rows(), executor(graph), dry_run=False, concurrency=concurrency)
    first = next(chunks)

    assert [o.row.line for o in first] == list(range(2, 22))
    assert len(taken) <= (2 * concurrency + 1) * 20
    rest = [o.row.line for chunk in chunks for o in chunk]
    assert rest == list(range(22, 2002))  # every row once, in input order


def test_a_failure_in_one_chunk_starts_no_further_chunks():
    """An authentication failure surfaces from the chunk it hit, and the rows behind it are not read."""

    class NoToken(FakeGraph):
        def send(self, requests):
            raise AuthenticationError("no token", status=401)

    taken: list[int] = []

    def rows() -> Iterator[DesiredRow]:
        for i in range(10_000):
            taken.append(i)
            yield row(f"u{i}", {MOBILE: A}, line=i + 2)

    with pytest.raises(AuthenticationError):
        list(provision_chunks(rows(), executor(NoToken({})), dry_run=False, concurrency=4))
    assert len(taken) <= 9 * 20
