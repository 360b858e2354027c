"""The chunk executor's writes over a scripted $batch port (no network): each write's request, and the
re-read that decides a write whose answer was lost or that failed in a way that may hide its effect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

import pytest

from provisioning.core.models import (
    METHOD_IDS,
    DefaultMethod,
    DesiredRow,
    MethodKind,
    Outcome,
    OutcomeKind,
    SmsSignIn,
)
from provisioning.graph.batch import BatchRequest, BatchResponse
from provisioning.graph.paths import GraphPaths
from provisioning.use_cases.executor import (
    MAX_POST_RETRIES,
    NO_ANSWER,
    UNANSWERED,
    UNCONFIRMED,
    ChunkExecutor,
)

ROOT = "https://graph.test"
UPN = "ann@contoso.test"
USER = f"/users/{UPN}"
PHONES = f"{USER}/authentication/phoneMethods"
EMAILS = f"{USER}/authentication/emailMethods"
METHODS = f"{USER}/authentication/methods"
MOBILE = f"{PHONES}/{METHOD_IDS[MethodKind.MOBILE]}"
PREFERENCES = f"{USER}/authentication/signInPreferences"
A = "+31 612345678"
B = "+31 201234567"
_KINDS = {
    METHOD_IDS[kind]: kind for kind in (MethodKind.MOBILE, MethodKind.ALTERNATE_MOBILE, MethodKind.OFFICE)
}


@dataclass(frozen=True)
class Answer:
    """A scripted answer to one write: its status, and whether Graph ran it all the same."""

    status: int
    applied: bool = False


@dataclass
class ScriptedGraph:
    """One user's methods behind a ``$batch`` port. Writes run and answer 2xx unless ``writes`` scripts
    answers for ``"METHOD path"`` (used up in turn); ``reads`` scripts the statuses of the
    ``/authentication/methods`` reads in turn (200 once used up). Like Graph, a request whose
    ``dependsOn`` failed is answered 424 and not run. Every send() is recorded."""

    phones: dict[MethodKind, str] = field(default_factory=dict)
    email: str | None = None
    sms: str = "notEnabled"
    default: str | None = "push"
    writes: dict[str, list[Answer]] = field(default_factory=dict)
    reads: list[int] = field(default_factory=list)
    sends: list[list[BatchRequest]] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)  # "METHOD path" of each write Graph ran

    def send(self, requests: Sequence[BatchRequest]) -> Mapping[str, BatchResponse]:
        self.sends.append(list(requests))
        answers: dict[str, BatchResponse] = {}
        for request in requests:
            if any(not 200 <= answers[d].status < 300 for d in request.depends_on):
                answers[request.id] = BatchResponse(
                    request.id, 424, {}, {"error": {"code": "FailedDependency"}}, None
                )
            elif request.method == "GET":
                answers[request.id] = self._get(request)
            else:
                answers[request.id] = self._write(request)
        return answers

    def _get(self, request: BatchRequest) -> BatchResponse:
        path = unquote(request.url)
        if path == METHODS:
            status = self.reads.pop(0) if self.reads else 200
            if status != 200:
                return BatchResponse(request.id, status, {}, {"error": {"code": "accessDenied"}}, "r-reread")
            return BatchResponse(request.id, 200, {}, {"value": self._items()}, "r-read")
        if path == MOBILE and MethodKind.MOBILE in self.phones:
            mobile: dict[str, object] = {
                "phoneType": "mobile",
                "phoneNumber": self.phones[MethodKind.MOBILE],
                "smsSignInState": self.sms,
            }
            return BatchResponse(request.id, 200, {}, mobile, "r-mobile")
        if path == PREFERENCES:
            prefs = {"userPreferredMethodForSecondaryAuthentication": self.default}
            return BatchResponse(request.id, 200, {}, prefs, "r-prefs")
        return BatchResponse(request.id, 404, {}, {"error": {"code": "itemNotFound"}}, "r-404")

    def _items(self) -> list[dict[str, object]]:
        items: list[dict[str, object]] = [
            {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "phoneType": kind.value,
             "phoneNumber": number, "smsSignInState": self.sms if kind is MethodKind.MOBILE else "notSupported"}
            for kind, number in self.phones.items()
        ]  # fmt: skip
        if self.email is not None:
            items.append(
                {"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "emailAddress": self.email}
            )
        return items

    def _write(self, request: BatchRequest) -> BatchResponse:
        key = f"{request.method} {unquote(request.url)}"
        script = self.writes.get(key)
        answer = script.pop(0) if script else Answer(204, applied=True)
        if answer.applied:
            self.ran.append(key)
            self._run(request)
        body = None if answer.status < 300 else {"error": {"code": "scripted", "message": "scripted failure"}}
        return BatchResponse(
            request.id, answer.status, {}, body, f"r-{answer.status}" if answer.status else None
        )

    def _run(self, request: BatchRequest) -> None:
        path, body = unquote(request.url), dict(request.body or {})
        last = path.rsplit("/", 1)[-1]
        if path == PHONES:
            self.phones[MethodKind(str(body["phoneType"]))] = str(body["phoneNumber"])
        elif path.startswith(PHONES) and last in _KINDS:
            if request.method == "DELETE":
                self.phones.pop(_KINDS[last])
            else:
                self.phones[_KINDS[last]] = str(body["phoneNumber"])
        elif path.startswith(EMAILS):
            self.email = None if request.method == "DELETE" else str(body["emailAddress"])
        elif last in ("enableSmsSignIn", "disableSmsSignIn"):
            self.sms = "ready" if last == "enableSmsSignIn" else "notEnabled"
        elif path == PREFERENCES:
            self.default = str(body["userPreferredMethodForSecondaryAuthentication"])

    def calls(self) -> list[list[str]]:
        """Per send(): ``"METHOD path"`` of each request."""
        return [[f"{r.method} {unquote(r.url)}" for r in requests] for requests in self.sends]

    def sent(self, key: str) -> int:
        """How often a write was sent (answered 424 or not)."""
        return sum(f"{r.method} {unquote(r.url)}" == key for requests in self.sends for r in requests)


def run(graph: ScriptedGraph, row: DesiredRow) -> Outcome:
    chunk = ChunkExecutor(graph, GraphPaths(ROOT), ROOT)
    return chunk.apply([row], chunk.read([row]), dry_run=False)[0]


# --- lost answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [0, 500, 502, 504])
def test_an_email_add_whose_answer_was_lost_is_confirmed_by_the_re_read_and_not_sent_again(
    status: int,
) -> None:
    """The email POST ran but its answer was lost (no answer, 500, 502 or 504): the methods re-read
    shows the address, so the add counts as done, keeps the lost answer's request id and is not sent again."""
    graph = ScriptedGraph(writes={f"POST {EMAILS}": [Answer(status, applied=True)]})

    outcome = run(graph, DesiredRow(2, UPN, {MethodKind.EMAIL: "ann@home.example"}))

    assert outcome.kind is OutcomeKind.CHANGED
    assert [r.ok for r in outcome.results] == [True]
    assert graph.calls() == [[f"GET {METHODS}"], [f"POST {EMAILS}"], [f"GET {METHODS}"]]
    assert outcome.request_ids == ((f"r-{status}",) if status else ())


