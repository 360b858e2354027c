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
