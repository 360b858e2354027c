"""``python -m tests.contract.check FILE``: judge a sandbox traffic recording against Graph's contract.

The recording (``tests/sandbox/recorder.py``, one JSON line per Graph request) holds every request our
own client sent in a demo, a soak or a test session. Each request the product sent (its user agent is
``entra-auth-provisioning/...``) is checked against:

- the ``$batch`` rules (graph-api.md 6): at most 20 requests, unique ids, fully parallel (no
  ``dependsOn``) or one sequential chain (the first request has none, every later one depends on
  exactly the one before it), ``dependsOn`` naming only earlier requests, a write carrying a body and a
  ``Content-Type``, relative URLs without a version prefix, no nested ``$batch``;
- headers: a body comes with ``Content-Type: application/json``; a bearer token on every call;
- Microsoft's SDK models (``tests/contract/sdk_models.py``): request and response bodies, inner batch
  bodies included, use only property names and enum values the official ``msgraph-sdk`` knows.

Requests from other agents (the SDK contract tests, the sandbox's own tests that send broken envelopes
on purpose, the conformance kit's deliberate refusals) are counted, not judged, and so is any request
recorded while a test under ``tests/sandbox_tests/`` or ``tests/contract/`` ran. A product request
with a foreign user agent outside those tests is itself a violation: nothing the product sends escapes
the check by leaving out its user agent.

Exit status: 0 when there are no violations and at least one product request (``--allow-empty`` lets
an empty recording pass), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRODUCT_AGENT = "entra-auth-provisioning/"
MAX_BATCH = 20
WRITES = frozenset({"POST", "PATCH", "PUT"})
# Tests whose traffic is deliberately off-contract or not the product's (see the module docstring).
EXEMPT_TESTS = ("tests/sandbox_tests/", "tests/contract/")
_EXAMPLES = 3  # example locations kept per distinct violation


@dataclass
class Report:
    """What a recording held and every distinct violation found in it (with where it was seen)."""

    requests: int = 0  # product requests judged (an envelope counts once)
    envelopes: int = 0
    inner: int = 0  # requests inside those envelopes
    parallel: int = 0
    sequential: int = 0
    exempt: int = 0  # records not judged (other agents, exempt tests)
    violations: Counter[str] = field(default_factory=Counter)
    where: dict[str, list[str]] = field(default_factory=dict)

    @property
    def violation_count(self) -> int:
        return sum(self.violations.values())

    def add(self, problem: str, location: str) -> None:
        self.violations[problem] += 1
        seen = self.where.setdefault(problem, [])
        if len(seen) < _EXAMPLES:
            seen.append(location)

    def summary(self) -> str:
        return (
            f"Graph contract: {self.requests} requests, {self.envelopes} envelopes ({self.inner} inner "
            f"requests: {self.parallel} parallel, {self.sequential} sequential), "
            f"{self.violation_count} violations ({self.exempt} other-agent records not judged)"
        )

    def details(self) -> Iterator[str]:
        for problem, count in self.violations.most_common():
            yield f"  {count} x {problem}"
            for location in self.where[problem]:
                yield f"      at {location}"


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a recording; a line that is not JSON is reported as a record that breaks."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                yield {"_unreadable": f"{path}:{number}"}


def check_records(records: Iterable[dict[str, Any]]) -> Report:
    """Judge every record (see the module docstring)."""
    report = Report()
    for record in records:
        if "_unreadable" in record:
            report.add("recording line is not JSON", record["_unreadable"])
            continue
        test = record.get("test") or ""
        agent = record.get("user_agent") or ""
        if any(test.startswith(prefix) for prefix in EXEMPT_TESTS):
            report.exempt += 1
            continue
        if not agent.startswith(PRODUCT_AGENT):
            report.add(f"request without the product's user agent (got {agent or 'none'!r})", _at(record))
            continue
        _check_request(record, report)
    return report


def check_file(path: Path) -> Report:
    return check_records(read_records(path))


def _at(record: dict[str, Any]) -> str:
    where = f"{record.get('method')} {record.get('path')} -> {record.get('status')}"
    return f"{where} [{record['test']}]" if record.get("test") else where


def _check_request(record: dict[str, Any], report: Report) -> None:
    from tests.contract import sdk_models  # the SDK is large: imported only when there is work

    report.requests += 1
    at = _at(record)
    method = str(record.get("method", "")).upper()
    version = str(record.get("version", ""))
    path = _rest(str(record.get("path", "")), version)
    headers = {str(k).lower(): str(v) for k, v in (record.get("headers") or {}).items()}
    if not record.get("authorized"):
        report.add("request without a bearer token", at)
    has_body = record.get("body") is not None or bool(record.get("body_text"))
    if has_body and not headers.get("content-type", "").startswith("application/json"):
        report.add(f"{method} body without Content-Type: application/json", at)
    if path == "/$batch":
        _check_envelope(record, version, report, at)
        return
    if record.get("body_text"):
        report.add(f"{method} body is not JSON", at)
    if method in WRITES and record.get("body") is not None:
        for problem in sdk_models.request_problems(version, method, path, record["body"]):
            report.add(problem, at)
    if not record.get("dropped"):
        for problem in sdk_models.response_problems(
            version, method, path, record["status"], record.get("response")
        ):
            report.add(problem, at)


def _rest(path: str, version: str) -> str:
    """The path without its version prefix and query: ``/users/x/authentication/methods``."""
    path = path.partition("?")[0]
    prefix = f"/{version}"
    return path[len(prefix) :] if version and path.startswith(prefix) else path


def _check_envelope(record: dict[str, Any], version: str, report: Report, at: str) -> None:
    from tests.contract import sdk_models

    report.envelopes += 1
    body = record.get("body")
    items = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        report.add("$batch without a non-empty requests array", at)
        return
    report.inner += len(items)
    if len(items) > MAX_BATCH:
        report.add(f"$batch of {len(items)} requests (Graph takes at most {MAX_BATCH})", at)
    for problem in shape_problems(items):
        report.add(problem, at)
    if any(isinstance(i, dict) and i.get("dependsOn") for i in items):
        report.sequential += len(items)
    else:
        report.parallel += len(items)
    answers = _answers(record.get("response"))
    for item in items:
        if not isinstance(item, dict):
            continue
        method = str(item.get("method", "")).upper()
        url = str(item.get("url", ""))
        path = "/" + url.partition("?")[0].lstrip("/")
        for problem in item_problems(item):
            report.add(problem, at)
        if method in WRITES and item.get("body") is not None:
            for problem in sdk_models.request_problems(version, method, path, item["body"]):
                report.add(f"in $batch: {problem}", at)
        answer = answers.get(str(item.get("id")).lower())
        if answer is not None and not record.get("dropped"):
            status = int(answer.get("status", 0))
            for problem in sdk_models.response_problems(version, method, path, status, answer.get("body")):
                report.add(f"in $batch: {problem}", at)


def shape_problems(items: list[Any]) -> list[str]:
    """The envelope-level breaches: duplicate ids, dependencies not earlier, a mixed envelope."""
    problems: list[str] = []
    ids = [str(i.get("id", "")).lower() for i in items if isinstance(i, dict)]
    if len(set(ids)) != len(ids) or "" in ids:
        problems.append("$batch request ids are missing or not unique")
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            problems.append("$batch request that is not an object")
            continue
        for dep in _depends(item):
            if dep.lower() not in seen:
                problems.append("$batch dependsOn names a request that is not earlier in the array")
                break
        seen.add(str(item.get("id", "")).lower())
    dependencies = [_depends(i) if isinstance(i, dict) else [] for i in items]
    if any(dependencies) and not _one_chain(items, dependencies):
        problems.append("mixed $batch envelope: neither fully parallel nor one sequential chain")
    return problems


def _one_chain(items: list[Any], dependencies: list[list[str]]) -> bool:
    if dependencies[0]:
        return False
    for previous, deps in zip(items, dependencies[1:], strict=False):
        if [d.lower() for d in deps] != [str(previous.get("id", "")).lower()]:
            return False
    return True


def item_problems(item: dict[str, Any]) -> list[str]:
    """One batched request's own breaches: URL form, a write without body or Content-Type."""
    problems: list[str] = []
    method = str(item.get("method", "")).upper()
    url = str(item.get("url", ""))
    if not url.startswith("/") or url.lower().startswith(("/v1.0/", "/beta/", "/https:")) or "://" in url:
        problems.append(f"$batch {method} url is not relative to the version root: {url.split('?')[0]!r}")
    if url.lstrip("/").partition("?")[0].lower() == "$batch":
        problems.append("nested $batch")
    raw = item.get("headers")
    headers: dict[str, Any] = raw if isinstance(raw, dict) else {}
    content_type = next((str(v) for k, v in headers.items() if str(k).lower() == "content-type"), "")
    if method in WRITES and item.get("body") is None:
        problems.append(f"$batch {method} without a body (Graph wants one, {{}} at least)")
    if item.get("body") is not None and not content_type.startswith("application/json"):
        problems.append(f"$batch {method} body without Content-Type: application/json")
    return problems


