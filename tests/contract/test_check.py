"""The recording checker (tests/contract/check.py) finds each breach it is there for, on synthetic records
shaped as tests/sandbox/recorder.py writes them, and passes the envelopes our client really sends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.contract import check

UPN = "ann.de.vries@contoso.test"
PHONES = f"/users/{UPN}/authentication/phoneMethods"
MOBILE_ID = "3179e48a-750b-4051-897c-87b9720928f7"
AGENT = "entra-auth-provisioning/0.1"


def _record(method: str, path: str, *, body: Any = None, status: int = 200, response: Any = None,
            agent: str | None = AGENT, test: str | None = None, headers: dict[str, str] | None = None,
            version: str = "v1.0") -> dict[str, Any]:  # fmt: skip
    sent = {"user-agent": agent} if agent else {}
    if body is not None:
        sent["content-type"] = "application/json"
    return {
        "v": 1, "method": method, "path": f"/{version}{path}", "version": version, "query": {},
        "headers": sent | (headers or {}), "user_agent": agent, "authorized": True, "status": status,
        "dropped": False, "body": body, "response": response, "test": test,
    }  # fmt: skip


def _write(item_id: str, *, depends: list[str] | None = None, body: Any = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": item_id,
        "method": "POST",
        "url": f"/users/u{item_id}@contoso.test/authentication/phoneMethods",
        "headers": {"Content-Type": "application/json"},
        "body": body if body is not None else {"phoneNumber": "+31 6 12345678", "phoneType": "mobile"},
    }
    if depends:
        item["dependsOn"] = depends
    return item


def _phone(phone_type: str = "mobile", **extra: Any) -> dict[str, Any]:
    return {
        "id": MOBILE_ID,
        "phoneNumber": "+31 612345678",
        "phoneType": phone_type,
        "smsSignInState": "notSupported",
    } | extra


def _batch(items: list[dict[str, Any]]) -> dict[str, Any]:
    responses = [{"id": i["id"], "status": 201, "headers": {}, "body": _phone()} for i in items]
    return _record("POST", "/$batch", body={"requests": items}, response={"responses": responses})


def _problems(*records: dict[str, Any]) -> list[str]:
    return list(check.check_records(records).violations)


def test_parallel_and_sequential_envelopes_as_our_client_sends_them_pass() -> None:
    parallel = _batch([_write(str(n)) for n in range(1, 21)])
    chain = _batch([_write("1"), _write("2", depends=["1"]), _write("3", depends=["2"])])
    report = check.check_records([parallel, chain])
    assert report.violation_count == 0, list(report.details())
    assert (report.envelopes, report.parallel, report.sequential) == (2, 20, 3)


def test_a_mixed_envelope_is_a_violation() -> None:
    # two users' chains in one envelope: Graph answers 400 "fully sequential or fully parallel"
    mixed = _batch([_write("1"), _write("2", depends=["1"]), _write("3"), _write("4", depends=["3"])])
    assert _problems(mixed) == ["mixed $batch envelope: neither fully parallel nor one sequential chain"]


def test_a_forward_dependency_is_a_violation() -> None:
    forward = _batch([_write("1", depends=["2"]), _write("2")])
    assert "$batch dependsOn names a request that is not earlier in the array" in _problems(forward)


def test_a_batched_post_without_body_or_content_type_is_a_violation() -> None:
    action = {"id": "1", "method": "POST", "url": f"{PHONES}/{MOBILE_ID}/enableSmsSignIn"}
    assert _problems(_batch([action])) == ["$batch POST without a body (Graph wants one, {} at least)"]
    typeless = _write("1") | {"headers": {}}
    assert _problems(_batch([typeless])) == ["$batch POST body without Content-Type: application/json"]


def test_envelope_size_ids_and_urls() -> None:
    assert "$batch of 21 requests (Graph takes at most 20)" in _problems(
        _batch([_write(str(n)) for n in range(21)])
    )
    assert "$batch request ids are missing or not unique" in _problems(_batch([_write("1"), _write("1")]))
    absolute = _write("1") | {"url": f"/v1.0{PHONES}"}
    assert any("not relative to the version root" in p for p in _problems(_batch([absolute])))


def test_product_requests_must_name_the_product_and_carry_a_token() -> None:
    bare = _record("GET", PHONES, response={"value": []}, agent="python-httpx/0.28.1")
    assert _problems(bare) == ["request without the product's user agent (got 'python-httpx/0.28.1')"]
    anonymous = _record("GET", PHONES, response={"value": []}) | {"authorized": False}
    assert _problems(anonymous) == ["request without a bearer token"]


def test_deliberately_broken_traffic_of_the_sandbox_and_contract_tests_is_not_judged() -> None:
    mixed = _batch([_write("1"), _write("2", depends=["1"]), _write("3")])
    exempt = mixed | {
        "test": "tests/sandbox_tests/test_batch.py::test_mixed (call)",
        "user_agent": "python-httpx",
    }
    report = check.check_records([exempt])
    assert (report.violation_count, report.exempt, report.requests) == (0, 1, 0)
    judged = mixed | {"test": "tests/e2e/test_cli.py::test_apply (call)"}
    assert check.check_records([judged]).violation_count == 1


def test_bodies_are_judged_by_the_sdk_models_inside_and_outside_batches() -> None:
    good = _record("GET", PHONES, response={"value": [_phone()]})
    assert _problems(good) == []
    unknown = _record("GET", PHONES, response={"value": [_phone(phoneKind="cell")]})
    assert any("phoneKind" in p for p in _problems(unknown))
    enum = _record("POST", PHONES, body={"phoneNumber": "+31 6 12345678", "phoneType": "cell"}, status=201,
                   response=_phone())  # fmt: skip
    assert any("cell" in p for p in _problems(enum))
    inner = _batch(
        [_write("1", body={"phoneNumber": "+31 6 12345678", "phoneType": "mobile", "isDefault": True})]
    )
    assert any(p.startswith("in $batch:") and "isDefault" in p for p in _problems(inner))


def test_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recording = tmp_path / "traffic.jsonl"
    recording.write_text(json.dumps(_batch([_write("1")])) + "\n", encoding="utf-8")
    assert check.main([str(recording), "--json", str(tmp_path / "r.json")]) == 0
    assert (
        "Graph contract: 1 requests, 1 envelopes (1 inner requests: 1 parallel, 0 sequential), 0 violations"
        in (capsys.readouterr().out)
    )
    assert json.loads((tmp_path / "r.json").read_text())["violations"] == 0
    mixed = _batch([_write("1"), _write("2", depends=["1"]), _write("3")])
    recording.write_text(json.dumps(mixed) + "\n" + "not json\n", encoding="utf-8")
    assert check.main([str(recording)]) == 1
    out = capsys.readouterr().out
    assert "mixed $batch envelope" in out
    assert "recording line is not JSON" in out
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert check.main([str(empty)]) == 1
    assert check.main([str(empty), "--allow-empty"]) == 0
    assert check.main([str(tmp_path / "missing.jsonl")]) == 1
