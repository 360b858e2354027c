"""``python -m provisioning conformance``: run the fixed scenario against one dedicated test user, restore
the user, and write a masked recording plus its diff against a reference recording.

Raw httpx with the product's own certificate token and no retry policy beyond waiting out a 429/503
(a 504 on reads): the point is to see Graph's answers as they are (docs/conformance.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import httpx

from provisioning.core.masking import mask_user
from provisioning.errors import ConfigurationError
from provisioning.graph.auth import TokenSource
from provisioning.graph.conformance import record, steps
from provisioning.graph.conformance.restore import Preflight, restore
from provisioning.graph.conformance.steps import BatchStep, Step
from provisioning.graph.paths import user_segment
from provisioning.graph.stack import build_http
from provisioning.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "entra-auth-provisioning-conformance/0.1"  # not the product's: tests/contract/check.py
REFERENCE = Path(__file__).resolve().parents[3] / "tests" / "contract" / "recordings" / "sandbox.json"
EXIT_OK, EXIT_NOT_RESTORED, EXIT_REFUSED = 0, 1, 2
_RETRIED = frozenset({429, 503})  # refused before any work was done
_ATTEMPTS = 4
_MAX_WAIT_S = 30.0
_MAX_PAGES = 50


class Probe:
    """Sends the scenario's calls for one user and records each answer (masked)."""

    def __init__(self, http: httpx.Client, graph_root: str, upn: str, sleep: Callable[[float], None]) -> None:
        self._http = http
        self._root = graph_root.rstrip("/")
        self._user = user_segment(upn)
        self._unknown = user_segment(f"{steps.UNKNOWN_USER_LOCAL}@{upn.rpartition('@')[2] or 'example.com'}")
        self._sleep = sleep

    def run(self, step: Step) -> tuple[dict[str, object], record.Exchange]:
        """Send one step; its record and the raw answer (which never leaves this process)."""
        path = steps.concrete(step.template, self._user, self._unknown, step.method_id)
        answer = self.send(step.method, f"{self._root}{path}", step.body)
        log.info("conformance %s: %s", step.name, answer.status)
        return record.step_record(
            step.name, step.method, step.template, step.body, step.expected, answer
        ), answer

    def run_batch(self, step: BatchStep) -> dict[str, object]:
        """Send one ``$batch`` envelope and record it."""
        sent = [steps.batch_request(item, self._user, self._unknown) for item in step.items]
        pairs = zip(sent, step.items, strict=True)
        shapes = [record.batch_item_shape(request, item.template) for request, item in pairs]
        answer = self.send("POST", f"{self._root}/v1.0/$batch", {"requests": sent})
        log.info("conformance %s: %s", step.name, answer.status)
        return record.batch_record(step.name, shapes, step.expected, answer)

    def send(self, method: str, url: str, body: object) -> record.Exchange:
        """One call, waiting out 429/503 (504 on a read) a few times; status 0 when no answer came."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                if body is None:
                    response = self._http.request(method, url)
                else:
                    response = self._http.request(method, url, json=body)
            except httpx.TransportError as exc:
                return record.Exchange(0, {}, {"error": {"code": type(exc).__name__}})
            # 504 may come after a write committed: only a read is sent again (POST is not idempotent).
            retry = response.status_code in _RETRIED or (response.status_code == 504 and method == "GET")
            if not retry or attempt == _ATTEMPTS:
                return record.Exchange(response.status_code, dict(response.headers), _json(response))
            self._sleep(_wait(response, attempt))
        raise AssertionError  # pragma: no cover - the loop returns

    def pages(self, first: record.Exchange) -> list[record.Exchange]:
        """*first* and the pages behind its ``@odata.nextLink`` (bounded)."""
        found = [first]
        while len(found) < _MAX_PAGES:
            body = found[-1].body
            link = body.get("@odata.nextLink") if isinstance(body, dict) else None
            if not isinstance(link, str) or not link.startswith(self._root):
                break
            found.append(self.send("GET", link, None))
        return found


@dataclass(frozen=True)
class Outcome:
    """What a run produced: the recording (None when preflight refused), restored, what to tell the admin."""

    recording: dict[str, object] | None
    restored: bool
    problem: str | None


def run_conformance(
    settings: Settings,
    upn: str,
    *,
    transport: httpx.BaseTransport | None = None,
    tokens: TokenSource | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Preflight (reads only), then the scenario, then restore in ``finally``; see docs/conformance.md."""
    http, close_tokens = build_http(
        settings, transport=transport, sleep=sleep, tokens=tokens, user_agent=USER_AGENT
    )
    try:
        probe = Probe(http, settings.graph_root, upn, sleep)
        preflight = _preflight(probe, mask_user(upn))
        if preflight.refusal is not None:
            return Outcome(None, restored=True, problem=preflight.refusal)
        recorded: list[dict[str, object]] = []
        try:
            for step in steps.scenario():
                recorded.append(probe.run_batch(step) if isinstance(step, BatchStep) else probe.run(step)[0])
        finally:
            restored_steps, problem = restore(probe, preflight)
        recording: dict[str, object] = {
            "format": record.FORMAT,
            "meta": {
                "kit": USER_AGENT,
                "graph_host": urlsplit(settings.graph_root).hostname,
                "recorded_at": _now(),
            },
            "preflight": preflight.records,
            "steps": recorded,
            "restore": {"restored": problem is None, "steps": restored_steps},
        }
        return Outcome(recording, restored=problem is None, problem=problem)
    finally:
        http.close()
        if close_tokens is not None:
            close_tokens()


