"""BatchSender through httpx.MockTransport: packing into shapes Graph accepts, correlation by id,
per-item and envelope retries, uncertain POSTs, and what the pacer is told."""

from __future__ import annotations

import itertools
import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import httpx
import pytest

from provisioning.graph.batch import BatchRequest, BatchResponse, BatchSender
from provisioning.graph.pacer import Pacer
from provisioning.graph.stack import ARRIVAL_MARGIN, build_graph_stack
from provisioning.settings import Settings
from tests.fakes import FakeClock

ROOT = "https://graph.test"
Reply = tuple[int, dict[str, str], object]
Rule = Callable[[dict[str, object], int], Reply]


def _ok(item: dict[str, object], _: int) -> Reply:
    return 200, {"request-id": f"req-{item['id']}"}, {"echo": item["id"]}


@dataclass
class _Graph:
    """A scripted ``$batch`` endpoint: refuses, as Graph does, an envelope that is neither fully parallel
    nor one sequential chain and a write without body and Content-Type (400); runs items in the given
    order (dependents of a failure get 424), answers each by *rule* (item, how often its id was seen
    before), shuffles the answers, and records every envelope. *envelope* replies (responses or
    transport errors) are used up first."""

    rule: Rule = _ok
    envelope: list[httpx.Response | type[httpx.TransportError]] = field(default_factory=list)
    envelopes: list[tuple[str, list[dict[str, object]]]] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    barrier: threading.Barrier | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["requests"]
        with self.lock:
            self.envelopes.append((request.url.path, items))
            scripted = self.envelope.pop(0) if self.envelope else None
        if self.barrier is not None:
            self.barrier.wait()
        if isinstance(scripted, httpx.Response):
            return scripted
        if scripted is not None:
            raise scripted("scripted", request=request)
        refusal = _refusal(items)
        if refusal is not None:
            return httpx.Response(400, json={"error": {"code": "BadRequest", "message": refusal}})
        return httpx.Response(200, json={"responses": self._run(items)})

    def _run(self, items: list[dict[str, object]]) -> list[dict[str, object]]:
        statuses: dict[str, int] = {}
        answers = []
        for item in items:
            deps = item.get("dependsOn", [])
            assert isinstance(deps, list)
            assert all(d in statuses for d in deps), "a dependency must come first"
            item_id = str(item["id"])
            reply: Reply
            if any(not 200 <= statuses[d] < 300 for d in deps):
                reply = 424, {}, {"error": {"code": "FailedDependency"}}
            else:
                with self.lock:
                    count = self.seen[item_id]
                    self.seen[item_id] += 1
                reply = self.rule(item, count)
            status, headers, body = reply
            statuses[item_id] = status
            answers.append({"id": item_id, "status": status, "headers": headers, "body": body})
        random.Random(len(items)).shuffle(answers)
        return answers

    def ids(self) -> list[list[str]]:
        return [[str(item["id"]) for item in items] for _, items in self.envelopes]


def _refusal(items: list[dict[str, object]]) -> str | None:
    """Graph's answer to a malformed envelope (graph-api.md section 6), or None."""
    if any("dependsOn" in item for item in items):
        sequential = "dependsOn" not in items[0] and all(
            item.get("dependsOn") == [before["id"]] for before, item in itertools.pairwise(items)
        )
        if not sequential:
            return "Batch should be either fully sequential or fully parallel"
    for item in items:
        headers = item.get("headers")
        typed = isinstance(headers, dict) and headers.get("Content-Type") == "application/json"
        if item["method"] in {"POST", "PATCH", "PUT"} and "body" not in item:
            return f"request {item['id']}: a write needs a body"
        if "body" in item and not typed:
            return f"request {item['id']}: a body needs Content-Type"
    return None


@dataclass
class _Setup:
    graph: _Graph
    sender: BatchSender
    clock: FakeClock
    pacer: Pacer


