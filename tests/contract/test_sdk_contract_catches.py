"""The SDK contract suite can fail: a sandbox doctored to answer what Graph's SDK does not know is caught,
both by the SDK-driven check (``leftovers``) and by ``sdk_models`` on the raw JSON."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from msgraph.generated.models.authentication_phone_type import AuthenticationPhoneType
from msgraph.generated.models.phone_authentication_method import PhoneAuthenticationMethod

from tests.contract import sdk_models
from tests.contract.sdk_client import SDK_WARNINGS, SdkGraph, leftovers, sdk_graph
from tests.sandbox import Sandbox, phones, users
from tests.sandbox import operations as sandbox_operations

pytestmark = [pytest.mark.filterwarnings(w) for w in SDK_WARNINGS]  # see sdk_client.py

UPN = "ann@contoso.test"
SEED = {"users": [{"userPrincipalName": UPN, "phoneMethods": {"mobile": "+31 612345678"}}]}


def _doctor(monkeypatch: pytest.MonkeyPatch, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Make every phone the sandbox serializes pass through *change* (all modules that imported it)."""
    original = users.phone_json

    def doctored(user: users.User, phone_type: str) -> dict[str, Any]:
        return change(original(user, phone_type))

    for module in (users, phones, sandbox_operations):
        monkeypatch.setattr(module, "phone_json", doctored)


def _list_phones(sb: Sandbox) -> tuple[Any, SdkGraph]:
    async def run() -> tuple[Any, SdkGraph]:
        async with sdk_graph(sb) as graph:
            return await graph.v1.users.by_user_id(UPN).authentication.phone_methods.get(), graph

    return asyncio.run(run())


def test_an_unknown_phone_property_is_caught(
    monkeypatch: pytest.MonkeyPatch, sandbox_state_dir: Path
) -> None:
    """A phone carrying ``phoneKind`` leaves it in the SDK's additional_data, and sdk_models names it."""
    _doctor(monkeypatch, lambda phone: {**phone, "phoneKind": "cellular"})

    with Sandbox.start(seed=SEED, state_dir=sandbox_state_dir) as sb:
        parsed, graph = _list_phones(sb)

    assert leftovers(parsed) == ["/value/0/phoneKind"]
    assert graph.raw_problems() == [
        "v1.0 GET /users/{user}/authentication/phoneMethods: /value/0/phoneKind is a property the SDK's "
        "PhoneAuthenticationMethod does not know (value 'cellular')"
    ]


def test_an_unknown_phone_type_is_caught(monkeypatch: pytest.MonkeyPatch, sandbox_state_dir: Path) -> None:
    """``phoneType: "cell"`` reads as None in the SDK without a trace; sdk_models compares the raw string."""
    _doctor(monkeypatch, lambda phone: {**phone, "phoneType": "cell"})

    with Sandbox.start(seed=SEED, state_dir=sandbox_state_dir) as sb:
        parsed, graph = _list_phones(sb)

    assert parsed.value[0].phone_type is None  # the SDK's silence this suite exists to break
    assert graph.raw_problems() == [
        "v1.0 GET /users/{user}/authentication/phoneMethods: /value/0/phoneType 'cell' is not a value of the "
        "SDK enum AuthenticationPhoneType (alternateMobile, mobile, office, unknownFutureValue)"
    ]


def test_the_sdks_own_batch_item_is_caught_writing_depends_on(sandbox_state_dir: Path) -> None:
    """msgraph-core's stock BatchRequestItem writes ``depends_on``, a key Graph ignores (PR #996)."""
    from msgraph_core.requests.batch_request_content import BatchRequestContent
    from msgraph_core.requests.batch_request_item import BatchRequestItem

    async def run(sb: Sandbox) -> SdkGraph:
        async with sdk_graph(sb) as graph:
            phones_builder = graph.v1.users.by_user_id(UPN).authentication.phone_methods
            post = phones_builder.to_post_request_information(
                PhoneAuthenticationMethod(
                    phone_number="+31 612345679", phone_type=AuthenticationPhoneType.AlternateMobile
                )
            )
            first = BatchRequestItem(phones_builder.to_get_request_information(), id="1")
            second = BatchRequestItem(post, id="2", depends_on=[first])
            await graph.v1.batch.post(BatchRequestContent({"1": first, "2": second}))
            return graph

    with Sandbox.start(seed=SEED, state_dir=sandbox_state_dir) as sb:
        graph = asyncio.run(run(sb))

    assert graph.raw_problems() == [
        f"v1.0 POST {sdk_models.BATCH}: /requests/{n}/depends_on is not a $batch request key" for n in (0, 1)
    ]
