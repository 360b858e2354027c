"""Resource-unit costs of the requests the app sends, as Graph's identity-and-access table sets them."""

from __future__ import annotations

import pytest

from provisioning.graph.costs import resource_units

ROOT = "https://graph.microsoft.com/v1.0"


@pytest.mark.parametrize(
    ("method", "url", "units"),
    [
        pytest.param("GET", f"{ROOT}/users", 2, id="the-user-list"),
        pytest.param("GET", f"{ROOT}/users?$select=id,mobilePhone", 1, id="the-list-with-select"),
        pytest.param("GET", f"{ROOT}/users/delta?$select=id", 1, id="delta-with-select"),
        pytest.param("GET", f"{ROOT}/users/delta", 2, id="delta"),
        pytest.param("GET", "/users/ann@contoso.com/authentication/methods", 1, id="one-users-methods"),
        pytest.param("GET", f"{ROOT}/groups/g1/members", 3, id="members"),
        pytest.param(
            "GET", f"{ROOT}/groups/g1/transitiveMembers/microsoft.graph.user?$select=id", 4, id="cast"
        ),
        pytest.param("GET", f"{ROOT}/groups/g1/transitiveMembers?$expand=manager", 6, id="expand"),
        pytest.param("GET", f"{ROOT}/users/u1/transitiveMemberOf?$top=5", 1, id="small-top"),
        pytest.param("GET", f"{ROOT}/users/u1?$select=id", 1, id="never-below-one"),
        pytest.param("POST", "/users/u1/authentication/phoneMethods", 1, id="a-write"),
        pytest.param("DELETE", f"{ROOT}/users/u1/authentication/phoneMethods/x", 1, id="a-delete"),
    ],
)
def test_each_request_costs_what_graph_documents(method, url, units):
    assert resource_units(method, url) == units