def test_an_email_add_confirmed_whatever_the_case_graph_stores() -> None:
    """Graph may keep the address as it was first registered: ``Ann@Home.example`` is the same email."""

    @dataclass
    class Capitalising(ScriptedGraph):
        def _run(self, request: BatchRequest) -> None:
            super()._run(request)
            self.email = "Ann@Home.example"

    graph = Capitalising(writes={f"POST {EMAILS}": [Answer(0, applied=True)]})

    outcome = run(graph, DesiredRow(2, UPN, {MethodKind.EMAIL: "ann@home.example"}))

    assert outcome.kind is OutcomeKind.CHANGED
    assert graph.sent(f"POST {EMAILS}") == 1


@pytest.mark.parametrize(
    ("wanted", "before", "after"),
    [
        pytest.param(SmsSignIn.ENABLE, "notEnabled", "ready", id="enable"),
        pytest.param(SmsSignIn.DISABLE, "ready", "notEnabled", id="disable"),
    ],
)
def test_an_sms_sign_in_change_whose_answer_was_lost_is_confirmed_by_the_re_read(
    wanted: SmsSignIn, before: str, after: str
) -> None:
    """The action ran but its answer was lost: the methods re-read carries the mobile's smsSignInState,
    which shows the change, so it is not sent again; the mobile is then read for the report."""
    action = "enableSmsSignIn" if wanted is SmsSignIn.ENABLE else "disableSmsSignIn"
    graph = ScriptedGraph(
        phones={MethodKind.MOBILE: A},
        sms=before,
        writes={f"POST {MOBILE}/{action}": [Answer(0, applied=True)]},
    )

    outcome = run(graph, DesiredRow(2, UPN, {MethodKind.MOBILE: A}, sms_sign_in=wanted))

    assert outcome.kind is OutcomeKind.CHANGED
    assert outcome.sms_sign_in_state == after
    assert graph.calls() == [
        [f"GET {METHODS}"],
        [f"POST {MOBILE}/{action}"],
        [f"GET {METHODS}"],
        [f"GET {MOBILE}"],
    ]


