"""Microsoft's own Graph SDK (msgraph-sdk 1.65.0, msgraph-beta-sdk 1.66.0) drives the sandbox through its
request builders, for every endpoint the product calls: each answer must parse into the SDK model with
nothing left in ``additional_data``, and the raw JSON of both sides must pass ``sdk_models``.

Each test runs its SDK calls with ``asyncio.run`` (the SDK is async only; pytest-asyncio is not used).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.authentication_phone_type import AuthenticationPhoneType
from msgraph.generated.models.email_authentication_method import EmailAuthenticationMethod
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.phone_authentication_method import PhoneAuthenticationMethod
from msgraph_beta.generated.models.sign_in_preferences import SignInPreferences
from msgraph_beta.generated.models.user_default_authentication_method_type import (
    UserDefaultAuthenticationMethodType,
)

from tests.contract.sdk_client import SDK_WARNINGS, SdkGraph, SequencedItem, leftovers, sdk_graph
from tests.sandbox import Sandbox, SandboxConfig
from tests.sandbox.users import OTHER_METHOD_TYPES

# The SDK's request builders emit these two DeprecationWarnings when first imported (sdk_client.py).
pytestmark = [pytest.mark.filterwarnings(w) for w in SDK_WARNINGS]

ANN, BOB, CARLA = "ann@contoso.test", "bob@contoso.test", "carla@contoso.test"
MOBILE_ID = "3179e48a-750b-4051-897c-87b9720928f7"
ALT_ID = "b6332ec1-7057-4abe-9331-3d72feddfe41"
OFFICE_ID = "e37fc753-ff3b-4958-9484-eaa9425c82bc"
EMAIL_ID = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f"
OUTER, INNER = "0d3f5a6e-1111-4c2b-9a7d-000000000001", "0d3f5a6e-1111-4c2b-9a7d-000000000002"
PROFILE_SELECT = [
    "id",
    "userPrincipalName",
    "mobilePhone",
    "businessPhones",
]  # provisioning/graph/directory.py
ROLES = ["UserAuthenticationMethod.ReadWrite.All", "User.ReadWrite.All", "GroupMember.Read.All",
         "RoleManagement.Read.Directory"]  # fmt: skip
SEED: dict[str, Any] = {
    "apps": [{"displayName": "sdk contract", "roles": ROLES}],
    "users": [
        {"userPrincipalName": ANN, "displayName": "Ann", "mobilePhone": "+31 6 12345678"},
        {"userPrincipalName": BOB, "displayName": "Bob", "businessPhones": ["+31 20 5550100"],
         "phoneMethods": {"mobile": "+31 611111111", "alternateMobile": "+31 622222222", "office": "+31 205550101"},
         "email": "bob@example.org", "defaultMethod": "sms"},
        {"userPrincipalName": CARLA, "displayName": "Carla", "phoneMethods": {"mobile": "+31 633333333"},
         "otherMethods": ["microsoftAuthenticator"], "defaultMethod": "push"},
    ],
    "groups": [
        {"id": OUTER, "displayName": "Sync scope", "members": [BOB, INNER]},
        {"id": INNER, "displayName": "Nested", "members": [CARLA]},
    ],
    "directoryRoles": [{"displayName": "Authentication Administrator", "members": [BOB]}],
}  # fmt: skip
Scenario = Callable[[SdkGraph], Awaitable[None]]


@pytest.fixture(name="sb")
def _sb(sandbox_state_dir: Path) -> Iterator[Sandbox]:
    with Sandbox.start(seed=SEED, config=SandboxConfig(page_size=2), state_dir=sandbox_state_dir) as sb:
        yield sb


def drive(sb: Sandbox, scenario: Scenario) -> SdkGraph:
    """Run *scenario* with fresh SDK clients on *sb*; the clients with every exchange they made."""

    async def run() -> SdkGraph:
        async with sdk_graph(sb) as graph:
            await scenario(graph)
            return graph

    return asyncio.run(run())


def clean(parsed: Any) -> Any:
    """*parsed*, after asserting the SDK placed every property of it."""
    assert parsed is not None
    assert leftovers(parsed) == []
    return parsed


def test_phone_methods_round_trip_through_the_sdk_request_builders(sb: Sandbox) -> None:
    """POST of all three phone types, list, get, PATCH, DELETE and SMS sign-in parse as the SDK's models."""

    async def scenario(g: SdkGraph) -> None:
        phones = g.v1.users.by_user_id(ANN).authentication.phone_methods
        for number, kind in [("+31 612345678", AuthenticationPhoneType.Mobile),
                             ("+31 612345679", AuthenticationPhoneType.AlternateMobile),
                             ("+31 205550199", AuthenticationPhoneType.Office)]:  # fmt: skip
            created = clean(
                await phones.post(PhoneAuthenticationMethod(phone_number=number, phone_type=kind))
            )
            assert created.phone_type is kind
        listed = clean(await phones.get())
        assert [p.phone_type for p in listed.value] == list(AuthenticationPhoneType)[:3]
        office = phones.by_phone_authentication_method_id(OFFICE_ID)
        await office.patch(
            PhoneAuthenticationMethod(phone_number="+31 205550198", phone_type=AuthenticationPhoneType.Office)
        )
        assert clean(await office.get()).phone_number == "+31 205550198"
        await phones.by_phone_authentication_method_id(ALT_ID).delete()
        mobile = phones.by_phone_authentication_method_id(MOBILE_ID)
        await mobile.enable_sms_sign_in.post()
        assert clean(await mobile.get()).sms_sign_in_state.value == "ready"
        await mobile.disable_sms_sign_in.post()

    graph = drive(sb, scenario)

    assert graph.raw_problems() == []
    assert sb.user(ANN)["phoneMethods"] == {"mobile": "+31 612345678", "office": "+31 205550198"}