def _setup(
    graph: _Graph, *, attempts: int = 6, write_rate: float | None = None, concurrency: int = 1
) -> _Setup:
    clock = FakeClock()
    pacer = Pacer(write_rate=write_rate, clock=clock, sleep=clock.sleep)
    http = httpx.Client(transport=httpx.MockTransport(graph))
    sender = BatchSender(
        http, graph_root=ROOT, pacer=pacer, max_attempts=attempts, sleep=clock.sleep, concurrency=concurrency
    )
    return _Setup(graph, sender, clock, pacer)


def _get(
    item_id: str, api: Literal["v1.0", "beta"] = "v1.0", depends_on: tuple[str, ...] = ()
) -> BatchRequest:
    url = f"/users/{item_id}/authentication/methods"
    return BatchRequest(item_id, "GET", url, api=api, depends_on=depends_on)


def _post(item_id: str, depends_on: tuple[str, ...] = ()) -> BatchRequest:
    body = {"phoneNumber": "+1 5555551234", "phoneType": "mobile"}
    url = "/users/ann%40contoso.test/authentication/phoneMethods"
    return BatchRequest(item_id, "POST", url, body=body, depends_on=depends_on, is_write=True)


def _patch(item_id: str, depends_on: tuple[str, ...] = ()) -> BatchRequest:
    body = {"phoneNumber": "+1 5555551234", "phoneType": "mobile"}
    url = "/users/ann%40contoso.test/authentication/phoneMethods/x"
    return BatchRequest(item_id, "PATCH", url, body=body, depends_on=depends_on, is_write=True)


def _chain(prefix: str, length: int) -> list[BatchRequest]:
    return [_patch(f"{prefix}{i}", (f"{prefix}{i - 1}",) if i else ()) for i in range(length)]


def _statuses(responses: Mapping[str, BatchResponse]) -> dict[str, int]:
    return {key: r.status for key, r in responses.items()}


def _throttle_once(retry_after: dict[str, str]) -> Rule:
    """429 with the given Retry-After the first time each listed id is seen, else 200."""

    def rule(item, count):
        if item["id"] in retry_after and count == 0:
            return 429, {"Retry-After": retry_after[str(item["id"])]}, {"error": {"code": "TooManyRequests"}}
        return _ok(item, count)

    return rule


# --- packing -------------------------------------------------------------------------------------


def test_requests_are_packed_at_most_twenty_to_an_envelope_and_evenly():
    """45 reads go as three envelopes of 15 to /v1.0/$batch (no envelope waits on a longer one)."""
    setup = _setup(_Graph())

    setup.sender.send([_get(f"u{i}") for i in range(45)])

    assert sorted(len(items) for _, items in setup.graph.envelopes) == [15, 15, 15]
    assert {path for path, _ in setup.graph.envelopes} == {"/v1.0/$batch"}
    assert (setup.sender.http_calls, setup.sender.requests_sent) == (3, 45)


def test_a_round_is_spread_evenly_over_the_senders_concurrency():
    """With 4 envelopes in flight: 20 reads go as four envelopes of 5, 45 as four of 11 or 12, 3 as three of 1."""
    sizes = []
    for count in (20, 45, 3):
        setup = _setup(_Graph(), concurrency=4)

        responses = setup.sender.send([_get(f"u{i}") for i in range(count)])

        assert set(_statuses(responses).values()) == {200}
        sizes.append(sorted(len(items) for _, items in setup.graph.envelopes))
    assert sizes == [[5, 5, 5, 5], [11, 11, 11, 12], [1, 1, 1]]


def test_a_spread_round_keeps_every_chain_whole_in_its_own_envelope():
    """Spreading splits only the independent requests: a chain of three stays one sequential envelope."""
    setup = _setup(_Graph(), concurrency=4)

    setup.sender.send([_get(f"u{i}") for i in range(8)] + _chain("a", 3))

    assert sorted(setup.graph.ids()) == sorted(
        [["a0", "a1", "a2"], ["u0", "u1"], ["u2", "u3"], ["u4", "u5"], ["u6", "u7"]]
    )