def _depends(item: dict[str, Any]) -> list[str]:
    deps = item.get("dependsOn")
    return [str(d) for d in deps] if isinstance(deps, list) else []


def _answers(response: Any) -> dict[str, dict[str, Any]]:
    items = response.get("responses") if isinstance(response, dict) else None
    return {str(r.get("id")).lower(): r for r in items or [] if isinstance(r, dict)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.contract.check", description=__doc__.split("\n")[0]
    )
    parser.add_argument("recording", type=Path, help="the GRAPH_SANDBOX_RECORD file (JSON lines)")
    parser.add_argument("--allow-empty", action="store_true", help="pass a recording with no product request")
    parser.add_argument("--json", type=Path, help="also write the report as JSON to this file")
    args = parser.parse_args(argv)
    if not args.recording.is_file():
        print(f"{args.recording}: no such recording (was GRAPH_SANDBOX_RECORD set?)", file=sys.stderr)
        return 1
    report = check_file(args.recording)
    print(report.summary())
    for line in report.details():
        print(line)
    if args.json:
        args.json.write_text(json.dumps(as_json(report), indent=2) + "\n", encoding="utf-8")
    if report.requests == 0 and not args.allow_empty:
        print(f"{args.recording}: no request from the product was recorded", file=sys.stderr)
        return 1
    return 1 if report.violation_count else 0


def as_json(report: Report) -> dict[str, Any]:
    return {
        "requests": report.requests,
        "envelopes": report.envelopes,
        "inner_requests": report.inner,
        "parallel_inner": report.parallel,
        "sequential_inner": report.sequential,
        "not_judged": report.exempt,
        "violations": report.violation_count,
        "distinct_violations": [
            {"problem": p, "count": c, "examples": report.where[p]}
            for p, c in report.violations.most_common()
        ],
    }


if __name__ == "__main__":
    raise SystemExit(main())