def test_email_methods_round_trip_through_the_sdk_request_builders(sb: Sandbox) -> None:
    """POST, list, get, PATCH and DELETE of the email method parse as EmailAuthenticationMethod."""

    async def scenario(g: SdkGraph) -> None:
        emails = g.v1.users.by_user_id(ANN).authentication.email_methods
        assert (
            clean(await emails.post(EmailAuthenticationMethod(email_address="ann@example.org"))).id
            == EMAIL_ID
        )
        assert [e.email_address for e in clean(await emails.get()).value] == ["ann@example.org"]
        email = emails.by_email_authentication_method_id(EMAIL_ID)
        await email.patch(EmailAuthenticationMethod(email_address="ann.new@example.org"))
        assert clean(await email.get()).email_address == "ann.new@example.org"
        await email.delete()

    graph = drive(sb, scenario)

    assert graph.raw_problems() == []
    assert sb.user(ANN)["email"] is None


def test_all_methods_parse_polymorphically_by_odata_type(sb: Sandbox) -> None:
    """/authentication/methods items become the SDK's derived classes: password, phone, email, Authenticator."""
    found: dict[str, list[str]] = {}

    async def scenario(g: SdkGraph) -> None:
        for upn in (BOB, CARLA):
            items = clean(await g.v1.users.by_user_id(upn).authentication.methods.get()).value
            found[upn] = [type(item).__name__.removesuffix("AuthenticationMethod") for item in items]

    graph = drive(sb, scenario)

    assert graph.raw_problems() == []
    assert found == {BOB: ["Password", "Phone", "Phone", "Phone", "Email"],
                     CARLA: ["Password", "Phone", "MicrosoftAuthenticator"]}  # fmt: skip


@pytest.mark.parametrize("kind", list(OTHER_METHOD_TYPES))
def test_every_other_method_type_the_sandbox_lists_is_one_the_sdk_knows(sb: Sandbox, kind: str) -> None:
    """Each app method the sandbox can list in /authentication/methods parses with nothing left over, under
    v1.0 and beta; a type v1.0's SDK does not define (hardwareOath) is listed under beta only."""
    sb.add_user({"userPrincipalName": "other@contoso.test", "otherMethods": [kind]})
    listed: dict[str, list[str]] = {}

    async def scenario(g: SdkGraph) -> None:
        v1 = clean(await g.v1.users.by_user_id("other@contoso.test").authentication.methods.get())
        beta = clean(await g.beta.users.by_user_id("other@contoso.test").authentication.methods.get())
        listed["v1.0"] = [type(m).__name__ for m in v1.value]
        listed["beta"] = [type(m).__name__ for m in beta.value]

    assert drive(sb, scenario).raw_problems() == []
    model = kind[0].upper() + kind[1:] + "AuthenticationMethod"
    assert listed["beta"] == ["PasswordAuthenticationMethod", model]
    assert listed["v1.0"] == ["PasswordAuthenticationMethod"] + ([] if kind == "hardwareOath" else [model])


def test_sign_in_preferences_patch_through_the_beta_sdk(sb: Sandbox) -> None:
    """The beta SignInPreferences model PATCHes the default method; the sandbox takes the SDK's body."""

    async def scenario(g: SdkGraph) -> None:
        body = SignInPreferences(
            user_preferred_method_for_secondary_authentication=UserDefaultAuthenticationMethodType.VoiceMobile
        )
        await g.beta.users.by_user_id(BOB).authentication.sign_in_preferences.patch(body)

    graph = drive(sb, scenario)

    assert graph.raw_problems() == []
    assert sb.user(BOB)["defaultMethod"] == "voiceMobile"


