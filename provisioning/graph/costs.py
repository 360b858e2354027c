"""Graph's resource-unit cost of one request (graph-api.md sections 7 and 15), for the pacer's budget.

The identity-and-access table: ``GET users`` (the list) costs 2, ``groups/{id}/members`` 3,
``groups/{id}/transitiveMembers`` 5, ``transitiveMemberOf`` 2 (of the user, which the docs extend from
``me/``), any other identity path 1; a write 1 (and 1 write). ``$select`` takes 1 off, ``$expand`` adds
1, ``$top`` below 20 takes 1 off, and no request costs less than 1. Delta pages and nextLinks are
charged like the list they page. The pacer charges these before sending, so its resource-unit bucket
holds the documented budget rather than a count of requests.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

_VERSIONS = {"v1.0", "beta"}
_LIST_COSTS = {"members": 3, "transitivemembers": 5, "transitivememberof": 2}  # after any type cast


def resource_units(method: str, url: str) -> int:
    """The resource units Graph charges for *method* on *url* (absolute, or relative to the version)."""
    if method.upper() not in {"GET", "HEAD"}:
        return 1
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = {key.lower() for key, _ in query}
    cost = _base_cost([unquote(s).lower() for s in parts.path.split("/") if s])
    if "$select" in names:
        cost -= 1
    if "$expand" in names:
        cost += 1
    top = next((value for key, value in query if key.lower() == "$top"), "")
    if top.isdigit() and int(top) < 20:
        cost -= 1
    return max(1, cost)


def _base_cost(segments: list[str]) -> int:
    path = [s for s in segments if not s.startswith("microsoft.graph.")]  # a type cast costs nothing
    if path and path[0] in _VERSIONS:
        path = path[1:]
    if path in (["users"], ["users", "delta"]):  # the user list (and its delta pages)
        return 2
    return _LIST_COSTS.get(path[-1], 1) if path else 1