def test_an_sms_enable_whose_lost_answer_did_not_apply_is_sent_again() -> None:
    """The re-read still shows notEnabled: the enable is sent once more and then the mobile reads ready."""
    action = f"POST {MOBILE}/enableSmsSignIn"
    graph = ScriptedGraph(phones={MethodKind.MOBILE: A}, writes={action: [Answer(504)]})

    outcome = run(graph, DesiredRow(2, UPN, {MethodKind.MOBILE: A}, sms_sign_in=SmsSignIn.ENABLE))

    assert outcome.kind is OutcomeKind.CHANGED
    assert outcome.sms_sign_in_state == "ready"
    assert graph.sent(action) == 2
    assert graph.ran == [action]


def test_a_post_never_answered_is_sent_again_at_most_max_post_retries_times_then_fails() -> None:
    """Every try of the mobile add goes unanswered and the re-reads show nothing: it is sent
    1 + MAX_POST_RETRIES times, then the row fails with UNANSWERED; the email chained after it never runs."""
    add = f"POST {PHONES}"
    graph = ScriptedGraph(writes={add: [Answer(0)] * 10})

    outcome = run(graph, DesiredRow(2, UPN, {MethodKind.MOBILE: A, MethodKind.EMAIL: "ann@home.example"}))

    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.error == UNANSWERED
    assert graph.sent(add) == 1 + MAX_POST_RETRIES
    assert graph.ran == []
    assert (graph.phones, graph.email) == ({}, None)
    assert [(r.operation.__class__.__name__, r.ok) for r in outcome.results] == [("AddPhone", False)]


