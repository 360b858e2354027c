"""The chunk executor's lost-answer handling, over a scripted $batch port (no network)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import unquote

from provisioning.core.models import DesiredRow, MethodKind, OutcomeKind
from provisioning.graph.batch import BatchRequest, BatchResponse
from provisioning.graph.paths import GraphPaths
from provisioning.use_cases.executor import ChunkExecutor

ROOT = "https://graph.test"
A = "+31 612345678"
B = "+31 201234567"
C = "+31 207654321"


class LossyGraph:
    """One user's phones; the first POST is applied but its answer is lost (status 0), as after a timeout."""

    def __init__(self, *, apply_lost_post: bool) -> None:
        self.phones: dict[str, str] = {}
        self.apply_lost_post = apply_lost_post
        self.posts = 0

    def send(self, requests: Sequence[BatchRequest]) -> Mapping[str, BatchResponse]:
        return {r.id: self._answer(r) for r in requests}

    def _answer(self, request: BatchRequest) -> BatchResponse:
        path = unquote(request.url)
        if request.method == "GET" and path.endswith("/authentication/methods"):
            items = [{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "phoneType": k, "phoneNumber": v}
                     for k, v in self.phones.items()]  # fmt: skip
            return BatchResponse(request.id, 200, {}, {"value": items}, "r-get")
        assert request.method == "POST"
        assert isinstance(request.body, Mapping)
        self.posts += 1
        if self.posts == 1:
            if self.apply_lost_post:
                self.phones[str(request.body["phoneType"])] = str(request.body["phoneNumber"])
            return BatchResponse(request.id, 0, {}, None, None)
        self.phones[str(request.body["phoneType"])] = str(request.body["phoneNumber"])
        return BatchResponse(request.id, 201, {}, {}, "r-post")


def run(graph: LossyGraph):
    rows = [DesiredRow(2, "ann@contoso.test", {MethodKind.MOBILE: A})]
    chunk = ChunkExecutor(graph, GraphPaths(ROOT), ROOT)
    return chunk.apply(rows, chunk.read(rows), dry_run=False)[0]


def test_a_lost_answer_whose_post_applied_is_not_sent_again():
    """A re-read shows the number: the add counts as done and is not repeated."""
    graph = LossyGraph(apply_lost_post=True)

    outcome = run(graph)

    assert outcome.kind is OutcomeKind.CHANGED
    assert graph.posts == 1
    assert graph.phones == {"mobile": A}


def test_a_lost_answer_whose_post_did_not_apply_is_sent_again():
    """A re-read shows nothing: the add is sent once more and succeeds."""
    graph = LossyGraph(apply_lost_post=False)

    outcome = run(graph)

    assert outcome.kind is OutcomeKind.CHANGED
    assert graph.posts == 2
    assert [r.request_id for r in outcome.results] == ["r-post"]


class RefusingGraph:
    """A user's phones where every write is refused with *status*; *before* runs first, as another
    delivery or an earlier, lost try of the same write would."""

    def __init__(self, phones: dict[str, str], status: int, before: dict[str, str | None]) -> None:
        self.phones = dict(phones)
        self.status = status
        self.before = before
        self.writes = 0

    def send(self, requests: Sequence[BatchRequest]) -> Mapping[str, BatchResponse]:
        return {r.id: self._answer(r) for r in requests}

    def _answer(self, request: BatchRequest) -> BatchResponse:
        if request.method == "GET":
            items = [{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "phoneType": k, "phoneNumber": v}
                     for k, v in self.phones.items()]  # fmt: skip
            return BatchResponse(request.id, 200, {}, {"value": items}, "r-get")
        self.writes += 1
        for kind, number in self.before.items():
            if number is None:
                self.phones.pop(kind, None)
            else:
                self.phones[kind] = number
        error = {"error": {"code": "itemNotFound" if self.status == 404 else "badRequest", "message": "no"}}
        return BatchResponse(request.id, self.status, {}, error, "r-refused")


def run_row(graph: RefusingGraph, row: DesiredRow):
    chunk = ChunkExecutor(graph, GraphPaths(ROOT), ROOT)
    return chunk.apply([row], chunk.read([row]), dry_run=False)[0]


