"""The chunk executor's lost-answer handling, over a scripted $batch port (no network)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import unquote

from provisioning.chunk_executor import ChunkExecutor
from provisioning.graph_batch import BatchRequest, BatchResponse
from provisioning.graph_paths import GraphPaths
from provisioning.models import DesiredRow, MethodKind, OutcomeKind

ROOT = "https://graph.test"
A = "+31 612345678"
B = "+31 201234567"


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