def test_a_lost_post_holds_the_writes_chained_after_it_until_the_re_read() -> None:
    """One user's add mobile and add email go as a chain; the mobile's answer is lost (it ran), so the
    email is answered 424. The re-read confirms the mobile and the next round sends only the email."""
    graph = ScriptedGraph(writes={f"POST {PHONES}": [Answer(0, applied=True)]})

    outcome = run(graph, DesiredRow(2, UPN, {MethodKind.MOBILE: A, MethodKind.EMAIL: "ann@home.example"}))

    assert outcome.kind is OutcomeKind.CHANGED
    assert [r.ok for r in outcome.results] == [True, True]
    assert graph.calls() == [
        [f"GET {METHODS}"],
        [f"POST {PHONES}", f"POST {EMAILS}"],
        [f"GET {METHODS}"],
        [f"POST {EMAILS}"],
    ]
    assert graph.ran == [f"POST {PHONES}", f"POST {EMAILS}"]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        pytest.param(502, UNCONFIRMED, id="lost-answer"),
        pytest.param(409, "add mobile phone for a***@contoso.test failed (409 scripted)", id="add-refused"),
    ],
)
def test_a_failed_re_read_stops_the_write_with_a_failed_outcome(status: int, error: str) -> None:
    """The write may have applied and the re-read that would tell fails too: the row fails (with
    UNCONFIRMED, or Graph's refusal), the write is not re-sent and the row's later writes are not sent."""
    graph = ScriptedGraph(writes={f"POST {PHONES}": [Answer(status)]}, reads=[200, 403])

    outcome = run(graph, DesiredRow(2, UPN, {MethodKind.MOBILE: A, MethodKind.EMAIL: "ann@home.example"}))

    assert outcome.kind is OutcomeKind.FAILED
    assert error in (outcome.error or "")
    assert graph.sent(f"POST {PHONES}") == 1
    assert graph.calls()[2:] == [[f"GET {METHODS}"]]
    assert graph.ran == []
    assert outcome.request_ids == (f"r-{status}",)


def test_an_update_answered_500_fails_without_a_re_read() -> None:
    """A PATCH is idempotent (the sender already retried it): a 500 is Graph's answer, not a lost one."""
    update = f"PATCH {MOBILE}"
    graph = ScriptedGraph(phones={MethodKind.MOBILE: B}, writes={update: [Answer(500)]})

    outcome = run(graph, DesiredRow(2, UPN, {MethodKind.MOBILE: A}, forced_update=True))

    assert outcome.kind is OutcomeKind.FAILED
    assert "500" in (outcome.error or "")
    assert graph.calls() == [[f"GET {METHODS}"], [update]]


# --- each write's request ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "row", "method", "api", "url", "body"),
    [
        pytest.param({}, DesiredRow(2, UPN, {MethodKind.MOBILE: A}), "POST", "v1.0", PHONES,
                     {"phoneNumber": A, "phoneType": "mobile"}, id="add-phone"),
        pytest.param(dict(phones={MethodKind.ALTERNATE_MOBILE: B}),
                     DesiredRow(2, UPN, {MethodKind.ALTERNATE_MOBILE: A}, forced_update=True), "PATCH", "v1.0",
                     f"{PHONES}/{METHOD_IDS[MethodKind.ALTERNATE_MOBILE]}",
                     {"phoneNumber": A, "phoneType": "alternateMobile"}, id="update-phone"),
        pytest.param(dict(phones={MethodKind.MOBILE: A, MethodKind.OFFICE: B}),
                     DesiredRow(2, UPN, {MethodKind.MOBILE: A}, forced_removal=True), "DELETE", "v1.0",
                     f"{PHONES}/{METHOD_IDS[MethodKind.OFFICE]}", None, id="delete-phone"),
        pytest.param({}, DesiredRow(2, UPN, {MethodKind.EMAIL: "ann@home.example"}), "POST", "v1.0",
                     EMAILS, {"emailAddress": "ann@home.example"}, id="add-email"),
        pytest.param(dict(email="old@home.example"),
                     DesiredRow(2, UPN, {MethodKind.EMAIL: "ann@home.example"}, forced_update=True), "PATCH",
                     "v1.0", f"{EMAILS}/{METHOD_IDS[MethodKind.EMAIL]}", {"emailAddress": "ann@home.example"},
                     id="update-email"),
        pytest.param(dict(email="old@home.example"),
                     DesiredRow(2, UPN, {}, managed=frozenset({MethodKind.EMAIL}), forced_removal=True), "DELETE",
                     "v1.0", f"{EMAILS}/{METHOD_IDS[MethodKind.EMAIL]}", None, id="delete-email"),
        pytest.param(dict(phones={MethodKind.MOBILE: A}),
                     DesiredRow(2, UPN, {MethodKind.MOBILE: A}, default_method=DefaultMethod.SMS), "PATCH", "beta",
                     PREFERENCES, {"userPreferredMethodForSecondaryAuthentication": "sms"}, id="set-default"),
        pytest.param(dict(phones={MethodKind.MOBILE: A}),
                     DesiredRow(2, UPN, {MethodKind.MOBILE: A}, sms_sign_in=SmsSignIn.ENABLE), "POST", "v1.0",
                     f"{MOBILE}/enableSmsSignIn", None, id="enable-sms"),
        pytest.param(dict(phones={MethodKind.MOBILE: A}, sms="ready"),
                     DesiredRow(2, UPN, {MethodKind.MOBILE: A}, sms_sign_in=SmsSignIn.DISABLE), "POST", "v1.0",
                     f"{MOBILE}/disableSmsSignIn", None, id="disable-sms"),
    ],
)  # fmt: skip
def test_each_write_is_sent_as_a_write_with_its_method_path_and_body(
    state: dict[str, object], row: DesiredRow, method: str, api: str, url: str, body: object
) -> None:
    """The one write the row needs carries is_write=True, its verb, API version, user-relative path and
    JSON body; the reads around it are not writes."""
    graph = ScriptedGraph(**state)  # type: ignore[arg-type]

    outcome = run(graph, row)

    requests = [r for requests in graph.sends for r in requests]
    (write,) = [r for r in requests if r.method != "GET"]
    assert write.is_write is True
    assert (write.method, write.api, unquote(write.url), write.body) == (method, api, url, body)
    assert write.depends_on == ()
    assert not any(r.is_write for r in requests if r.method == "GET")
    assert outcome.kind is OutcomeKind.CHANGED


