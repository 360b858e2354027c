"""Throttling costs per path and query option, the S/M/L tiers by tenant size, and the tenant-wide
write cap across apps (graph-api.md 7, 15)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sandbox import Sandbox, SandboxConfig
from tests.sandbox.throttle import Limits, Throttle
from tests.sandbox_tests.conftest import MOBILE_ID, NESTED, SYNC_SCOPE, client_for, directory_seed, phones

MEMBERS = f"/groups/{SYNC_SCOPE}/members"
TRANSITIVE = f"/groups/{SYNC_SCOPE}/transitiveMembers"


@pytest.mark.parametrize(
    ("url", "params", "units"),
    [
        pytest.param("/users", {}, "2", id="users-2"),
        pytest.param("/users", {"$select": "id"}, "1", id="users-select-1"),
        pytest.param("/users", {"$top": "5"}, "1", id="users-top-under-20-1"),
        pytest.param("/users", {"$top": "20"}, "2", id="users-top-20-2"),
        pytest.param("/users", {"$select": "id", "$top": "5"}, "1", id="never-below-1"),
        pytest.param("/users/ann@contoso.test", {}, "1", id="one-user-1"),
        pytest.param("/users/ann@contoso.test", {"$expand": "manager"}, "2", id="expand-plus-1"),
        pytest.param("/users/delta", {}, "2", id="delta-2"),
        pytest.param(f"/groups/{SYNC_SCOPE}", {}, "1", id="group-1"),
        pytest.param(MEMBERS, {}, "3", id="members-3"),
        pytest.param(MEMBERS, {"$select": "id"}, "2", id="members-select-2"),
        pytest.param(MEMBERS, {"$top": "10"}, "2", id="members-top-2"),
        pytest.param(f"{MEMBERS}/microsoft.graph.user", {}, "3", id="members-cast-3"),
        pytest.param(TRANSITIVE, {}, "5", id="transitive-members-5"),
        pytest.param(TRANSITIVE, {"$select": "id", "$top": "10"}, "3", id="transitive-select-top-3"),
        pytest.param("/users/ann@contoso.test/transitiveMemberOf", {}, "2", id="transitive-member-of-2"),
        pytest.param(phones("ann@contoso.test"), {}, "1", id="methods-1"),
    ],
)
def test_reads_cost_the_documented_resource_units(
    dgraph: httpx.Client, url: str, params: dict[str, str], units: str
) -> None:
    """x-ms-resource-unit follows the identity cost table and the query-option adjustments."""
    response = dgraph.get(url, params=params)

    assert response.status_code == 200, response.text
    assert response.headers["x-ms-resource-unit"] == units


def test_writes_cost_one_resource_unit(graph: httpx.Client) -> None:
    """POST, PATCH and DELETE cost 1 RU (and 1 write)."""
    post = graph.post(
        phones("empty@contoso.test"), json={"phoneNumber": "+31 600000002", "phoneType": "mobile"}
    )
    patch = graph.patch(f"{phones('empty@contoso.test')}/{MOBILE_ID}", json={"phoneNumber": "+31 600000003"})
    office = graph.post(
        phones("empty@contoso.test"), json={"phoneNumber": "+31 205550199", "phoneType": "office"}
    )
    delete = graph.delete(f"{phones('empty@contoso.test')}/e37fc753-ff3b-4958-9484-eaa9425c82bc")

    assert [r.status_code for r in (post, patch, office, delete)] == [201, 204, 201, 204]
    assert {r.headers["x-ms-resource-unit"] for r in (post, patch, office, delete)} == {"1"}


@pytest.mark.parametrize(
    ("limits", "users", "capacity"),
    [
        pytest.param(Limits(), 49, 3500, id="auto-49-users-is-S"),
        pytest.param(Limits(), 50, 5000, id="auto-50-users-is-M"),
        pytest.param(Limits(), 500, 5000, id="auto-500-users-is-M"),
        pytest.param(Limits(), 501, 8000, id="auto-501-users-is-L"),
        pytest.param(Limits(tier="L"), 3, 8000, id="fixed-tier-wins"),
        pytest.param(Limits(resource_units=10, tier="L"), 9000, 10, id="explicit-resource-units-win"),
    ],
)
def test_the_resource_unit_quota_follows_the_tier(limits: Limits, users: int, capacity: int) -> None:
    """An app+tenant pair gets exactly its tier's RU per window: the next unit is refused."""
    throttle = Throttle(limits, clock=lambda: 0.0)

    allowed = throttle.charge("app", "tenant", capacity, write=False, users=users)
    refused = throttle.charge("app", "tenant", 1, write=False, users=users)

    assert (allowed.allowed, refused.allowed, refused.reason) == (True, False, "ResourceUnitLimitExceeded")


def test_the_tier_changes_when_the_tenant_grows() -> None:
    """With tier "auto" the quota is chosen from the user count at the time of each request."""
    throttle = Throttle(Limits(), clock=lambda: 0.0)
    throttle.charge("app", "tenant", 3500, write=False, users=10)

    assert not throttle.charge("app", "tenant", 1, write=False, users=10).allowed
    assert throttle.charge("app", "tenant", 1, write=False, users=600).allowed


def _seed(users: int) -> dict[str, Any]:
    seed = directory_seed()
    seed["users"] += [
        {"userPrincipalName": f"extra{i}@contoso.test"} for i in range(users - len(seed["users"]))
    ]
    return seed


