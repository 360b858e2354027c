"""Directory reads for the nightly sync: users delta pages, group members, one user's profile phones."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from provisioning.errors import DeltaExpiredError, GraphError, PermanentGraphError
from provisioning.graph.client import GraphClient
from provisioning.graph.methods import collection_items

USER_READ = "User.Read.All"
GROUP_READ = "GroupMember.Read.All"
PROFILE_SELECT = "id,userPrincipalName,mobilePhone,businessPhones"


@dataclass(frozen=True)
class Profile:
    """The directory phones of one user (``mobilePhone``, first ``businessPhones`` value)."""

    user_id: str
    upn: str
    mobile_phone: str | None
    business_phone: str | None
    removed: bool = False


@dataclass(frozen=True)
class DeltaPage:
    """One page of a users delta query; the last page has ``delta_link``."""

    profiles: tuple[Profile, ...]
    next_link: str | None
    delta_link: str | None


class DirectoryClient:
    """Users delta and group membership over the project's Graph client (same token, retries, limits)."""

    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    def delta_pages(self, link: str | None) -> Iterator[DeltaPage]:
        """Pages from *link* (a stored deltaLink) or, when None, from a full pass; follows nextLinks.

        Raises ``DeltaExpiredError`` when Graph no longer knows the link (graph-api.md section 8).
        """
        url: str | None = link or self._graph.paths.users_delta(PROFILE_SELECT)
        while url is not None:
            body = self._get(url, "read users delta", USER_READ, expiring=link is not None)
            page = _page(body)
            yield page
            url = page.next_link

    def group_member_ids(self, group_id: str) -> set[str]:
        """Object ids of the group's (transitive) user members."""
        return {
            user_id for user_id, _ in self._users(self._graph.paths.group_members(group_id, "id"), group_id)
        }

    def group_users(self, group_id: str) -> Iterator[tuple[str, str | None]]:
        """The group's (transitive) user members as (object id, UPN), page by page."""
        return self._users(self._graph.paths.group_members(group_id, "id,userPrincipalName"), group_id)

    def all_users(self) -> Iterator[tuple[str, str | None]]:
        """Every user of the tenant as (object id, UPN), page by page."""
        return self._users(self._graph.paths.users("id,userPrincipalName"), None)

    def _users(self, url: str | None, group_id: str | None) -> Iterator[tuple[str, str | None]]:
        while url is not None:
            if group_id is None:
                body = self._graph.get_json(url, what="list users", permission=USER_READ)
            else:
                body = self._graph.get_json(
                    url, what="read group members", permission=GROUP_READ, subject="group", ref=group_id
                )
            items, url = collection_items(body), _link(body, "@odata.nextLink")
            for item in items:
                user_id, upn = item.get("id"), item.get("userPrincipalName")
                if _is_user(item) and isinstance(user_id, str):
                    yield user_id, upn if isinstance(upn, str) else None

    def profile(self, user_id: str) -> Profile:
        """One user's profile phones (for users that joined the sync scope without a profile change)."""
        url = self._graph.paths.user_profile(user_id, PROFILE_SELECT)
        body = self._graph.get_json(url, what="read user profile", permission=USER_READ, ref=user_id)
        profile = _profile(body if isinstance(body, Mapping) else {})
        if profile is None:
            msg = "Graph returned a user without an id"
            raise PermanentGraphError(msg)
        return profile

    def _get(self, url: str, what: str, permission: str, *, expiring: bool) -> object:
        try:
            return self._graph.get_json(url, what=what, permission=permission)
        except GraphError as exc:
            if expiring and (exc.status == 410 or exc.code == "syncStateNotFound"):
                msg = f"the stored delta link has expired ({exc.status} {exc.code}); a full pass follows"
                raise DeltaExpiredError(
                    msg, status=exc.status, code=exc.code, request_id=exc.request_id
                ) from exc
            raise


def _link(body: object, key: str) -> str | None:
    value = body.get(key) if isinstance(body, Mapping) else None
    return value if isinstance(value, str) else None


def _is_user(item: Mapping[str, object]) -> bool:
    return item.get("@odata.type") in (None, "#microsoft.graph.user")


def _page(body: object) -> DeltaPage:
    profiles = tuple(p for p in (_profile(i) for i in collection_items(body)) if p is not None)
    return DeltaPage(profiles, _link(body, "@odata.nextLink"), _link(body, "@odata.deltaLink"))


def _profile(item: Mapping[str, object]) -> Profile | None:
    user_id = item.get("id")
    if not isinstance(user_id, str):
        return None
    upn = item.get("userPrincipalName")
    mobile = item.get("mobilePhone")
    business = item.get("businessPhones")
    first = business[0] if isinstance(business, list) and business and isinstance(business[0], str) else None
    return Profile(
        user_id,
        upn if isinstance(upn, str) else user_id,
        mobile if isinstance(mobile, str) and mobile.strip() else None,
        first if first and first.strip() else None,
        removed="@removed" in item,
    )
