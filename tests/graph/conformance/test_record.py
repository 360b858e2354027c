"""The conformance kit's pure parts: masked shapes, the recording diff, the scenario's batch shapes."""

from __future__ import annotations

import pytest

from provisioning.core.models import METHOD_IDS, MethodKind
from provisioning.graph.conformance import steps
from provisioning.graph.conformance.record import (
    Difference,
    Exchange,
    diff,
    error_of,
    headers_of,
    shape,
    step_record,
)
from provisioning.graph.conformance.steps import BatchStep
from tests.contract.check import shape_problems

MOBILE_ID = METHOD_IDS[MethodKind.MOBILE]


def recording(*step_records: dict[str, object]) -> dict[str, object]:
    return {"format": 1, "meta": {}, "preflight": [], "steps": list(step_records)}


def added_mobile(status: int = 201, headers: dict[str, str] | None = None) -> dict[str, object]:
    answer = Exchange(status, headers or {"Content-Type": "application/json", "x-ms-resource-unit": "1"},
                      {"id": MOBILE_ID, "phoneNumber": "+1 4255550101", "phoneType": "mobile"})  # fmt: skip
    body = {"phoneNumber": "+1 4255550101", "phoneType": "mobile"}
    return step_record("phones.add_mobile", "POST", steps.PHONES, body, 201, answer)


def test_a_shape_keeps_keys_and_types_and_masks_every_value_but_enum_words():
    """Numbers, addresses and ids become their JSON type; phoneType and @odata.type words stay."""
    value = {
        "id": MOBILE_ID,
        "phoneNumber": "+1 4255550101",
        "phoneType": "mobile",
        "smsSignInState": "+1 4255550101",  # an enum key never carries a non-word through
        "@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
        "count": 3,
        "ready": True,
        "email": None,
    }

    assert shape(value) == {
        "@odata.type": "string:#microsoft.graph.phoneAuthenticationMethod",
        "count": "number",
        "email": "null",
        "id": "string",
        "phoneNumber": "string",
        "phoneType": "string:mobile",
        "ready": "boolean",
        "smsSignInState": "string",
    }


def test_a_list_shape_is_the_distinct_shapes_of_its_elements_whatever_their_count():
    """Two phones of one shape and one of them give the same list shape."""
    phone = {"id": "a", "phoneType": "office"}

    assert shape({"value": [phone, dict(phone)]}) == shape({"value": [phone]})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"error": {"code": "badRequest", "innerError": {"date": "x"}}},
                     {"code": "badRequest", "innerError": None}, id="outer-only"),
        pytest.param({"error": {"code": "badRequest", "innererror": {"code": "invalidPhone"}}},
                     {"code": "badRequest", "innerError": "invalidPhone"}, id="inner-code"),
        pytest.param({"error": {"code": "+1 4255550101"}}, {"code": "unrecognised", "innerError": None},
                     id="never-a-value"),
        pytest.param({"value": []}, None, id="no-error"),
    ],
)  # fmt: skip
def test_error_codes_are_taken_from_error_and_inner_error(body, expected):
    """error.code and innerError.code are recorded; anything that is not a plain word is not."""
    assert error_of(body) == expected


def test_headers_record_presence_and_the_media_type_only():
    """Retry-After's value and Content-Type's parameters are left out; throttle headers by name."""
    headers = {"Content-Type": "application/json; odata.metadata=minimal", "Retry-After": "7",
               "x-ms-throttle-scope": "Tenant/Write/app/tenant", "x-ms-resource-unit": "1"}  # fmt: skip

    assert headers_of(headers) == {
        "content-type": "application/json",
        "retry-after": True,
        "x-ms-resource-unit": "1",
        "x-ms-throttle": ["x-ms-throttle-scope"],
    }


def test_diff_reports_a_status_and_a_missing_step_but_not_a_changed_header_value():
    """Statuses and steps are compared; header values that vary between runs are compared by presence."""
    reference = recording(added_mobile(400), step_record("email.list", "GET", steps.EMAIL_METHODS, None, 200,
                                                         Exchange(200, {}, {"value": []})))  # fmt: skip
    current = recording(added_mobile(201, {"Content-Type": "application/json", "x-ms-resource-unit": "2"}))

    assert diff(reference, current) == [
        Difference("phones.add_mobile", "status", 400, 201),
        Difference("email.list", "step", True, False),
    ]


def test_concrete_paths_fill_the_user_segments_and_the_fixed_method_id():
    """The template stays what is recorded; the concrete path carries the user and the id."""
    path = steps.concrete(steps.PHONE, "users/a@b.test", "users/x@b.test", MethodKind.MOBILE)

    assert path == f"/v1.0/users/a@b.test/authentication/phoneMethods/{MOBILE_ID}"


def _items(step: BatchStep) -> list[dict[str, object]]:
    return [{"id": i.id, "method": i.method, "url": i.template, "dependsOn": list(i.depends_on)}
            for i in step.items]  # fmt: skip


@pytest.mark.parametrize("step", steps.batch_steps(), ids=lambda s: s.name)
def test_only_the_deliberately_broken_batches_break_the_envelope_rules(step):
    """The contract checker finds no envelope problem where the scenario expects 200, one where it expects 400."""
    problems = shape_problems(_items(step))

    assert bool(problems) == (step.expected == 400 and step.name != "batch.bodyless_post")
