"""The conformance kit's safety (pure): what preflight refuses, and putting the test user back as preflight found it.

Restore deletes only what the scenario may have created (phones, email), in an order Graph accepts: the
email first, SMS sign-in off, the default moved onto the phone deleted last, the mobile after its
alternate (graph-api.md 3); then it sets signInPreferences back and compares the user's methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from provisioning.core.models import METHOD_IDS, MethodKind
from provisioning.graph.conformance.record import Exchange, error_of
from provisioning.graph.conformance.steps import (
    DEFAULT_FIELD,
    EMAIL_METHOD,
    METHODS,
    PHONE,
    PREFERENCES,
    SYSTEM_PREFERRED_FIELD,
    Step,
)

ALLOWED_METHOD_TYPE = "#microsoft.graph.passwordAuthenticationMethod"
ROLE_TYPE = "#microsoft.graph.directoryRole"
_KIND_BY_ID = {method_id: kind for kind, method_id in METHOD_IDS.items()}
# Deletion order: the alternate before the mobile (graph-api.md 3, rule 3); the mobile goes last.
_PHONE_ORDER = (MethodKind.ALTERNATE_MOBILE, MethodKind.OFFICE, MethodKind.MOBILE)
# Defaults resting on each phone (graph-api.md 4), tried in this order.
_DEFAULTS = {
    MethodKind.MOBILE: ("sms", "voiceMobile"),
    MethodKind.ALTERNATE_MOBILE: ("voiceAlternateMobile",),
    MethodKind.OFFICE: ("voiceOffice",),
}


class StepRunner(Protocol):
    """Sends one step; its record and the raw answer (``conformance.Probe``)."""

    def run(self, step: Step) -> tuple[dict[str, object], Exchange]: ...


@dataclass(frozen=True)
class Preflight:
    """What preflight recorded and read: the user's methods and preferences, or why it refused."""

    records: list[dict[str, object]]
    refusal: str | None
    methods: frozenset[tuple[str, str]]
    preferences: dict[str, object]

    @classmethod
    def read(
        cls,
        records: list[dict[str, object]],
        answers: list[Exchange],
        member_pages: list[Exchange],
        user: str,
    ) -> Preflight:
        """Judge the preflight answers (user, methods, memberships, preferences) for *user* (masked)."""
        methods = method_keys(answers[1].body) if len(answers) > 1 else frozenset()
        preferences = _preferences(answers[3].body) if len(answers) > 3 else {}
        return cls(records, refusal(answers, member_pages, user), methods, preferences)


def refusal(answers: list[Exchange], member_pages: list[Exchange], user: str) -> str | None:
    """Why the kit must not write to this user, with what to fix; None when it may."""
    found, methods = answers[0], answers[1] if len(answers) > 1 else None
    if found.status == 404:
        return f"user {user} not found (404): --user must be the UPN of an existing, dedicated test user"
    if found.status != 200:
        return _unreadable(f"user {user}", found, "User.Read.All")
    assert methods is not None  # preflight reads the methods of every user it found
    if methods.status != 200:
        return _unreadable(f"the methods of {user}", methods, "UserAuthenticationMethod.ReadWrite.All")
    others = sorted(t for t, _ in method_keys(methods.body) if t != ALLOWED_METHOD_TYPE)
    if others:
        names = ", ".join(t.removeprefix("#microsoft.graph.") for t in others)
        return (
            f"{user} holds {len(others)} method(s) besides the password ({names}): the kit adds and "
            "deletes phone and email methods, so use a dedicated test user that holds none"
        )
    for page in member_pages:
        if page.status != 200:
            return _unreadable(f"the memberships of {user}", page, "User.Read.All")
    roles = sum(
        1 for page in member_pages for item in _values(page.body) if item.get("@odata.type") == ROLE_TYPE
    )
    if roles:
        return (
            f"{user} is a member of {roles} directory role(s): use a test user without any admin role "
            "(remove the role assignment, or pick another user)"
        )
    if answers[3].status != 200:
        return _unreadable(
            f"the signInPreferences of {user}", answers[3], "UserAuthenticationMethod.ReadWrite.All"
        )
    return None