def test_sign_in_preferences_get_through_the_beta_sdk(sb: Sandbox) -> None:
    """GET signInPreferences parses as the beta SignInPreferences model with nothing left over."""

    async def scenario(g: SdkGraph) -> None:
        prefs = clean(await g.beta.users.by_user_id(CARLA).authentication.sign_in_preferences.get())
        assert (
            prefs.user_preferred_method_for_secondary_authentication
            is UserDefaultAuthenticationMethodType.Push
        )

    assert drive(sb, scenario).raw_problems() == []


def test_users_delta_first_round_next_links_and_delta_link(sb: Sandbox) -> None:
    """Delta pages parse as the SDK's DeltaGetResponse; a deleted user's @removed stays in additional_data."""
    from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder

    seen: list[list[str]] = []
    removed: list[Any] = []
    ids = [sb.user(ANN)["id"], sb.user(CARLA)["id"]]

    async def scenario(g: SdkGraph) -> None:
        query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(select=PROFILE_SELECT)
        page = clean(await g.v1.users.delta.get(RequestConfiguration(query_parameters=query)))
        seen.append([u.user_principal_name for u in page.value])
        while page.odata_next_link:
            page = clean(await g.v1.users.delta.with_url(page.odata_next_link).get())
            seen.append([u.user_principal_name for u in page.value])
        sb.set_profile(ANN, mobilePhone="+31 6 99999999")
        sb.delete_user(CARLA)
        changes = await g.v1.users.delta.with_url(page.odata_delta_link).get()
        seen.append([u.id for u in changes.value])
        # No SDK model has @removed (see sdk_models): the SDK keeps it in the item's additional_data.
        removed.extend(u.additional_data.get("@removed") for u in changes.value)
        assert [leftovers(u, allowed=frozenset({"@removed"})) for u in changes.value] == [[], []]

    graph = drive(sb, scenario)

    assert graph.raw_problems() == []
    assert seen[:2] == [[ANN, BOB], [CARLA]]
    assert seen[2] == ids
    assert removed == [None, {"reason": "changed"}]


def test_users_with_select_list_and_errors(sb: Sandbox) -> None:
    """GET /users/{id}?$select=..., GET /users (paged) and a 404 ODataError all parse as the SDK's models."""
    from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

    errors: list[ODataError] = []

    async def scenario(g: SdkGraph) -> None:
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=PROFILE_SELECT)
        user = clean(
            await g.v1.users.by_user_id(sb.user(BOB)["id"]).get(RequestConfiguration(query_parameters=query))
        )
        assert (user.user_principal_name, user.business_phones) == (BOB, ["+31 20 5550100"])
        page = clean(await g.v1.users.get())
        assert page.odata_next_link is not None
        clean(await g.v1.users.with_url(page.odata_next_link).get())
        try:
            await g.v1.users.by_user_id("nobody@contoso.test").authentication.methods.get()
        except ODataError as exc:
            errors.append(exc)

    graph = drive(sb, scenario)

    assert graph.raw_problems() == []
    assert [e.error.code for e in errors] == ["Request_ResourceNotFound"]
    assert leftovers(errors[0]) == []


def test_group_members_transitive_members_and_transitive_member_of(sb: Sandbox) -> None:
    """Group member lists (DirectoryObject, polymorphic) and a user's transitiveMemberOf parse cleanly."""
    kinds: dict[str, list[str]] = {}

    async def collect(name: str, builder: Any) -> None:
        page = clean(await builder.get())
        kinds[name] = [type(item).__name__ for item in page.value]
        while page.odata_next_link:
            page = clean(await builder.with_url(page.odata_next_link).get())
            kinds[name] += [type(item).__name__ for item in page.value]

    async def scenario(g: SdkGraph) -> None:
        group = g.v1.groups.by_group_id(OUTER)
        clean(await group.get())
        await collect("members", group.members)
        await collect("transitiveMembers", group.transitive_members)
        # The SDK's cast builder says /graph.user (the CSDL alias); the product writes microsoft.graph.user.
        cast = f"{sb.url}/v1.0/groups/{OUTER}/transitiveMembers/microsoft.graph.user"
        await collect("transitiveMembers/user", group.transitive_members.graph_user.with_url(cast))
        await collect("transitiveMemberOf", g.v1.users.by_user_id(BOB).transitive_member_of)

    graph = drive(sb, scenario)

    assert graph.raw_problems() == []
    assert kinds == {
        "members": ["User", "Group"],
        "transitiveMembers": ["User", "Group", "User"],
        "transitiveMembers/user": ["User", "User"],
        "transitiveMemberOf": ["Group", "DirectoryRole"],
    }


