"""``GET /users/delta``: full and incremental rounds over the tenant's change counter (graph-api.md 8).

A round is paged by the users' insertion order; each ``$skiptoken`` / ``$deltatoken`` is an opaque
encoding of (round start ``since``, counter at round start ``upto``, cursor, ``$select``, page size,
token epoch). A user appears in an incremental round when a tracked property (a selected one, or any
without ``$select``) changed after ``since``, when it was added after ``since``, or as ``@removed`` when
deleted after ``since``. Changes made while a round is paged show up again in the next round: Graph
warns of replays, so clients must be idempotent anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.sandbox import paging
from tests.sandbox.errors import GraphFailure
from tests.sandbox.messages import Reply, graph_error, json_reply
from tests.sandbox.operations import Call
from tests.sandbox.users import User, user_json

DELTA_PATH = "users/delta"
EXPIRED_410 = "410"
EXPIRED_SYNC_STATE = "syncStateNotFound"
EXPIRY_MODES = (EXPIRED_410, EXPIRED_SYNC_STATE)


@dataclass(frozen=True)
class _Round:
    """Where a delta round stands: what changed after ``since`` (None: full sync), up to which user."""

    since: int | None
    upto: int
    after: int
    select: list[str] | None
    top: int
    epoch: int

    def token(self, **changes: Any) -> str:
        state = {"since": self.since, "upto": self.upto, "after": self.after, "select": self.select,
                 "top": self.top, "epoch": self.epoch, **changes}  # fmt: skip
        return paging.encode(state)


def users_delta(call: Call) -> Reply:
    """One page of a delta round: ``@odata.nextLink`` until the last page, which has ``@odata.deltaLink``."""
    tenant = call.tenant
    skip, delta = paging.param(call.query, "$skiptoken"), paging.param(call.query, "$deltatoken")
    if skip is None and delta is not None and delta.lower() == "latest":
        # "Sync from now": no data, just a deltaLink at the current counter.
        start = _Round(tenant.counter, tenant.counter, 0, call.select(), _top(call), tenant.delta_epoch)
        return _page(call, start, [], more=False)
    if skip is None and delta is None:
        state = _Round(None, tenant.counter, 0, call.select(), _top(call), tenant.delta_epoch)
    else:
        state = _resume(call, skip, delta)
        if state.epoch < tenant.delta_epoch:
            return _expired(call, state)
    minimal = state.since is not None and paging.preferences(call.headers).get("return") == "minimal"
    items: list[dict[str, Any]] = []
    last = state.after
    for user in tenant.tracked():
        if user.seq <= state.after:
            continue
        item = _item(user, state, minimal)
        if item is None:
            continue
        if len(items) == state.top:
            return _page(call, state, items, more=True, cursor=last, minimal=minimal)
        items.append(item)
        last = user.seq
    return _page(call, state, items, more=False, minimal=minimal)


def _top(call: Call) -> int:
    return paging.page_size(call.query, call.headers, call.page_size)


def _resume(call: Call, skip: str | None, delta: str | None) -> _Round:
    malformed = GraphFailure(400, "badRequest", "The delta or skip token is malformed.")
    raw = paging.decode(skip if skip is not None else delta or "") or {}
    since, select = raw.get("since"), raw.get("select")
    if not isinstance(since, int | None) or not isinstance(select, list | None):
        raise malformed
    try:
        state = _Round(since, int(raw["upto"]), int(raw["after"]), select, int(raw["top"]), int(raw["epoch"]))
    except (TypeError, KeyError, ValueError) as exc:
        raise malformed from exc
    if skip is None:  # a deltaLink starts a new round: changes after `since`, up to now
        state = _Round(state.since, call.tenant.counter, 0, state.select, state.top, state.epoch)
    return state


def _expired(call: Call, state: _Round) -> Reply:
    """Graph's two documented answers to an expired token: 410 + Location, or 400 syncStateNotFound."""
    if call.delta_expiry == EXPIRED_SYNC_STATE:
        return graph_error(400, "syncStateNotFound", "The sync state is not found. Restart the delta sync.")
    reply = graph_error(
        410, "resyncRequired", "The delta token is no longer valid; resync from the Location."
    )
    query = {"$select": ",".join(state.select)} if state.select else {}
    reply.headers["Location"] = paging.link(call.root, DELTA_PATH, query)
    return reply


def _item(user: User, state: _Round, minimal: bool) -> dict[str, Any] | None:
    """The user's entry in this round, or None when it has nothing to report."""
    if user.removed is not None:
        stamp, reason = user.removed
        if state.since is None or stamp <= state.since:
            return None
        return {"id": user.id, "@removed": {"reason": reason}}
    if state.since is None or user.created > state.since:
        return user_json(user, state.select)
    changed = user.changed_since(state.since, state.select)
    if not changed:
        return None
    if not minimal:
        return user_json(user, state.select)
    return user_json(user, ["id", *(name for name in changed if name != "id")])


def _page(
    call: Call,
    state: _Round,
    items: list[dict[str, Any]],
    *,
    more: bool,
    cursor: int = 0,
    minimal: bool = False,
) -> Reply:
    suffix = f"users({','.join(state.select)})" if state.select else "users"
    body: dict[str, Any] = {"@odata.context": f"{call.metadata}#{suffix}", "value": items}
    if more:
        body["@odata.nextLink"] = paging.link(
            call.root, DELTA_PATH, {"$skiptoken": state.token(after=cursor)}
        )
    else:
        token = state.token(since=state.upto, after=0)
        body["@odata.deltaLink"] = paging.link(call.root, DELTA_PATH, {"$deltatoken": token})
    reply = json_reply(200, body)
    if minimal:
        reply.headers["Preference-Applied"] = "return=minimal"
    return reply
