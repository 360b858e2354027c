"""Fixtures for the sandbox's own tests: one key-material dir per session, a fresh sandbox per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sandbox import Sandbox, SandboxConfig

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
READER = "bbbbbbbb-cccc-dddd-eeee-ffffffffffff"
NOBODY = "cccccccc-dddd-eeee-ffff-000000000000"
MOBILE_ID = "3179e48a-750b-4051-897c-87b9720928f7"
ALT_ID = "b6332ec1-7057-4abe-9331-3d72feddfe41"
OFFICE_ID = "e37fc753-ff3b-4958-9484-eaa9425c82bc"
EMAIL_ID = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f"


def seed() -> dict[str, Any]:
    """A small tenant: a writer app, a reader app with a secret, an app without roles, and users."""
    return {
        "tenantId": TENANT,
        "apps": [
            {"clientId": CLIENT, "displayName": "writer",
             "roles": {"graph": ["UserAuthenticationMethod.ReadWrite.All", "User.Read.All", "User.ReadWrite.All"],
                       "api://provisioning": ["Provisioning.Submit"]}},
            {"clientId": READER, "displayName": "reader", "clientSecret": "s3cret",
             "roles": ["UserAuthenticationMethod.Read.All", "User.Read.All"]},
            {"clientId": NOBODY, "displayName": "nobody", "clientSecret": "s3cret", "roles": []},
        ],
        "users": [
            {"userPrincipalName": "empty@contoso.test", "displayName": "Empty"},
            {"userPrincipalName": "mob@contoso.test", "phoneMethods": {"mobile": "+31 611111111"}},
            {"userPrincipalName": "full@contoso.test",
             "phoneMethods": {"mobile": "+31 622222222", "alternateMobile": "+31 633333333",
                              "office": "+31 205550100"},
             "email": "full@example.org", "defaultMethod": "sms"},
            {"userPrincipalName": "app@contoso.test", "phoneMethods": {"mobile": "+31 644444444"},
             "otherMethods": ["microsoftAuthenticator"], "defaultMethod": "push"},
            {"userPrincipalName": "nopolicy@contoso.test", "phoneMethods": {"mobile": "+31 655555555"},
             "inSmsSignInPolicy": False},
            {"userPrincipalName": "$dollar@contoso.test", "mobilePhone": "+1 425 555 0100"},
            {"userPrincipalName": "guest_example.org#EXT#@contoso.test"},
        ],
    }  # fmt: skip


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox-state")


@pytest.fixture
def config() -> SandboxConfig:
    return SandboxConfig(shuffle_batch=False)


@pytest.fixture
def sandbox(state_dir: Path, config: SandboxConfig) -> Iterator[Sandbox]:
    with Sandbox.start(seed=seed(), config=config, state_dir=state_dir) as sb:
        yield sb


def client_for(sb: Sandbox, app: str = CLIENT, **kwargs: Any) -> httpx.Client:
    """An httpx client on the sandbox's Graph v1.0 root with a token for ``app``."""
    headers = {"Authorization": f"Bearer {sb.token(app)}"}
    return httpx.Client(base_url=f"{sb.url}/v1.0", verify=sb.ssl_context(), headers=headers, **kwargs)


@pytest.fixture
def graph(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox) as client:
        yield client


@pytest.fixture
def beta(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sandbox.token()}"}
    with httpx.Client(
        base_url=f"{sandbox.url}/beta", verify=sandbox.ssl_context(), headers=headers
    ) as client:
        yield client


def phones(user: str) -> str:
    """The phoneMethods collection path of a user."""
    return f"/users/{user}/authentication/phoneMethods"


def error_code(response: httpx.Response) -> str:
    """``error.code`` of a Graph error response."""
    return str(response.json()["error"]["code"])


SYNC_SCOPE = "99999999-0000-0000-0000-000000000001"
NESTED = "99999999-0000-0000-0000-000000000002"
PHONE_ONLY = "dddddddd-eeee-ffff-0000-111111111111"
SELECT = "id,userPrincipalName,mobilePhone,businessPhones"


def directory_seed() -> dict[str, Any]:
    """Five users (one synced from on-premises), a scope group with a nested group, and apps with the
    roles a profile-phone sync job may or may not have."""
    return {
        "tenantId": TENANT,
        "apps": [
            {"clientId": CLIENT, "displayName": "sync job",
             "roles": ["User.Read.All", "GroupMember.Read.All", "User.ReadWrite.All",
                       "UserAuthenticationMethod.ReadWrite.All"]},
            {"clientId": READER, "displayName": "user reader", "clientSecret": "s", "roles": ["User.Read.All"]},
            {"clientId": NOBODY, "displayName": "member reader", "clientSecret": "s",
             "roles": ["GroupMember.Read.All"]},
            {"clientId": PHONE_ONLY, "displayName": "phone writer", "clientSecret": "s",
             "roles": ["User.Read.All", "User-Phone.ReadWrite.All"]},
        ],
        "users": [
            {"userPrincipalName": "ann@contoso.test", "mobilePhone": "+31 6 12345678",
             "businessPhones": ["+31 20 5550100"], "jobTitle": "Engineer"},
            {"userPrincipalName": "bob@contoso.test", "mobilePhone": "+1 425 555 0109",
             "onPremisesSyncEnabled": True},
            {"userPrincipalName": "carla@contoso.test"},
            {"userPrincipalName": "dave@contoso.test", "mobilePhone": "06-23456789"},
            {"userPrincipalName": "eve@contoso.test"},
        ],
        "groups": [
            {"id": SYNC_SCOPE, "displayName": "Phone sync scope",
             "members": ["ann@contoso.test", "BOB@contoso.test", "carla@contoso.test", NESTED]},
            {"id": NESTED, "displayName": "Nested", "members": ["dave@contoso.test", "ann@contoso.test"]},
        ],
    }  # fmt: skip


@pytest.fixture
def directory(state_dir: Path) -> Iterator[Sandbox]:
    """A sandbox on ``directory_seed()`` with pages of two, so paging shows with five users."""
    config = SandboxConfig(shuffle_batch=False, page_size=2)
    with Sandbox.start(seed=directory_seed(), config=config, state_dir=state_dir) as sb:
        yield sb


@pytest.fixture
def dgraph(directory: Sandbox) -> Iterator[httpx.Client]:
    """A v1.0 client on the directory sandbox as the sync-job app."""
    with client_for(directory) as client:
        yield client


def follow(client: httpx.Client, url: str, **kwargs: Any) -> tuple[list[list[dict[str, Any]]], str]:
    """Follow ``@odata.nextLink`` from ``url``; the pages' items and the final ``@odata.deltaLink``."""
    pages: list[list[dict[str, Any]]] = []
    while True:
        response = client.get(url, **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["value"])
        if "@odata.nextLink" not in body:
            return pages, body.get("@odata.deltaLink", "")
        url = body["@odata.nextLink"]