def _burn(client: httpx.Client, batches: int) -> set[int]:
    """Send ``batches`` envelopes of 20 transitiveMembers reads (100 RU each); the inner statuses."""
    statuses: set[int] = set()
    requests = [
        {"id": str(i), "method": "GET", "url": f"/groups/{NESTED}/transitiveMembers"} for i in range(20)
    ]
    for _ in range(batches):
        items = client.post("/$batch", json={"requests": requests}).json()["responses"]
        statuses |= {item["status"] for item in items}
    return statuses


@pytest.mark.parametrize(("users", "throttled"), [(5, True), (50, False)], ids=["S-tenant", "M-tenant"])
def test_a_small_tenant_gets_the_S_quota_over_http(state_dir: Path, users: int, throttled: bool) -> None:
    """By default a tenant under 50 users has 3,500 RU per 10 s: 3,500 RU pass, the next read is 429;
    a 50-user tenant (M) still has room. Windows are stretched so refill does not blur the count."""
    config = SandboxConfig(time_scale=0.001, shuffle_batch=False)
    with Sandbox.start(seed=_seed(users), config=config, state_dir=state_dir) as sb, client_for(sb) as client:
        assert _burn(client, 35) == {200}
        response = client.get(f"/groups/{NESTED}")

    assert (response.status_code == 429) is throttled
    if throttled:
        assert response.headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"


def test_the_tenant_write_cap_counts_every_app(sandbox: Sandbox, graph: httpx.Client) -> None:
    """18,000 writes per 5 min per tenant (here 3) across apps: a second app is refused once the tenant
    is full although its own budget is not, with a Tenant/Write scope and Retry-After."""
    sandbox.configure(tenant_writes=3, time_scale=0.01)
    other = sandbox.add_app({"displayName": "second", "clientSecret": "s",
                             "roles": ["UserAuthenticationMethod.ReadWrite.All"]})  # fmt: skip
    url = f"{phones('mob@contoso.test')}/{MOBILE_ID}"
    first = [graph.patch(url, json={"phoneNumber": f"+31 60000000{i}"}).status_code for i in range(2)]
    with client_for(sandbox, other) as second:
        allowed = second.patch(url, json={"phoneNumber": "+31 600000007"})
        refused = second.patch(url, json={"phoneNumber": "+31 600000008"})
        read = second.get(phones("mob@contoso.test"))

    assert (first, allowed.status_code, refused.status_code, read.status_code) == ([204, 204], 204, 429, 200)
    assert refused.headers["x-ms-throttle-scope"] == f"Tenant/Write/{other}/{sandbox.tenant_id}"
    assert refused.headers["x-ms-throttle-information"] == "WriteLimitExceeded"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "TooManyRequests"


def test_the_tier_and_tenant_cap_are_settings(sandbox: Sandbox) -> None:
    """resource_units defaults to None (the tier's quota), tier to auto, the tenant cap to 18,000 / 300 s;
    an unknown tier is refused."""
    config = sandbox.config

    assert (config.resource_units, config.tier, config.tenant_writes, config.tenant_window_s) == (
        None, "auto", 18000, 300.0,
    )  # fmt: skip
    with pytest.raises(ValueError, match="tier"):
        sandbox.configure(tier="XL")


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _writes_admitted(throttle: Throttle, clock: _Clock, *, seconds: float, per_second: float) -> list[float]:
    """Offer one write every 1/per_second s for *seconds*; the times of the writes admitted."""
    admitted = []
    for step in range(int(seconds * per_second)):
        clock.now = step / per_second
        if throttle.charge("app", "tenant", 1, write=True).allowed:
            admitted.append(clock.now)
    return admitted


@pytest.mark.parametrize("model", ["sliding", "bucket"])
def test_the_write_window_slides_by_default_and_a_bucket_is_the_kinder_option(model: str) -> None:
    """Offered 40 writes/s for 300 s: the sliding window admits no 150 s span of more than 3,000 writes
    (what a Graph that counts a sliding window would allow); the bucket lets its full start plus the
    refill through (3,000 + 20 * 150 = 6,000 in the first 150 s) and so hides an over-eager client."""
    clock = _Clock()
    throttle = Throttle(Limits(resource_units=10**9, tenant_writes=10**9, write_model=model), clock=clock)

    admitted = _writes_admitted(throttle, clock, seconds=300, per_second=40)

    busiest = max(sum(1 for t in admitted if start <= t < start + 150) for start in admitted[::100])
    if model == "sliding":
        assert busiest == 3000
    else:
        assert busiest > 5000


def test_a_sliding_window_refusal_says_when_the_oldest_write_leaves() -> None:
    """After 3,000 writes at t=0..2.999 s, the next write is refused until the first one is 150 s old."""
    clock = _Clock()
    throttle = Throttle(Limits(resource_units=10**9, tenant_writes=10**9), clock=clock)
    for step in range(3000):
        clock.now = step / 1000
        assert throttle.charge("app", "tenant", 1, write=True).allowed

    clock.now = 10.0
    refused = throttle.charge("app", "tenant", 1, write=True)
    clock.now = 150.0
    later = throttle.charge("app", "tenant", 1, write=True)

    assert (refused.allowed, refused.reason, refused.retry_after_s) == (False, "WriteLimitExceeded", 140)
    assert later.allowed