def test_a_delete_answered_404_because_it_already_took_effect_counts_as_done():
    """The DELETE re-sent after a lost answer meets 404: a re-read shows the phone gone, so the row is changed."""
    graph = RefusingGraph({"mobile": A, "office": B}, 404, before={"office": None})
    row = DesiredRow(2, "ann@contoso.test", {MethodKind.MOBILE: A}, forced_removal=True)

    outcome = run_row(graph, row)

    assert outcome.kind is OutcomeKind.CHANGED
    assert graph.writes == 1


def test_an_add_refused_because_another_delivery_added_the_same_number_counts_as_done():
    """A concurrent delivery of the chunk added the mobile first: the 400 'exists' is confirmed by a re-read."""
    graph = RefusingGraph({}, 400, before={"mobile": A})

    outcome = run_row(graph, DesiredRow(2, "ann@contoso.test", {MethodKind.MOBILE: A}))

    assert outcome.kind is OutcomeKind.CHANGED
    assert graph.writes == 1


def test_an_add_refused_for_another_number_fails_with_graphs_error_and_is_not_resent():
    """The re-read shows another number: the row fails with Graph's refusal, and the add is sent once."""
    graph = RefusingGraph({}, 400, before={"mobile": B})

    outcome = run_row(graph, DesiredRow(2, "ann@contoso.test", {MethodKind.MOBILE: A}))

    assert outcome.kind is OutcomeKind.FAILED
    assert graph.writes == 1
    assert "400" in (outcome.error or "")


class RecordingGraph:
    """Users with no methods; every write succeeds; every send() call's requests are kept."""

    def __init__(self) -> None:
        self.sends: list[list[BatchRequest]] = []

    def send(self, requests: Sequence[BatchRequest]) -> Mapping[str, BatchResponse]:
        self.sends.append(list(requests))
        return {
            r.id: BatchResponse(r.id, 200, {}, {"value": []}, "r")
            if r.method == "GET"
            else BatchResponse(r.id, 201, {}, {}, "w")
            for r in requests
        }

    def writes(self) -> list[list[tuple[str, tuple[str, ...]]]]:
        """Per send() with writes: (user of the URL, dependsOn) of each write."""
        return [
            [(unquote(r.url).split("/")[2], r.depends_on) for r in requests]
            for requests in self.sends
            if any(r.method != "GET" for r in requests)
        ]


def test_several_users_write_side_by_side_one_write_each_per_round():
    """Three users with 3, 1 and 2 writes: each round holds one write per user and no dependsOn, so
    its envelopes are fully parallel; the last user's rest goes alone, as Graph allows."""
    graph = RecordingGraph()
    rows = [
        DesiredRow(
            2,
            "ann@contoso.test",
            {MethodKind.MOBILE: A, MethodKind.ALTERNATE_MOBILE: B, MethodKind.OFFICE: C},
        ),
        DesiredRow(3, "bob@contoso.test", {MethodKind.MOBILE: A}),
        DesiredRow(4, "cy@contoso.test", {MethodKind.MOBILE: A, MethodKind.OFFICE: C}),
    ]
    chunk = ChunkExecutor(graph, GraphPaths(ROOT), ROOT)

    outcomes = chunk.apply(rows, chunk.read(rows), dry_run=False)

    assert [o.kind for o in outcomes] == [OutcomeKind.CHANGED] * 3
    assert graph.writes() == [
        [("ann@contoso.test", ()), ("bob@contoso.test", ()), ("cy@contoso.test", ())],
        [("ann@contoso.test", ()), ("cy@contoso.test", ())],
        [("ann@contoso.test", ())],
    ]


def test_a_user_writing_alone_sends_its_writes_as_one_sequential_chain():
    """One user with three writes: one send() whose requests each depend on the one before."""
    graph = RecordingGraph()
    rows = [
        DesiredRow(
            2,
            "ann@contoso.test",
            {MethodKind.MOBILE: A, MethodKind.ALTERNATE_MOBILE: B, MethodKind.OFFICE: C},
        )
    ]
    chunk = ChunkExecutor(graph, GraphPaths(ROOT), ROOT)

    chunk.apply(rows, chunk.read(rows), dry_run=False)

    (chain,) = [requests for requests in graph.sends if any(r.method != "GET" for r in requests)]
    assert [r.depends_on for r in chain] == [(), (chain[0].id,), (chain[1].id,)]