def test_each_chain_goes_alone_in_a_sequential_envelope_and_the_rest_in_parallel_ones():
    """Eighteen reads and three chains of three: three envelopes of one chain each, in chain order, and
    one parallel envelope of the eighteen reads (Graph answers any mix 400)."""
    setup = _setup(_Graph())
    chains = [_chain(p, 3) for p in "abc"]

    responses = setup.sender.send([_get(f"u{i}") for i in range(18)] + [r for c in chains for r in c])

    assert sorted(setup.graph.ids()) == sorted(
        [[r.id for r in c] for c in chains] + [[f"u{i}" for i in range(18)]]
    )
    assert set(_statuses(responses).values()) == {200}


def test_an_envelope_mixing_a_chain_and_a_read_is_what_the_scripted_graph_refuses():
    """The scripted Graph of these tests refuses a mixed envelope as Graph does, so the packing tests can fail."""
    items: list[dict[str, object]] = [
        {"id": "a", "method": "GET", "url": "/x", "headers": {}},
        {"id": "b", "method": "GET", "url": "/y", "headers": {}, "dependsOn": ["a"]},
        {"id": "c", "method": "GET", "url": "/z", "headers": {}},
    ]

    assert _refusal(items) == "Batch should be either fully sequential or fully parallel"
    assert _refusal(items[:2]) is None
    assert _refusal([{**items[0], "method": "POST"}]) == "request a: a write needs a body"


def test_beta_requests_go_in_their_own_envelopes():
    """v1.0 and beta requests never share an envelope; each goes to its version's $batch."""
    setup = _setup(_Graph())

    setup.sender.send([_get("a"), _get("b", api="beta"), _get("c"), _get("d", api="beta")])

    by_path = {path: sorted(str(i["id"]) for i in items) for path, items in setup.graph.envelopes}
    assert by_path == {"/v1.0/$batch": ["a", "c"], "/beta/$batch": ["b", "d"]}


def test_inner_requests_carry_their_own_client_request_id_content_type_and_depends_on():
    """Each item has a fresh client-request-id; a body brings Content-Type; dependsOn is passed on."""
    setup = _setup(_Graph())

    setup.sender.send([_post("m"), _post("alt", depends_on=("m",)), _get("r")])

    items = {item["id"]: item for _, envelope in setup.graph.envelopes for item in envelope}
    ids = {item["headers"]["client-request-id"] for item in items.values()}  # type: ignore[index]
    assert len(ids) == 3
    assert items["m"]["headers"]["Content-Type"] == "application/json"  # type: ignore[index]
    assert "Content-Type" not in items["r"]["headers"]  # type: ignore[operator]
    assert (items["alt"]["dependsOn"], items["m"]["body"]["phoneType"]) == (["m"], "mobile")  # type: ignore[index]


def test_a_post_action_without_a_payload_carries_an_empty_body_and_its_content_type():
    """enableSmsSignIn has no payload; in a $batch it still needs ``"body": {}`` and Content-Type."""
    setup = _setup(_Graph())
    url = "/users/ann%40contoso.test/authentication/phoneMethods/3179e48a-750b-4051-897c-87b9720928f7/enableSmsSignIn"

    responses = setup.sender.send([BatchRequest("s", "POST", url, is_write=True)])

    (item,) = setup.graph.envelopes[0][1]
    assert (item["body"], item["headers"]["Content-Type"]) == ({}, "application/json")  # type: ignore[index]
    assert responses["s"].status == 200


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        pytest.param(_chain("x", 21), "chain of 21", id="chain-over-20"),
        pytest.param([_get("a"), _get("b", api="beta", depends_on=("a",))], "same api", id="mixed-apis"),
        pytest.param([_get("a"), _get("A")], "unique", id="duplicate-ids"),
        pytest.param([_get("a", depends_on=("ghost",))], "not in this call", id="unknown-dependency"),
        pytest.param([_get("a", depends_on=("b",)), _get("b", depends_on=("a",))], "cycle", id="cycle"),
        pytest.param(
            [_get("a"), _get("b", depends_on=("a",)), _get("c", depends_on=("a",))], "linear", id="fan-out"
        ),
        pytest.param([_get("a"), _get("b"), _get("c", depends_on=("a", "b"))], "linear", id="fan-in"),
    ],
)
def test_requests_that_cannot_be_batched_raise_value_error(requests, message):
    """Chains over 20, chains across APIs, duplicate or unknown ids, cycles and dependencies that are not
    one linear chain (Graph takes only fully sequential envelopes) are caller bugs."""
    setup = _setup(_Graph())

    with pytest.raises(ValueError, match=message):
        setup.sender.send(requests)

    assert setup.graph.envelopes == []


