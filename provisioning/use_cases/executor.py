"""A chunk of up to 20 rows over JSON ``$batch``: one call reads every user, writes go in rounds.

Calls per row: one read of all methods; the default-method read only where a delete or a default
change needs it; exactly the writes the plan needs; one read of the mobile after an SMS sign-in change.
Graph takes a ``$batch`` only fully parallel or as one sequential chain, so each round sends every
active user's next write side by side in parallel envelopes (20 users to an envelope), and a user's
later writes wait for the next rounds; a round with one user left sends that user's remaining writes
of one API version as one sequential ``dependsOn`` chain (the beta ``signInPreferences`` PATCH goes
in a ``/beta/$batch`` of its own). A POST whose answer
was lost (timeout, 500/502/504) is re-read before it is sent again. A write refused because its effect
is already there (a DELETE answered 404, an add answered 400/409) is re-read too: an earlier try whose
answer was lost, or another delivery of the same chunk, may have applied it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from provisioning.core.masking import mask_user
from provisioning.core.models import (
    CurrentMethods,
    DesiredRow,
    MethodKind,
    Operation,
    OperationResult,
    Outcome,
    OutcomeKind,
)
from provisioning.core.outcomes import (
    applied,
    describe_error,
    finish_outcome,
    not_read,
    planned_outcome,
    sms_applied,
)
from provisioning.core.planner import needs_default_method, plan
from provisioning.core.ports import Journal
from provisioning.graph.batch import BatchRequest, BatchResponse
from provisioning.graph.failures import READ_PERMISSION, Call, error_for_status, may_have_applied, unanswered
from provisioning.graph.methods import collection_items, methods_from_items, operation_call
from provisioning.graph.paths import GraphPaths

log = logging.getLogger(__name__)
MAX_POST_RETRIES = 2  # a lost POST is re-read and re-sent at most this often
UNANSWERED = (
    "Graph did not answer (timeout or dropped connection) on every try, and a re-read shows the change "
    "is not there: try the row again"
)
UNCONFIRMED = (
    "Graph did not answer (timeout or dropped connection), and the re-read to check failed too: "
    "check the user in the Entra admin center, then try the row again"
)
NO_ANSWER = "Graph did not answer (timeout or dropped connection); check the user and try the row again"


class BatchPort(Protocol):
    """What the executor needs of the ``$batch`` sender."""

    def send(self, requests: Sequence[BatchRequest]) -> Mapping[str, BatchResponse]: ...


@dataclass
class _Progress:
    """One row's writes as the rounds go."""

    row: DesiredRow
    operations: tuple[Operation, ...]
    results: list[OperationResult] = field(default_factory=list)
    retries: dict[int, int] = field(default_factory=dict)  # re-sends of a lost POST, by operation index
    stopped: bool = False

    @property
    def next_index(self) -> int:
        return len(self.results)

    @property
    def active(self) -> bool:
        return not self.stopped and self.next_index < len(self.operations)


