"""The conformance kit's fixed scenario as data: named steps, each with the status graph-api.md leads
us to expect (pure; ``conformance.py`` sends them, ``conformance_record.py`` records them).

Paths are templates: ``users/{user}`` is the test user, ``users/{unknown_user}`` a user that does not
exist, ``{id}`` the fixed id of the step's method (graph-api.md 1, 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from provisioning.core.models import METHOD_IDS, MethodKind

# Test numbers (555-01xx is reserved for fiction) in Graph's "+CC NUMBER" form, and example.com
# addresses: nothing here reaches a real person, and the recording masks them anyway.
MOBILE = "+1 4255550101"
MOBILE_DUPLICATE = "+1 4255550102"
MOBILE_UPDATED = "+1 4255550103"
ALTERNATE = "+1 4255550104"
OFFICE = "+1 4255550105"
OFFICE_UPDATED = "+1 4255550106"
INVALID_NUMBER = "425-555-0107"  # no country code: Graph's format rejects it (graph-api.md 1)
EMAIL = "conformance.kit@example.com"
EMAIL_UPDATED = "conformance.kit.updated@example.com"
BATCH_EMAIL = "conformance.batch@example.com"
BATCH_EMAIL_UPDATED = "conformance.batch.updated@example.com"
UNKNOWN_USER_LOCAL = "conformance-kit-no-such-user"
PHONE_NUMBERS = (MOBILE, MOBILE_DUPLICATE, MOBILE_UPDATED, ALTERNATE, OFFICE, OFFICE_UPDATED, INVALID_NUMBER)
EMAILS = (EMAIL, EMAIL_UPDATED, BATCH_EMAIL, BATCH_EMAIL_UPDATED)

METHODS = "/v1.0/users/{user}/authentication/methods"
PHONES = "/v1.0/users/{user}/authentication/phoneMethods"
PHONE = f"{PHONES}/{{id}}"
EMAIL_METHODS = "/v1.0/users/{user}/authentication/emailMethods"
EMAIL_METHOD = f"{EMAIL_METHODS}/{{id}}"
PREFERENCES = "/beta/users/{user}/authentication/signInPreferences"
DEFAULT_FIELD = "userPreferredMethodForSecondaryAuthentication"
SYSTEM_PREFERRED_FIELD = "isSystemPreferredAuthenticationMethodEnabled"
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Step:
    """One direct Graph call. *body* None sends no body; *method_id* fills ``{id}``."""

    name: str
    method: str
    template: str
    expected: int
    body: dict[str, object] | None = None
    method_id: MethodKind | None = None


@dataclass(frozen=True)
class BatchItem:
    """One request inside a ``$batch``; *template* is relative to the version root (no ``/v1.0``)."""

    id: str
    method: str
    template: str
    body: dict[str, object] | None = None
    method_id: MethodKind | None = None
    depends_on: tuple[str, ...] = ()
    content_type: bool = True  # send the Content-Type header (when there is a body)


@dataclass(frozen=True)
class BatchStep:
    """One ``POST /v1.0/$batch`` envelope; *expected* is the envelope's status."""

    name: str
    items: tuple[BatchItem, ...]
    expected: int


ScenarioStep = Step | BatchStep


def _phone(number: str, kind: MethodKind) -> dict[str, object]:
    return {"phoneNumber": number, "phoneType": kind.value}


def _default(method: str) -> dict[str, object]:
    return {DEFAULT_FIELD: method}


def preflight_steps() -> tuple[Step, ...]:
    """Reads only: the user, its methods, its memberships (roles), its sign-in preferences."""
    return (
        # $select: the profile properties a test user happens to have set would be noise in a diff.
        Step("preflight.get_user", "GET", "/v1.0/users/{user}?$select=id,userPrincipalName", 200),
        Step("preflight.list_methods", "GET", METHODS, 200),
        Step("preflight.transitive_member_of", "GET", "/v1.0/users/{user}/transitiveMemberOf", 200),
        Step("preflight.get_sign_in_preferences", "GET", PREFERENCES, 200),
    )


def phone_steps() -> tuple[Step, ...]:
    """The ordering rules (graph-api.md 1, 3): alternate needs a mobile, office does not, one per type."""
    mobile, alternate, office = MethodKind.MOBILE, MethodKind.ALTERNATE_MOBILE, MethodKind.OFFICE
    return (
        Step("phones.add_invalid_number", "POST", PHONES, 400, _phone(INVALID_NUMBER, office)),
        Step("phones.add_alternate_before_mobile", "POST", PHONES, 400, _phone(ALTERNATE, alternate)),
        Step("phones.add_office_without_mobile", "POST", PHONES, 201, _phone(OFFICE, office)),
        Step("phones.add_mobile", "POST", PHONES, 201, _phone(MOBILE, mobile)),
        Step("phones.add_mobile_again", "POST", PHONES, 400, _phone(MOBILE_DUPLICATE, mobile)),
        Step("phones.patch_mobile", "PATCH", PHONE, 204, _phone(MOBILE_UPDATED, mobile), mobile),
        Step("phones.add_alternate", "POST", PHONES, 201, _phone(ALTERNATE, alternate)),
        Step("phones.list", "GET", PHONES, 200),
        Step("phones.get_mobile", "GET", PHONE, 200, method_id=mobile),
        # Rule 3: a user can't have an alternate without a mobile, so this DELETE is refused.
        Step("phones.delete_mobile_while_alternate", "DELETE", PHONE, 400, method_id=mobile),
    )


