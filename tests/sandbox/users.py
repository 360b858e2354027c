"""A user's record in the sandbox tenant and its Graph JSON representations (pure, no locking)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from provisioning.core.models import METHOD_IDS, MethodKind

PHONE_TYPES: tuple[str, ...] = ("mobile", "alternateMobile", "office")
PHONE_IDS: dict[str, str] = {
    kind.value: METHOD_IDS[kind] for kind in METHOD_IDS if kind is not MethodKind.EMAIL
}
PHONE_TYPE_BY_ID: dict[str, str] = {method_id: kind for kind, method_id in PHONE_IDS.items()}
EMAIL_ID = METHOD_IDS[MethodKind.EMAIL]
PASSWORD_ID = "28c10230-6103-485e-b985-444c60001490"
MOBILE_ID = PHONE_IDS["mobile"]

# The phone a default method rests on, and the default a first phone of each type becomes.
DEFAULT_PHONE: dict[str, str] = {
    "sms": "mobile",
    "voiceMobile": "mobile",
    "voiceAlternateMobile": "alternateMobile",
    "voiceOffice": "office",
}
FIRST_PHONE_DEFAULT: dict[str, str] = {
    "mobile": "sms",
    "alternateMobile": "voiceAlternateMobile",
    "office": "voiceOffice",
}
# Defaults that rest on an app method rather than a phone.
DEFAULT_APP: dict[str, tuple[str, ...]] = {
    "push": ("microsoftAuthenticator",),
    "oath": ("softwareOath", "hardwareOath"),
}
DEFAULT_METHODS: tuple[str, ...] = (*DEFAULT_PHONE, *DEFAULT_APP)

OTHER_METHOD_TYPES: dict[str, str] = {
    "microsoftAuthenticator": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
    "softwareOath": "#microsoft.graph.softwareOathAuthenticationMethod",
    "hardwareOath": "#microsoft.graph.hardwareOathAuthenticationMethod",
    "fido2": "#microsoft.graph.fido2AuthenticationMethod",
    "windowsHelloForBusiness": "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
    "temporaryAccessPass": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
    "platformCredential": "#microsoft.graph.platformCredentialAuthenticationMethod",
}

# The app methods whose models (msgraph-sdk v1.0 and beta) have a displayName; the others do not.
NAMED_METHOD_TYPES = frozenset(
    {"microsoftAuthenticator", "fido2", "windowsHelloForBusiness", "platformCredential"}
)
# Methods v1.0 does not define (absent from msgraph-sdk 1.65.0's v1.0 models): listed under beta only.
BETA_ONLY_METHOD_TYPES = frozenset({"hardwareOath", "x509Certificate"})

DEFAULT_USER_PROPERTIES: tuple[str, ...] = (
    "businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname", "userPrincipalName",
)  # fmt: skip


@dataclass
class User:
    """One directory user with its profile and its registered authentication methods."""

    id: str
    upn: str
    profile: dict[str, Any] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)
    email: str | None = None
    default_method: str | None = None
    system_preferred: bool = False
    other_methods: list[str] = field(default_factory=list)
    sms_state: str = "notEnabled"
    in_sms_policy: bool = True
    seq: int = 0  # insertion order, the stable paging cursor
    created: int = 0  # tenant change counter when the user was added
    stamps: dict[str, int] = field(default_factory=dict)  # property -> change counter of its last change
    removed: tuple[int, str] | None = None  # (change counter, "changed" | "deleted") once deleted

    def changed_since(self, since: int, names: list[str] | None) -> list[str]:
        """Properties (of ``names``, or any) whose last change is after counter ``since``."""
        return [
            name for name, stamp in self.stamps.items() if stamp > since and (names is None or name in names)
        ]

    def mfa_methods(self) -> int:
        """How many methods could serve as a default (phones and app methods; email is SSPR-only)."""
        return len(self.phones) + len(self.other_methods)

    def sms_state_of(self, phone_type: str) -> str:
        """``smsSignInState`` of a phone: the mobile's own state, ``notSupported`` for the others."""
        return self.sms_state if phone_type == "mobile" else "notSupported"

    def snapshot(self) -> dict[str, Any]:
        """A plain, detached dict of the user for tests and the control endpoints."""
        return {
            "id": self.id,
            "userPrincipalName": self.upn,
            "displayName": self.profile.get("displayName"),
            "mobilePhone": self.profile.get("mobilePhone"),
            "businessPhones": list(self.profile.get("businessPhones") or []),
            "onPremisesSyncEnabled": bool(self.profile.get("onPremisesSyncEnabled")),
            "phoneMethods": dict(self.phones),
            "email": self.email,
            "defaultMethod": self.default_method,
            "isSystemPreferredAuthenticationMethodEnabled": self.system_preferred,
            "smsSignInState": self.sms_state if "mobile" in self.phones else None,
            "inSmsSignInPolicy": self.in_sms_policy,
            "otherMethods": list(self.other_methods),
        }


def phone_json(user: User, phone_type: str) -> dict[str, Any]:
    """A ``phoneAuthenticationMethod`` object."""
    return {
        "id": PHONE_IDS[phone_type],
        "phoneNumber": user.phones[phone_type],
        "phoneType": phone_type,
        "smsSignInState": user.sms_state_of(phone_type),
    }


def email_json(user: User) -> dict[str, Any]:
    """An ``emailAuthenticationMethod`` object."""
    return {"id": EMAIL_ID, "emailAddress": user.email}


def user_json(user: User, select: list[str] | None) -> dict[str, Any]:
    """A ``user`` object with the default property set, or exactly the ``$select`` properties."""
    names = select or list(DEFAULT_USER_PROPERTIES)
    values = {**user.profile, "id": user.id, "userPrincipalName": user.upn}
    out: dict[str, Any] = {}
    for name in names:
        value = values.get(name)
        out[name] = [] if value is None and name == "businessPhones" else value
    return out


def all_methods_json(user: User, version: str = "v1.0") -> list[dict[str, Any]]:
    """Every method for ``/authentication/methods``, each with its ``@odata.type``."""
    out: list[dict[str, Any]] = [
        {
            "@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
            "id": PASSWORD_ID,
            "password": None,
            "createdDateTime": user.profile.get("createdDateTime"),
        }
    ]
    for phone_type in PHONE_TYPES:
        if phone_type in user.phones:
            out.append(
                {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", **phone_json(user, phone_type)}
            )
    if user.email is not None:
        out.append({"@odata.type": "#microsoft.graph.emailAuthenticationMethod", **email_json(user)})
    for name in user.other_methods:
        if version == "v1.0" and name in BETA_ONLY_METHOD_TYPES:
            continue
        odata_type = OTHER_METHOD_TYPES.get(name, f"#microsoft.graph.{name}AuthenticationMethod")
        method_id = str(uuid.uuid5(uuid.UUID(user.id), name)) if _is_guid(user.id) else name
        item: dict[str, Any] = {"@odata.type": odata_type, "id": method_id}
        if name in NAMED_METHOD_TYPES:
            item["displayName"] = f"Sandbox {name}"
        out.append(item)
    return out


def sign_in_preferences_json(user: User) -> dict[str, Any]:
    """The beta ``signInPreferences`` object: the two properties of the resource doc and of the beta SDK's
    ``SignInPreferences`` model. The ``systemPreferredAuthenticationMethod`` some community scripts read
    is in neither, so it is not answered (tests/contract/test_sdk_contract.py holds us to the SDK)."""
    return {
        "isSystemPreferredAuthenticationMethodEnabled": user.system_preferred,
        "userPreferredMethodForSecondaryAuthentication": user.default_method,
    }


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
