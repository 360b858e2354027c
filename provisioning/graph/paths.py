"""Graph URLs for one user's authentication methods, with the user safely placed in the path."""

from __future__ import annotations

import re
from urllib.parse import quote

from provisioning.core.models import METHOD_IDS, MethodKind

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_object_id(user: str) -> bool:
    """True when *user* is an object id (GUID) rather than a UPN."""
    return _GUID.match(user) is not None


def user_segment(user: str) -> str:
    """The ``users/...`` path part for an object id or UPN.

    ``#`` (B2B ``#EXT#``), ``/``, ``?`` and ``%`` are percent-encoded; a UPN starting with ``$`` uses
    the key form ``users('$x@y.com')``, else Graph answers 400 (learn.microsoft.com/graph/api/user-get).
    """
    if user.startswith("$"):
        key = quote(user.replace("'", "''"), safe="@$'")  # OData doubles a quote inside a string key
        return f"users('{key}')"
    return f"users/{quote(user, safe='@')}"


class GraphPaths:
    """Absolute URLs under one Graph root (``https://graph.microsoft.com`` or a test server)."""

    def __init__(self, graph_root: str) -> None:
        self._v1 = f"{graph_root.rstrip('/')}/v1.0"
        self._beta = f"{graph_root.rstrip('/')}/beta"

    def users_delta(self, select: str) -> str:
        """The first page of a users delta query (graph-api.md section 8)."""
        return f"{self._v1}/users/delta?$select={select}"

    def users(self, select: str) -> str:
        """Every user of the tenant, selected properties only, in Graph's largest pages (999)."""
        return f"{self._v1}/users?$select={select}&$top=999"

    def group_members(self, group_id: str, select: str) -> str:
        """Transitive members of a group (nested groups included), selected properties only."""
        return f"{self._v1}/groups/{quote(group_id, safe='')}/transitiveMembers?$select={select}"

    def user_profile(self, user: str, select: str) -> str:
        return f"{self._v1}/{user_segment(user)}?$select={select}"

    def user_id(self, user: str) -> str:
        """The user itself, selecting only the object id."""
        return f"{self._v1}/{user_segment(user)}?$select=id"

    def methods(self, user: str) -> str:
        """Every registered method of the user, each with its ``@odata.type`` (one read for all)."""
        return f"{self._v1}/{user_segment(user)}/authentication/methods"

    def phone_methods(self, user: str) -> str:
        return f"{self._v1}/{user_segment(user)}/authentication/phoneMethods"

    def phone_method(self, user: str, kind: MethodKind) -> str:
        """One phone by its fixed id (the same for every user, graph-api.md section 1)."""
        return f"{self.phone_methods(user)}/{METHOD_IDS[kind]}"

    def sms_sign_in(self, user: str, *, enable: bool) -> str:
        """The enable/disable action; only the primary mobile supports SMS sign-in."""
        action = "enableSmsSignIn" if enable else "disableSmsSignIn"
        return f"{self.phone_method(user, MethodKind.MOBILE)}/{action}"

    def email_methods(self, user: str) -> str:
        return f"{self._v1}/{user_segment(user)}/authentication/emailMethods"

    def email_method(self, user: str) -> str:
        return f"{self.email_methods(user)}/{METHOD_IDS[MethodKind.EMAIL]}"

    def sign_in_preferences(self, user: str) -> str:
        """Beta only: the default MFA method (graph-api.md section 4)."""
        return f"{self._beta}/{user_segment(user)}/authentication/signInPreferences"