def default_steps() -> tuple[Step, ...]:
    """signInPreferences (beta, graph-api.md 4), SMS sign-in via UPN, and the default-phone rule."""
    mobile, office = MethodKind.MOBILE, MethodKind.OFFICE
    sms = f"{PHONE}/enableSmsSignIn"
    return (
        Step("preferences.get", "GET", PREFERENCES, 200),
        Step("preferences.patch_unregistered_default", "PATCH", PREFERENCES, 400, _default("push")),
        Step("preferences.patch_default_sms", "PATCH", PREFERENCES, 204, _default("sms")),
        Step("sms.enable", "POST", sms, 204, {}, mobile),
        # The outcome of enableSmsSignIn is in smsSignInState (graph-api.md 3, rule 5), not the status.
        Step("sms.get_mobile_after_enable", "GET", PHONE, 200, method_id=mobile),
        Step("sms.disable", "POST", sms.replace("enable", "disable"), 204, {}, mobile),
        Step("preferences.patch_default_office", "PATCH", PREFERENCES, 204, _default("voiceOffice")),
        # Rule 4: the default phone can't be deleted while other methods exist (docs-contrib#2913).
        Step("phones.delete_default_office", "DELETE", PHONE, 400, method_id=office),
    )


def email_steps() -> tuple[Step, ...]:
    """The email method (SSPR only, one per user, fixed id) and the unknown-user answers."""
    email = MethodKind.EMAIL
    return (
        Step("email.add", "POST", EMAIL_METHODS, 201, {"emailAddress": EMAIL}),
        Step("email.add_again", "POST", EMAIL_METHODS, 400, {"emailAddress": EMAIL_UPDATED}),
        Step("email.list", "GET", EMAIL_METHODS, 200),
        Step("email.patch", "PATCH", EMAIL_METHOD, 204, {"emailAddress": EMAIL_UPDATED}, email),
        Step("email.delete", "DELETE", EMAIL_METHOD, 204, method_id=email),
        Step("users.get_unknown_user", "GET", "/v1.0/users/{unknown_user}", 404),
        Step(
            "users.list_methods_of_unknown_user",
            "GET",
            "/v1.0/users/{unknown_user}/authentication/methods",
            404,
        ),
    )


def batch_steps() -> tuple[BatchStep, ...]:
    """The $batch rules of graph-api.md 6: parallel, one sequential chain, and the refused shapes."""
    methods, phones, emails = (t.removeprefix("/v1.0") for t in (METHODS, PHONES, EMAIL_METHODS))
    phone, email = f"{phones}/{{id}}", f"{emails}/{{id}}"
    office, mobile = MethodKind.OFFICE, MethodKind.MOBILE
    return (
        BatchStep("batch.parallel", (
            BatchItem("1", "GET", methods),
            BatchItem("2", "GET", phones),
            BatchItem("3", "GET", emails),
            BatchItem("4", "PATCH", phone, _phone(OFFICE_UPDATED, office), office),
        ), 200),
        BatchStep("batch.sequential", (
            BatchItem("1", "POST", emails, {"emailAddress": BATCH_EMAIL}),
            BatchItem("2", "PATCH", email, {"emailAddress": BATCH_EMAIL_UPDATED}, MethodKind.EMAIL, ("1",)),
            BatchItem("3", "GET", emails, depends_on=("2",)),
            BatchItem("4", "DELETE", email, method_id=MethodKind.EMAIL, depends_on=("3",)),
        ), 200),
        # The first item fails (one mobile per user), so the second is 424 Failed Dependency.
        BatchStep("batch.failed_dependency", (
            BatchItem("1", "POST", phones, _phone(MOBILE_DUPLICATE, mobile)),
            BatchItem("2", "PATCH", phone, _phone(OFFICE, office), office, ("1",)),
        ), 200),
        BatchStep("batch.mixed_shape", (
            BatchItem("1", "GET", methods),
            BatchItem("2", "GET", phones, depends_on=("1",)),
            BatchItem("3", "GET", emails),
        ), 400),
        BatchStep("batch.forward_depends_on", (
            BatchItem("1", "GET", methods, depends_on=("2",)),
            BatchItem("2", "GET", phones),
        ), 400),
        BatchStep("batch.bodyless_post", (
            BatchItem("1", "POST", f"{phone}/enableSmsSignIn", method_id=mobile, content_type=False),
        ), 400),
    )  # fmt: skip


def scenario() -> tuple[ScenarioStep, ...]:
    """Every write step in order; the user must hold only a password when it starts."""
    return (*phone_steps(), *default_steps(), *email_steps(), *batch_steps())


def batch_request(item: BatchItem, user_segment: str, unknown_segment: str) -> dict[str, object]:
    """The JSON of one ``$batch`` request: Content-Type with a body unless the item leaves it out."""
    request: dict[str, object] = {"id": item.id, "method": item.method}
    request["url"] = concrete(item.template, user_segment, unknown_segment, item.method_id)
    if item.body is not None:
        request["body"] = item.body
        if item.content_type:
            request["headers"] = dict(JSON_HEADERS)
    if item.depends_on:
        request["dependsOn"] = list(item.depends_on)
    return request


def concrete(template: str, user_segment: str, unknown_segment: str, method_id: MethodKind | None) -> str:
    """*template* with the user segments and the method's fixed id filled in."""
    path = template.replace("users/{user}", user_segment).replace("users/{unknown_user}", unknown_segment)
    return path.replace("{id}", METHOD_IDS[method_id]) if method_id is not None else path