class ChunkExecutor:
    """Reads and applies a chunk's rows through ``$batch``."""

    def __init__(self, sender: BatchPort, paths: GraphPaths, graph_root: str) -> None:
        self._sender = sender
        self._paths = paths
        self._root = graph_root.rstrip("/")

    # --- reads ------------------------------------------------------------------------------------

    def read(self, rows: Sequence[DesiredRow]) -> dict[int, CurrentMethods | Outcome]:
        """Each valid row's current methods (with the default where it matters), or its final outcome."""
        found = self.read_methods(rows)
        self._read_defaults([r for r in rows if r.valid], found)
        return found

    def read_methods(self, rows: Sequence[DesiredRow]) -> dict[int, CurrentMethods | Outcome]:
        """Each valid row's methods from one ``/authentication/methods`` read (no default), or its
        outcome: ``invalid``, or ``failed`` with the reason the read failed."""
        found: dict[int, CurrentMethods | Outcome] = {
            r.line: Outcome(r, OutcomeKind.INVALID, error="; ".join(r.errors)) for r in rows if not r.valid
        }
        valid = [r for r in rows if r.valid]
        answers = self._sender.send([self._get(f"m{r.line}", self._paths.methods(r.user)) for r in valid])
        for row in valid:
            answer = answers[f"m{row.line}"]
            if _ok(answer):
                found[row.line] = methods_from_items(row.user, collection_items(answer.body))
            else:
                found[row.line] = self._failed_read(row, answer, "read methods")
        return found

    def _read_defaults(self, rows: Sequence[DesiredRow], found: dict[int, CurrentMethods | Outcome]) -> None:
        wanted = [
            r for r in rows if isinstance(c := found[r.line], CurrentMethods) and needs_default_method(c, r)
        ]
        requests = [self._get(f"d{r.line}", self._paths.sign_in_preferences(r.user)) for r in wanted]
        answers = self._sender.send(requests) if requests else {}
        for row in wanted:
            current = found[row.line]
            answer = answers[f"d{row.line}"]
            assert isinstance(current, CurrentMethods)
            if _ok(answer) and isinstance(answer.body, Mapping):
                method = answer.body.get("userPreferredMethodForSecondaryAuthentication")
                system = answer.body.get("isSystemPreferredAuthenticationMethodEnabled")
                found[row.line] = replace(
                    current,
                    default_method=method if isinstance(method, str) else None,
                    default_known=True,
                    system_preferred=system if isinstance(system, bool) else None,
                )
            # Unread default: the planner then refuses to delete phones, and says why.

    def _failed_read(self, row: DesiredRow, answer: BatchResponse, what: str) -> Outcome:
        call = Call("GET", "", row.user, what, READ_PERMISSION)
        if answer.status == 0:
            return Outcome(row, OutcomeKind.FAILED, error=f"{what}: Graph did not answer; try the row again")
        error = error_for_status(call, answer.status, answer.headers, answer.body, None)
        ids = (answer.request_id,) if answer.request_id else ()
        return Outcome(row, OutcomeKind.FAILED, error=describe_error(error), request_ids=ids)

    # --- writes -----------------------------------------------------------------------------------

    def apply(
        self,
        rows: Sequence[DesiredRow],
        currents: Mapping[int, CurrentMethods | Outcome],
        *,
        dry_run: bool,
        journal: Journal | None = None,
    ) -> list[Outcome]:
        """Plan every row and apply the plans in rounds; one outcome per row, in row order.

        Unless *dry_run*, the *journal* keeps the users' methods before the first write; when it
        holds an earlier attempt's, each outcome describes the whole change since then.
        """
        readable = {r.line: (r, c) for r in rows if isinstance(c := currents[r.line], CurrentMethods)}
        if dry_run:
            return [
                planned_outcome(r, plan(readable[r.line][1], r), readable[r.line][1])
                if r.line in readable
                else not_read(r, currents)
                for r in rows
            ]
        read_now = {line: current for line, (_, current) in readable.items()}
        before = journal.keep(read_now) if journal is not None else read_now
        plans = {line: plan(current, row) for line, (row, current) in readable.items()}
        progress = {line: _Progress(readable[line][0], p.operations) for line, p in plans.items()}
        for _ in range(
            max((len(p.operations) for p in progress.values()), default=0) * (MAX_POST_RETRIES + 2)
        ):
            if not any(p.active for p in progress.values()):
                break
            self._round(progress)
        states = self._sms_states([p for p in progress.values() if sms_applied(p.results)])
        outcomes = [
            finish_outcome(
                row,
                plans[row.line],
                readable[row.line][1],
                progress[row.line].results,
                before=before.get(row.line),
                sms_state=states.get(row.line),
                sms_read=row.line in states,
            )
            if row.line in readable
            else not_read(row, currents)
            for row in rows
        ]
        for outcome in outcomes:
            log.info("line %d %s: %s", outcome.row.line, mask_user(outcome.row.user), outcome.kind)
        return outcomes

    def _round(self, progress: Mapping[int, _Progress]) -> None:
        active = [(line, p) for line, p in progress.items() if p.active]
        alone = len(active) == 1
        requests: list[BatchRequest] = []
        segments: dict[int, list[tuple[str, Operation]]] = {}
        for line, p in active:
            segment = self._segment(p, chain=alone)
            segments[line] = segment
            previous: str | None = None
            for request_id, op in segment:
                requests.append(self._write(request_id, op, depends_on=previous))
                previous = request_id
        answers = self._sender.send(requests)
        lost: list[tuple[_Progress, Operation, BatchResponse]] = []
        for line, segment in segments.items():
            p = progress[line]
            for request_id, op in segment:
                answer = answers[request_id]
                if _ok(answer):
                    p.results.append(OperationResult(op, ok=True, request_id=answer.request_id))
                    continue
                if may_have_applied(op, answer.status):
                    lost.append((p, op, answer))
                elif answer.status != 424:
                    p.results.append(
                        OperationResult(
                            op, ok=False, request_id=answer.request_id, error=self._error(op, answer)
                        )
                    )
                    p.stopped = True
                break
        if lost:
            self._settle(lost)

    def _segment(self, p: _Progress, *, chain: bool) -> list[tuple[str, Operation]]:
        """The row's next write; with *chain*, its next writes of one API version (at most 20)."""
        segment: list[tuple[str, Operation]] = []
        api = None
        for index in range(p.next_index, len(p.operations)):
            op = p.operations[index]
            op_api = self._api_of(op)
            if segment and (not chain or op_api != api or len(segment) == 20):
                break
            api = op_api
            segment.append((f"w{p.row.line}-{index}-{p.retries.get(index, 0)}", op))
        return segment

    def _settle(self, lost: Sequence[tuple[_Progress, Operation, BatchResponse]]) -> None:
        """Re-read users whose write may have applied: applied counts as done; else a lost POST is sent
        again (at most ``MAX_POST_RETRIES`` times) and a refused write fails with Graph's answer."""
        answers = self._sender.send(
            [self._get(f"r{p.row.line}", self._paths.methods(p.row.user)) for p, _, _ in lost]
        )
        for p, op, first in lost:
            answer = answers[f"r{p.row.line}"]
            now = methods_from_items(p.row.user, collection_items(answer.body)) if _listed(answer) else None
            if now is not None and applied(op, now):
                p.results.append(OperationResult(op, ok=True, request_id=first.request_id))
            elif (
                now is not None
                and unanswered(first.status)
                and (tries := p.retries.get(p.next_index, 0)) < MAX_POST_RETRIES
            ):
                p.retries[p.next_index] = tries + 1  # the next round sends it again
            else:
                if not unanswered(first.status):
                    error = self._error(op, first)
                else:
                    error = UNANSWERED if now is not None else UNCONFIRMED
                p.results.append(OperationResult(op, ok=False, request_id=first.request_id, error=error))
                p.stopped = True

    def _sms_states(self, rows: Sequence[_Progress]) -> dict[int, str | None]:
        requests = [
            self._get(f"s{p.row.line}", self._paths.phone_method(p.row.user, MethodKind.MOBILE)) for p in rows
        ]
        answers = self._sender.send(requests) if requests else {}
        states: dict[int, str | None] = {}
        for p in rows:
            answer = answers[f"s{p.row.line}"]
            state = (
                answer.body.get("smsSignInState")
                if _ok(answer) and isinstance(answer.body, Mapping)
                else None
            )
            states[p.row.line] = state if isinstance(state, str) else None
        return states

    # --- requests -----------------------------------------------------------------------------------

    def _relative(self, url: str) -> tuple[str, str]:
        for api in ("v1.0", "beta"):
            prefix = f"{self._root}/{api}"
            if url.startswith(prefix):
                return api, url[len(prefix) :]
        msg = f"not a Graph URL under {self._root}: {url}"
        raise ValueError(msg)

    def _get(self, request_id: str, url: str) -> BatchRequest:
        api, path = self._relative(url)
        return BatchRequest(request_id, "GET", path, api=api)  # type: ignore[arg-type]

    def _write(self, request_id: str, op: Operation, *, depends_on: str | None) -> BatchRequest:
        call = operation_call(self._paths, op, op.user)
        api, path = self._relative(call.url)
        return BatchRequest(
            request_id, call.method, path, api=api,  # type: ignore[arg-type]
            body=call.body, depends_on=(depends_on,) if depends_on else (), is_write=True,
        )  # fmt: skip

    def _api_of(self, op: Operation) -> str:
        return self._relative(operation_call(self._paths, op, op.user).url)[0]

    def _error(self, op: Operation, answer: BatchResponse) -> str:
        if answer.status == 0:
            return NO_ANSWER
        call = operation_call(self._paths, op, op.user)
        return describe_error(error_for_status(call, answer.status, answer.headers, answer.body, None))


def _ok(answer: BatchResponse) -> bool:
    return 200 <= answer.status < 300


def _listed(answer: BatchResponse) -> bool:
    """A methods read that answered with a list: a 200 without one tells nothing about the write."""
    body = answer.body
    return _ok(answer) and isinstance(body, Mapping) and isinstance(body.get("value"), list)