# --- answers -------------------------------------------------------------------------------------


def test_answers_are_correlated_by_id_when_graph_reorders_them():
    """Shuffled answers still reach their requests: body, status and request-id per id."""
    setup = _setup(_Graph())

    responses = setup.sender.send([_get(f"u{i}") for i in range(20)])

    assert [(key, r.body, r.request_id) for key, r in responses.items()] == [
        (f"u{i}", {"echo": f"u{i}"}, f"req-u{i}") for i in range(20)
    ]


def test_throttled_items_are_resent_after_the_longest_retry_after():
    """a (429, 2 s) and c (429, 3.5 s) in one parallel envelope: both go again after 3.5 s, d does not."""
    setup = _setup(_Graph(_throttle_once({"a": "2", "c": "3.5"})))

    responses = setup.sender.send([_patch("a"), _get("c"), _get("d")])

    assert _statuses(responses) == {"a": 200, "c": 200, "d": 200}
    assert setup.clock.slept == [3.5]
    assert sorted(setup.graph.ids()[1]) == ["a", "c"]


def test_a_throttled_head_of_a_chain_is_resent_with_its_424_dependents():
    """a (429) fails its dependent b (424): the chain a, b goes again whole, in order, b still on a."""
    setup = _setup(_Graph(_throttle_once({"a": "2"})))

    responses = setup.sender.send([_patch("a"), _patch("b", ("a",))])

    assert _statuses(responses) == {"a": 200, "b": 200}
    assert (setup.clock.slept, setup.graph.ids()) == ([2.0], [["a", "b"], ["a", "b"]])
    assert setup.graph.envelopes[1][1][1]["dependsOn"] == ["a"]


def test_a_dependent_resent_alone_drops_its_settled_dependency():
    """a succeeds, b (depends on a) is throttled: b goes again without dependsOn, as a is done."""
    setup = _setup(_Graph(_throttle_once({"b": "1"})))

    responses = setup.sender.send([_post("a"), _post("b", ("a",))])

    assert _statuses(responses) == {"a": 200, "b": 200}
    assert setup.graph.envelopes[1][1] == [{**setup.graph.envelopes[1][1][0], "id": "b"}]
    assert "dependsOn" not in setup.graph.envelopes[1][1][0]


def test_retry_after_as_an_http_date_is_tolerated():
    """An HTTP-date Retry-After in the past means no wait, and the item is still re-sent."""
    setup = _setup(_Graph(_throttle_once({"a": "Wed, 21 Oct 2015 07:28:00 GMT"})))

    responses = setup.sender.send([_get("a")])

    assert (_statuses(responses), setup.clock.slept) == ({"a": 200}, [0.0])


def test_a_post_answered_500_is_returned_not_retried():
    """A POST's 500 may have applied it: returned as is for the caller to re-read; its dependent gets 424."""
    setup = _setup(_Graph(lambda item, n: (500, {}, None) if item["id"] == "p" else _ok(item, n)))

    responses = setup.sender.send([_post("p"), _patch("q", ("p",))])

    assert (_statuses(responses), setup.clock.slept, len(setup.graph.envelopes)) == (
        {"p": 500, "q": 424},
        [],
        1,
    )