def test_cast_segments_as_the_sdk_writes_them(sb: Sandbox) -> None:
    """The SDK's own cast URLs (``graph.user``, ``graph.group``) reach the same collections."""

    async def scenario(g: SdkGraph) -> None:
        clean(await g.v1.groups.by_group_id(OUTER).transitive_members.graph_user.get())
        clean(await g.v1.users.by_user_id(BOB).transitive_member_of.graph_group.get())

    assert drive(sb, scenario).raw_problems() == []


def test_parallel_batch_through_the_sdk_batch_request_builder(sb: Sandbox) -> None:
    """A parallel $batch of reads and writes for several users: every inner answer passes the SDK models."""
    statuses: dict[str, int] = {}

    async def scenario(g: SdkGraph) -> None:
        from msgraph_core.requests.batch_request_content import BatchRequestContent

        users = g.v1.users
        requests = {
            "methods": users.by_user_id(BOB).authentication.methods.to_get_request_information(),
            "phones": users.by_user_id(CARLA).authentication.phone_methods.to_get_request_information(),
            "add": users.by_user_id(ANN).authentication.phone_methods.to_post_request_information(
                PhoneAuthenticationMethod(phone_number="+31 612345678", phone_type=AuthenticationPhoneType.Mobile)),
            "email": users.by_user_id(ANN).authentication.email_methods.to_post_request_information(
                EmailAuthenticationMethod(email_address="ann@example.org")),
            "office": users.by_user_id(BOB).authentication.phone_methods.by_phone_authentication_method_id(
                OFFICE_ID).to_patch_request_information(
                PhoneAuthenticationMethod(phone_number="+31 205550102", phone_type=AuthenticationPhoneType.Office)),
            "missing": users.by_user_id("nobody@contoso.test").authentication.methods.to_get_request_information(),
        }  # fmt: skip
        content = BatchRequestContent({key: SequencedItem(info, id=key) for key, info in requests.items()})
        statuses.update((await g.v1.batch.post(content)).get_response_status_codes())

    graph = drive(sb, scenario)

    assert graph.raw_problems() == []
    assert statuses == {
        "methods": 200,
        "phones": 200,
        "add": 201,
        "email": 201,
        "office": 204,
        "missing": 404,
    }


def test_sequential_batch_with_depends_on_runs_as_one_chain(sb: Sandbox) -> None:
    """A dependsOn chain (mobile, then alternateMobile, then the list) and a beta batch of signInPreferences."""
    statuses: dict[str, dict[str, int]] = {}
    sent: list[Any] = []

    async def scenario(g: SdkGraph) -> None:
        from msgraph_core.requests.batch_request_builder import BatchRequestBuilder
        from msgraph_core.requests.batch_request_content import BatchRequestContent

        phones = g.v1.users.by_user_id(ANN).authentication.phone_methods
        mobile = SequencedItem(
            phones.to_post_request_information(
                PhoneAuthenticationMethod(
                    phone_number="+31 612345678", phone_type=AuthenticationPhoneType.Mobile
                )
            ),
            id="1",
        )
        alternate = SequencedItem(phones.to_post_request_information(
            PhoneAuthenticationMethod(phone_number="+31 612345679", phone_type=AuthenticationPhoneType.AlternateMobile)),
            id="2", depends_on=[mobile])  # fmt: skip
        listed = SequencedItem(phones.to_get_request_information(), id="3", depends_on=[alternate])
        answer = await g.v1.batch.post(BatchRequestContent({"1": mobile, "2": alternate, "3": listed}))
        statuses["v1.0"] = answer.get_response_status_codes()
        sent.extend(i.get("dependsOn") for i in g.exchanges[-1].request["requests"])
        body = SignInPreferences(
            user_preferred_method_for_secondary_authentication=UserDefaultAuthenticationMethodType.Sms
        )
        prefs = g.beta.users.by_user_id(
            CARLA
        ).authentication.sign_in_preferences.to_patch_request_information(body)
        # msgraph-beta-sdk's client has no .batch property: the same msgraph-core builder on the beta adapter.
        beta = await BatchRequestBuilder(g.beta.request_adapter).post(
            BatchRequestContent({"p": SequencedItem(prefs, id="p")})
        )
        statuses["beta"] = beta.get_response_status_codes()

    graph = drive(sb, scenario)

    assert graph.raw_problems() == []
    assert sent == [[], ["1"], ["2"]]
    assert statuses == {"v1.0": {"1": 201, "2": 201, "3": 200}, "beta": {"p": 204}}
    assert sb.user(CARLA)["defaultMethod"] == "sms"
