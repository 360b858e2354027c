"""The conformance recording (pure): masked shapes of requests and answers, and the diff of two recordings.

A shape keeps keys and JSON types only; string values survive only under a few enum-valued keys, and only
when they are plain words (no digit, no ``@``), so no phone number, address or id can reach a recording.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

FORMAT = 1
# Keys whose values are Graph enum words, kept because they are what a tenant's answer is about.
ENUM_KEYS = frozenset({
    "@odata.type", "phoneType", "smsSignInState", "userPreferredMethodForSecondaryAuthentication",
    "systemPreferredAuthenticationMethod",
})  # fmt: skip
_WORD = re.compile(r"#?[A-Za-z][A-Za-z_.]{0,80}")
_SMALL_NUMBER = re.compile(r"\d{1,3}")


@dataclass(frozen=True)
class Exchange:
    """One answer as received: status (0 when no answer came), headers, parsed JSON body (or None)."""

    status: int
    headers: Mapping[str, str]
    body: object


@dataclass(frozen=True)
class Difference:
    """One fact of a step that the reference recording and this one disagree on."""

    step: str
    fact: str
    expected: object
    actual: object


def shape(value: object, key: str = "") -> object:
    """The masked shape of a JSON value: ``{"phoneNumber": "string", "phoneType": "string:mobile"}``.

    A list becomes the sorted distinct shapes of its elements, so counts and order do not matter.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return f"string:{value}" if key in ENUM_KEYS and _WORD.fullmatch(value) else "string"
    if isinstance(value, dict):
        return {str(k): shape(v, str(k)) for k, v in sorted(value.items())}
    if isinstance(value, list):
        distinct = {_canonical(shape(item)): shape(item) for item in value}
        return [distinct[k] for k in sorted(distinct)]
    return "unknown"


def error_of(body: object) -> dict[str, str | None] | None:
    """Graph's ``error.code`` and the ``innerError`` code (when Graph gives one), or None."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    inner = error.get("innerError", error.get("innererror"))
    inner_code = inner.get("code") if isinstance(inner, dict) else None
    return {"code": _word(error.get("code")), "innerError": _word(inner_code) if inner_code else None}


def headers_of(headers: Mapping[str, str]) -> dict[str, object]:
    """The headers that matter for conformance; values only where they cannot identify anything."""
    lower = {k.lower(): v for k, v in headers.items()}
    content_type = lower.get("content-type")
    units = lower.get("x-ms-resource-unit")
    return {
        "content-type": content_type.split(";")[0].strip().lower() if content_type else None,
        "retry-after": "retry-after" in lower,
        "x-ms-resource-unit": (units if _SMALL_NUMBER.fullmatch(units) else "present") if units else None,
        "x-ms-throttle": sorted(k for k in lower if k.startswith("x-ms-throttle-")),
    }


def answer_record(answer: Exchange) -> dict[str, object]:
    """Status, error codes, headers and body shape of one answer."""
    return {
        "status": answer.status,
        "error": error_of(answer.body),
        "headers": headers_of(answer.headers),
        "body": shape(answer.body),
    }


def step_record(
    name: str, method: str, template: str, body: object, expected: int, answer: Exchange
) -> dict[str, object]:
    """One recorded step; *body* None means the request had none."""
    request = {"method": method, "path": template, "body": None if body is None else shape(body)}
    return {"name": name, "expected_status": expected, "request": request, "response": answer_record(answer)}


def batch_record(
    name: str, items: list[dict[str, object]], expected: int, answer: Exchange
) -> dict[str, object]:
    """One recorded ``$batch``: the items sent (shapes), the envelope, and each item's answer by id."""
    response = answer_record(answer)
    body = answer.body if isinstance(answer.body, dict) else {}
    answers = body.get("responses")
    if isinstance(answers, list):
        response["body"] = shape({k: v for k, v in body.items() if k != "responses"})
        response["items"] = sorted((_item_record(a) for a in answers if isinstance(a, dict)), key=_item_key)
    request = {"method": "POST", "path": "/v1.0/$batch", "items": items}
    return {"name": name, "expected_status": expected, "request": request, "response": response}


def batch_item_shape(request: Mapping[str, object], template: str) -> dict[str, object]:
    """What is recorded of one request sent in a ``$batch``: its template, body shape, headers, order."""
    body = request.get("body")
    depends = request.get("dependsOn")
    return {
        "id": request.get("id"),
        "method": request.get("method"),
        "path": template,
        "body": None if body is None else shape(body),
        "content_type": "headers" in request,
        "depends_on": list(depends) if isinstance(depends, list) else [],
    }