def test_a_get_answered_500_is_retried_with_backoff():
    """A GET's 500 is safe to repeat: sent again after a jittered 1-2 s backoff."""
    setup = _setup(_Graph(lambda item, n: (500, {}, None) if n == 0 else _ok(item, n)))

    responses = setup.sender.send([_get("g")])

    assert _statuses(responses) == {"g": 200}
    assert [1.0 <= s <= 2.0 for s in setup.clock.slept] == [True]


def test_a_post_answered_503_is_retried():
    """503 means not processed: even a POST goes again, after its Retry-After."""
    busy: Reply = (503, {"Retry-After": "4"}, None)
    setup = _setup(_Graph(lambda item, n: busy if n == 0 else _ok(item, n)))

    responses = setup.sender.send([_post("p")])

    assert (_statuses(responses), setup.clock.slept) == ({"p": 200}, [4.0])


def test_attempts_are_bounded_and_the_last_answer_is_returned():
    """Always throttled with max_attempts=3: three envelopes, two waits, and the final 429 with its body."""
    throttled: Reply = (429, {"Retry-After": "1"}, {"error": {"code": "TooManyRequests"}})
    setup = _setup(_Graph(lambda item, n: throttled), attempts=3)

    responses = setup.sender.send([_get("a")])

    assert (responses["a"].status, responses["a"].body) == (429, {"error": {"code": "TooManyRequests"}})
    assert (len(setup.graph.envelopes), setup.clock.slept) == (3, [1.0, 1.0])
    assert setup.sender.requests_sent == 3


# --- envelope failures ---------------------------------------------------------------------------


def test_an_envelope_that_could_not_connect_is_retried_whole():
    """A connect error means nothing was sent: every item, POSTs included, goes again."""
    setup = _setup(_Graph(envelope=[httpx.ConnectError]))

    responses = setup.sender.send([_post("p"), _get("g")])

    assert _statuses(responses) == {"p": 200, "g": 200}
    assert [sorted(ids) for ids in setup.graph.ids()] == [["g", "p"], ["g", "p"]]
    assert [1.0 <= s <= 2.0 for s in setup.clock.slept] == [True]


def test_a_throttled_envelope_is_retried_after_its_retry_after_and_pauses_the_pacer():
    """A 429 on the envelope itself: everything goes again after Retry-After, then at the cut rate."""
    setup = _setup(_Graph(envelope=[httpx.Response(429, headers={"Retry-After": "6"})]), write_rate=20.0)

    responses = setup.sender.send([_post("p"), _get("g")])

    assert _statuses(responses) == {"p": 200, "g": 200}
    fill = 20 - 20 / 150  # the bucket starts empty and refills at this rate
    assert setup.clock.slept == pytest.approx([1 / fill, 6.0, 1 / (0.7 * fill)])  # then one write at 70%
    assert setup.pacer.current_write_rate == pytest.approx(14.0)


def test_an_envelope_lost_on_the_way_back_resends_reads_but_not_posts():
    """A read timeout: the GET goes again; the POST, perhaps applied, is status 0 and its dependent 424."""
    setup = _setup(_Graph(envelope=[httpx.ReadTimeout]))

    responses = setup.sender.send([_post("p"), _get("g")])

    assert _statuses(responses) == {"p": 0, "g": 200}
    assert setup.graph.ids()[1] == ["g"]


def test_a_chain_lost_on_the_way_back_is_not_resent():
    """A read timeout on a chain: the POST's fate is unknown (status 0), its dependent is 424."""
    setup = _setup(_Graph(envelope=[httpx.ReadTimeout]))

    responses = setup.sender.send([_post("p"), _patch("q", ("p",))])

    assert (_statuses(responses), len(setup.graph.envelopes)) == ({"p": 0, "q": 424}, 1)


def test_an_envelope_that_never_answers_gives_status_0_after_the_budget():
    """Connect errors every time: after max_attempts the items are status 0 (never answered)."""
    setup = _setup(_Graph(envelope=[httpx.ConnectError] * 3), attempts=3)

    responses = setup.sender.send([_get("g")])

    assert (_statuses(responses), len(setup.graph.envelopes)) == ({"g": 0}, 3)