def _preflight(probe: Probe, masked_user: str) -> Preflight:
    user_step, methods_step, member_step, prefs_step = steps.preflight_steps()
    records, answers = [], []
    for step in (user_step, methods_step, member_step, prefs_step):
        recorded, answer = probe.run(step)
        records.append(recorded)
        answers.append(answer)
        if step is user_step and answer.status != 200:
            break  # nothing more to learn about a user that cannot be read
    member_pages = probe.pages(answers[2]) if len(answers) > 2 else []
    return Preflight.read(records, answers, member_pages, masked_user)


def write_outputs(recording: dict[str, object], out_dir: Path, reference: Path | None) -> int:
    """recording.json, diff.txt and diff.json in *out_dir*; the number of differences."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "recording.json").write_text(record.render_recording(recording), encoding="utf-8")
    label, differences = None, []
    if reference is not None:
        label, differences = reference.name, record.diff(load_reference(reference), recording)
    compared = len(record.steps_of(recording))
    unexpected = record.unexpected_statuses(recording)
    (out_dir / "diff.txt").write_text(record.render_diff_text(label, compared, differences, unexpected))
    (out_dir / "diff.json").write_text(record.render_diff_json(label, compared, differences, unexpected))
    return len(differences)


def load_reference(path: Path) -> object:
    """A reference recording; ``ConfigurationError`` naming the file when it cannot be used."""
    try:
        document: object = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"cannot read the reference recording {path}: {exc}"
        raise ConfigurationError(msg) from exc
    if not record.steps_of(document):
        msg = f"{path} holds no conformance steps: is it a recording.json?"
        raise ConfigurationError(msg)
    return document


def run_command(
    settings: Settings,
    upn: str,
    out_dir: Path,
    reference: Path | None,
    write_to: Path | None,
    out: TextIO,
    err: TextIO,
) -> int:
    """The CLI's ``conformance`` command; returns its exit code."""
    reference = reference if reference is not None else (REFERENCE if REFERENCE.is_file() else None)
    if reference is not None:
        load_reference(reference)  # fail before any write, not after the scenario
    outcome = run_conformance(settings, upn)
    if outcome.recording is None:
        print(f"conformance refused: {outcome.problem}", file=err)
        return EXIT_REFUSED
    differences = write_outputs(outcome.recording, out_dir, reference)
    if write_to is not None:
        write_to.parent.mkdir(parents=True, exist_ok=True)
        write_to.write_text(record.render_recording(outcome.recording), encoding="utf-8")
    count = len(record.steps_of(outcome.recording))
    compared = f"{differences} differences" if reference is not None else "no reference recording"
    state = "user restored" if outcome.restored else "user NOT restored"
    print(f"conformance: {count} steps, {compared}, {state}", file=out)
    print(f"recording written to {out_dir}/", file=out)
    if outcome.problem is not None:
        print(f"restore failed: {outcome.problem}", file=err)
        return EXIT_NOT_RESTORED
    return EXIT_OK


def _json(response: httpx.Response) -> object:
    if not response.content:
        return None
    try:
        parsed: object = response.json()
    except ValueError:
        return "(not JSON)"
    return parsed


def _wait(response: httpx.Response, attempt: int) -> float:
    try:
        given = float(response.headers.get("Retry-After", ""))
    except ValueError:
        given = 2.0**attempt
    return min(max(given, 0.0), _MAX_WAIT_S)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