def _item_record(answer: dict[str, object]) -> dict[str, object]:
    headers = answer.get("headers")
    given = {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}
    status = answer.get("status")
    return {
        "id": str(answer.get("id")),
        **answer_record(Exchange(status if isinstance(status, int) else 0, given, answer.get("body"))),
    }


def _item_key(item: dict[str, object]) -> str:
    return str(item["id"]).rjust(4)


def render_recording(recording: Mapping[str, object]) -> str:
    """The recording as stable JSON text (sorted keys, two-space indent, final newline)."""
    return json.dumps(recording, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def steps_of(recording: object) -> list[dict[str, object]]:
    """Preflight and scenario steps of a recording (restore steps depend on state and are not compared)."""
    if not isinstance(recording, dict):
        return []
    found = [*_objects(recording.get("preflight")), *_objects(recording.get("steps"))]
    return [step for step in found if isinstance(step.get("name"), str)]


def diff(reference: object, current: object) -> list[Difference]:
    """Every fact (status, error codes, header presence, body shape, batch items) that differs, by step."""
    ours = {str(s["name"]): _facts(s) for s in steps_of(current)}
    theirs = {str(s["name"]): _facts(s) for s in steps_of(reference)}
    found: list[Difference] = []
    for name in [*theirs, *(n for n in ours if n not in theirs)]:
        if name not in ours or name not in theirs:
            found.append(Difference(name, "step", name in theirs, name in ours))
            continue
        for fact in [*theirs[name], *(f for f in ours[name] if f not in theirs[name])]:
            expected, actual = theirs[name].get(fact), ours[name].get(fact)
            if _canonical(expected) != _canonical(actual):
                found.append(Difference(name, fact, expected, actual))
    return found


def unexpected_statuses(recording: object) -> list[Difference]:
    """Steps whose status is not the one graph-api.md leads us to expect (information, not a diff)."""
    found = []
    for step in steps_of(recording):
        status = _object(step.get("response")).get("status")
        if status != step.get("expected_status"):
            found.append(Difference(str(step["name"]), "status", step.get("expected_status"), status))
    return found


def render_diff_text(
    reference: str | None, compared: int, differences: Iterable[Difference], unexpected: Iterable[Difference]
) -> str:
    """diff.txt: one line per difference, then the steps answering otherwise than graph-api.md says."""
    differences, unexpected = list(differences), list(unexpected)
    if reference is None:
        lines = ["no reference recording: nothing compared"]
    else:
        lines = [f"reference: {reference}", f"{compared} steps compared, {len(differences)} differences"]
        lines += [
            f"  {d.step}: {d.fact}: reference {_canonical(d.expected)}, here {_canonical(d.actual)}"
            for d in differences
        ]
    lines.append(f"{len(unexpected)} steps answered otherwise than graph-api.md leads us to expect")
    lines += [f"  {d.step}: expected {d.expected}, got {d.actual}" for d in unexpected]
    return "\n".join(lines) + "\n"


def render_diff_json(
    reference: str | None, compared: int, differences: Iterable[Difference], unexpected: Iterable[Difference]
) -> str:
    """diff.json: the same as diff.txt, as data."""

    def rows(items: Iterable[Difference]) -> list[dict[str, object]]:
        return [{"step": d.step, "fact": d.fact, "expected": d.expected, "actual": d.actual} for d in items]

    document = {
        "reference": reference,
        "steps_compared": compared,
        "differences": rows(differences),
        "unexpected_statuses": rows(unexpected),
    }
    return render_recording(document)


def _facts(step: Mapping[str, object]) -> dict[str, object]:
    request, response = _object(step.get("request")), _object(step.get("response"))
    facts: dict[str, object] = {
        "request": f"{request.get('method')} {request.get('path')}",
        "status": response.get("status"),
        "error": response.get("error"),
        "headers": _presence(response.get("headers")),
        "body": response.get("body"),
    }
    for item in _objects(response.get("items")):
        label = f"item {item.get('id')}"
        facts[f"{label} status"] = item.get("status")
        facts[f"{label} error"] = item.get("error")
        facts[f"{label} headers"] = _presence(item.get("headers"))
        facts[f"{label} body"] = item.get("body")
    return facts


def _presence(headers: object) -> dict[str, object]:
    """Which headers came (values of Retry-After and resource units vary between runs)."""
    given = _object(headers)
    return {
        "content-type": given.get("content-type") is not None,
        "retry-after": bool(given.get("retry-after")),
        "x-ms-resource-unit": given.get("x-ms-resource-unit") is not None,
        "x-ms-throttle": given.get("x-ms-throttle") or [],
    }


def _word(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) and _WORD.fullmatch(value) else "unrecognised"


def _object(value: object) -> dict[str, object]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _objects(value: object) -> list[dict[str, object]]:
    return [_object(item) for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