def test_an_envelope_rejected_with_400_is_returned_for_every_item():
    """A 400 on the envelope is not retried; each item carries its status and error body."""
    rejected = httpx.Response(400, json={"error": {"code": "BadRequest"}}, headers={"request-id": "env"})
    setup = _setup(_Graph(envelope=[rejected]))

    responses = setup.sender.send([_get("a"), _get("b")])

    assert [(r.status, r.request_id, r.body) for r in responses.values()] == [
        (400, "env", {"error": {"code": "BadRequest"}})
    ] * 2


# --- pacing and concurrency ----------------------------------------------------------------------


def test_each_envelope_waits_for_its_writes_in_the_budget():
    """40 writes at 10 writes/s (bucket of 20, starting empty): the two envelopes need 40 / (10 - 20/150) s."""
    setup = _setup(_Graph(), write_rate=10.0, concurrency=1)
    start = setup.clock.now

    setup.sender.send([_patch(f"w{i}") for i in range(40)])

    assert setup.clock.now - start == pytest.approx(40 / (10 - 20 / 150))


def test_limit_percentages_and_inner_429s_reach_the_pacer():
    """Inner x-ms-throttle-limit-percentage 1.1 slows the pacer by 10%; an inner 429 cuts it by 30%."""

    def rule(item, n):
        if item["id"] == "t":
            return (429, {"Retry-After": "1"}, None) if n == 0 else (200, {}, None)
        return 200, {"x-ms-throttle-limit-percentage": "1.1"}, None

    setup = _setup(_Graph(rule), write_rate=20.0)

    setup.sender.send([_get("a"), _get("t")])

    assert setup.pacer.current_write_rate == pytest.approx(20.0 * 0.9 * 0.7)


def test_several_envelopes_of_one_call_are_in_flight_at_once():
    """Four envelopes meet at a barrier inside the transport: they were sent concurrently."""
    graph = _Graph(barrier=threading.Barrier(4, timeout=5))
    setup = _setup(graph, concurrency=4)

    responses = setup.sender.send([_get(f"u{i}") for i in range(80)])

    assert (len(graph.envelopes), set(_statuses(responses).values())) == (4, {200})


def test_build_graph_stack_shares_one_client_and_pacer():
    """The stack's sender and single-request client use one transport and one pacer from settings."""

    class _Tokens:
        def token(self) -> str:
            return "t"

    graph = _Graph()
    env = {
        "PROVISIONING_TENANT_ID": "contoso.onmicrosoft.com",
        "PROVISIONING_CLIENT_ID": "0f0e0d0c-0b0a-4908-8706-050403020100",
        "PROVISIONING_CLIENT_SECRET": "s",
        "PROVISIONING_GRAPH_URL": ROOT,
        "PROVISIONING_INSTANCES": "4",
    }
    settings = Settings.from_env(env)

    with build_graph_stack(settings, transport=httpx.MockTransport(graph), tokens=_Tokens()) as stack:
        responses = stack.batch.send([_get("a")])

    assert (_statuses(responses), stack.pacer.current_write_rate) == ({"a": 200}, 5.0 * (1 - ARRIVAL_MARGIN))


def test_envelopes_take_turns_over_the_senders_connection_pools():
    """Given several pools, the sender spreads its envelopes over all of them, evenly."""
    graphs = [_Graph(), _Graph(), _Graph()]
    clock = FakeClock()
    pools = [httpx.Client(transport=httpx.MockTransport(graph)) for graph in graphs]
    sender = BatchSender(pools, graph_root=ROOT, pacer=Pacer(write_rate=None, clock=clock, sleep=clock.sleep))

    for n in range(4):
        sender.send([_get(f"u{n}-{i}") for i in range(20)])  # each send: 4 envelopes of 5

    assert [len(graph.envelopes) for graph in graphs] in ([6, 5, 5], [5, 6, 5], [5, 5, 6])
