"""Every API error code is in the ServiceNow guide's table, on the row of its HTTP status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from provisioning.errors import ErrorCode

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "servicenow.md"


def _table() -> dict[str, set[int]]:
    """Map each code in the guide's status table to the statuses of the rows naming it."""
    rows: dict[str, set[int]] = {}
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*(\d{3})\s*\|([^|]*)\|", line)
        if match:
            for code in re.findall(r"`([a-zA-Z]+)`", match.group(2)):
                rows.setdefault(code, set()).add(int(match.group(1)))
    return rows


@pytest.mark.parametrize("code", list(ErrorCode), ids=lambda c: c.value)
def test_code_is_in_the_guide_with_its_status(code: ErrorCode) -> None:
    assert code.status in _table().get(code.value, set()), (
        f"docs/servicenow.md's status table has no `{code.value}` on a {code.status} row"
    )


def test_guide_names_no_code_the_api_does_not_have() -> None:
    assert set(_table()) <= {c.value for c in ErrorCode}
