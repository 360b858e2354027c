"""Worker event files -> chunk attempts, and kill attribution (between a Graph write and the outcome write)."""

from __future__ import annotations

from soak.events import Kill, attempts_of, attribute_kills, deliveries

USERS = {0: ["a@x.test"], 1: ["b@x.test"]}


def start(t: float, chunk: int, msg: str = "m", dequeue: int = 1) -> dict[str, object]:
    return {
        "t": t,
        "ev": "start",
        "fn": "chunk_worker",
        "job": "j",
        "chunks": [chunk],
        "msg": msg,
        "dequeue": dequeue,
    }


def write(t: float) -> dict[str, object]:
    return {"time": t, "kind": "mobile", "action": "add"}


def test_a_kill_after_a_write_and_before_the_outcome_write_is_counted():
    """The killed attempt's user was written after its start, and no outcomes were announced."""
    attempts = attempts_of("w1", [start(10.0, 0)])

    report = attribute_kills([Kill("w1", 1, 12.0, 0.5)], attempts, USERS, {"a@x.test": [write(11.0)]})

    assert report[0]["between_graph_write_and_outcome_write"] is True
    assert report[0]["chunks_between_write_and_outcome"] == [0]


def test_a_kill_before_any_write_or_after_the_outcome_write_is_not_counted():
    """No write in the window for chunk 1; chunk 0 had announced its outcome write already."""
    events = [
        start(10.0, 0, "m0"),
        start(10.0, 1, "m1"),
        {"t": 11.5, "ev": "outcomes", "job": "j", "chunk": 0},
    ]
    attempts = attempts_of("w1", events)

    report = attribute_kills([Kill("w1", 1, 12.0, 0.5)], attempts, USERS, {"a@x.test": [write(11.0)]})

    assert report[0]["chunks_in_flight"] == [0, 1]
    assert report[0]["between_graph_write_and_outcome_write"] is False


def test_a_write_by_another_live_attempt_of_the_chunk_is_not_attributed_to_the_kill():
    """Another worker had the same chunk in flight in the window: the write may be its own."""
    attempts = attempts_of("w1", [start(10.0, 0)]) + attempts_of("w2", [start(9.0, 0, "copy")])

    report = attribute_kills([Kill("w1", 1, 12.0, 0.5)], attempts, USERS, {"a@x.test": [write(11.0)]})

    assert report[0]["between_graph_write_and_outcome_write"] is False


def test_deliveries_count_redeliveries_and_killed_attempts():
    """Two starts of chunk 0 (one killed) and one of chunk 1: one chunk delivered twice."""
    first = attempts_of("w1", [start(1.0, 0)])
    second = attempts_of("w2", [start(5.0, 0, dequeue=2), start(5.0, 1, "m1"),
                                {"t": 6.0, "ev": "end", "fn": "chunk_worker", "chunk": 0, "msg": "m", "dequeue": 2, "ok": True},
                                {"t": 6.0, "ev": "end", "fn": "chunk_worker", "chunk": 1, "msg": "m1", "dequeue": 1, "ok": True}])  # fmt: skip

    counts = deliveries(first + second, poison_events=0)

    assert (counts["chunks_delivered_more_than_once"], counts["redeliveries"], counts["attempts_killed"]) == (
        1,
        1,
        1,
    )


def test_a_message_of_several_chunks_starts_and_ends_an_attempt_of_each():
    """One start event naming chunks 0 and 1 is two attempts; the message's end closes both."""
    events = [
        {**start(1.0, 0), "chunks": [0, 1]},
        {"t": 1.5, "ev": "outcomes", "job": "j", "chunk": 1},
        {"t": 2.0, "ev": "end", "fn": "chunk_worker", "msg": "m", "dequeue": 1, "ok": True},
    ]

    attempts = attempts_of("w1", events)

    assert [(a.chunk, a.outcomes_at, a.end, a.ok) for a in attempts] == [
        (0, None, 2.0, True),
        (1, 1.5, 2.0, True),
    ]