def restore(runner: StepRunner, preflight: Preflight) -> tuple[list[dict[str, object]], str | None]:
    """Delete what the scenario left, restore the preferences, verify; (records, problem or None)."""
    records: list[dict[str, object]] = []

    def call(step: Step) -> Exchange:
        recorded, answer = runner.run(step)
        records.append(recorded)
        return answer

    listed = call(Step("restore.list_methods", "GET", METHODS, 200))
    extra = {_KIND_BY_ID.get(method_id) for _, method_id in method_keys(listed.body) - preflight.methods}
    if MethodKind.EMAIL in extra:
        call(Step("restore.delete_email", "DELETE", EMAIL_METHOD, 204, method_id=MethodKind.EMAIL))
    phones = [kind for kind in _PHONE_ORDER if kind in extra]
    if MethodKind.MOBILE in phones:
        sms_off = f"{PHONE}/disableSmsSignIn"
        call(Step("restore.disable_sms_sign_in", "POST", sms_off, 204, {}, MethodKind.MOBILE))
    if len(phones) > 1:
        _move_default(call, phones[-1])
    refused = []
    for kind in phones:
        answer = call(Step(f"restore.delete_{kind.value}", "DELETE", PHONE, 204, method_id=kind))
        if answer.status != 204:
            code = (error_of(answer.body) or {}).get("code")
            refused.append(f"DELETE of the {kind.value} phone answered {answer.status} {code or ''}".rstrip())
    _restore_preferences(call, preflight.preferences)
    problem = _verify(call, preflight)
    if problem is not None and refused:
        problem = f"{'; '.join(refused)} (a default phone as the last method? docs/conformance.md); {problem}"
    return records, problem


def method_keys(body: object) -> frozenset[tuple[str, str]]:
    """(``@odata.type``, id) of every method in a ``/authentication/methods`` answer."""
    return frozenset((str(m.get("@odata.type")), str(m.get("id"))) for m in _values(body))


def _move_default(call: _Call, last: MethodKind) -> None:
    """Make the phone deleted last the default, so every other phone is deletable (rule 4)."""
    current = _preferences(call(Step("restore.get_preferences", "GET", PREFERENCES, 200)).body)
    if current.get(DEFAULT_FIELD) in _DEFAULTS[last]:
        return
    for method in _DEFAULTS[last]:
        patch = Step(f"restore.default_{method}", "PATCH", PREFERENCES, 204, {DEFAULT_FIELD: method})
        if call(patch).status == 204:
            return


def _restore_preferences(call: _Call, wanted: dict[str, object]) -> None:
    current = _preferences(call(Step("restore.get_preferences_after", "GET", PREFERENCES, 200)).body)
    changes = {k: v for k, v in wanted.items() if v is not None and current.get(k) != v}
    if changes:
        call(Step("restore.patch_preferences", "PATCH", PREFERENCES, 204, changes))


def _verify(call: _Call, preflight: Preflight) -> str | None:
    methods = call(Step("restore.verify_methods", "GET", METHODS, 200))
    preferences = call(Step("restore.verify_preferences", "GET", PREFERENCES, 200))
    if methods.status != 200 or preferences.status != 200:
        return "could not read the user back to verify it: check it in the Entra admin center"
    left = sorted(_name(key) for key in method_keys(methods.body) - preflight.methods)
    gone = sorted(_name(key) for key in preflight.methods - method_keys(methods.body))
    problems = [f"still holds {', '.join(left)}"] if left else []
    problems += [f"lost {', '.join(gone)}"] if gone else []
    now = _preferences(preferences.body)
    changed = sorted(k for k, v in preflight.preferences.items() if now.get(k) != v)
    problems += [f"signInPreferences differ in {', '.join(changed)}"] if changed else []
    if not problems:
        return None
    return (
        "; ".join(problems) + ": fix the test user in the Entra admin center (Users > Authentication methods)"
    )


class _Call(Protocol):
    def __call__(self, step: Step, /) -> Exchange: ...


def _name(key: tuple[str, str]) -> str:
    """A method for a message: its kind for our fixed ids (``mobile``), else its type without the prefix."""
    kind = _KIND_BY_ID.get(key[1])
    return kind.value if kind is not None else key[0].removeprefix("#microsoft.graph.")


def _preferences(body: object) -> dict[str, object]:
    given = body if isinstance(body, dict) else {}
    return {
        DEFAULT_FIELD: given.get(DEFAULT_FIELD),
        SYSTEM_PREFERRED_FIELD: given.get(SYSTEM_PREFERRED_FIELD),
    }


def _values(body: object) -> list[dict[str, object]]:
    values = body.get("value") if isinstance(body, dict) else None
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def _unreadable(what: str, answer: Exchange, permission: str) -> str:
    error = error_of(answer.body) or {}
    code = f", {error.get('code')}" if error.get("code") else ""
    return f"cannot read {what} (HTTP {answer.status}{code}): the app needs {permission} with admin consent"