# --- what a re-read or a lost answer tells ------------------------------------------------------------


@dataclass
class ListlessReread(ScriptedGraph):
    """Answers the re-read of the methods with 200 and a body without a ``value`` list."""

    methods_reads: int = 0

    def _get(self, request: BatchRequest) -> BatchResponse:
        if unquote(request.url) == METHODS:
            self.methods_reads += 1
            if self.methods_reads > 1:
                return BatchResponse(request.id, 200, {}, {}, "r-listless")
        return super()._get(request)


def test_a_re_read_without_a_list_does_not_count_the_lost_post_as_sent_or_not() -> None:
    """A 200 re-read with no ``value`` list tells nothing: the lost add is neither re-sent nor taken
    for done; the row fails and asks the admin to check the user."""
    graph = ListlessReread(writes={f"POST {PHONES}": [Answer(0, applied=True)]})

    outcome = run(graph, DesiredRow(2, UPN, {MethodKind.MOBILE: A}))

    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.error == UNCONFIRMED
    assert graph.sent(f"POST {PHONES}") == 1


def test_an_update_with_no_answer_says_so_in_words() -> None:
    """A PATCH that got no answer at all (status 0) fails with a sentence, not "(0 no code)"."""
    update = f"PATCH {MOBILE}"
    graph = ScriptedGraph(phones={MethodKind.MOBILE: B}, writes={update: [Answer(0)]})

    outcome = run(graph, DesiredRow(2, UPN, {MethodKind.MOBILE: A}, forced_update=True))

    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.error == NO_ANSWER


def test_each_lost_post_of_a_row_has_its_own_retry_budget() -> None:
    """The mobile add goes unanswered twice before it lands, and so does the email add after it: each
    POST may be re-sent MAX_POST_RETRIES times, so the second is not failed for the first one's retries."""
    mobile, email = f"POST {PHONES}", f"POST {EMAILS}"
    lost = [Answer(0), Answer(0), Answer(201, applied=True)]
    graph = ScriptedGraph(writes={mobile: list(lost), email: list(lost)})

    outcome = run(graph, DesiredRow(2, UPN, {MethodKind.MOBILE: A, MethodKind.EMAIL: "ann@home.example"}))

    assert outcome.kind is OutcomeKind.CHANGED, outcome.error
    assert graph.sent(mobile) == 3
    assert graph.ran == [mobile, email]  # (the email also rode, answered 424, behind each lost mobile add)
