"""Nightly sync, pure part: directory profile phones -> rows for the planner, and the sync's settings.

The default mode fills empty methods only: a number the user registered is never overwritten.
``enforce`` overwrites it in place (the row's ForcedUpdate). Removal never follows from the profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from provisioning.core.models import DesiredRow, MethodKind
from provisioning.core.phones import normalise_phone
from provisioning.errors import ConfigurationError, PhoneError

_TRUE, _FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n", ""}


class SyncMode(StrEnum):
    """Whether the sync only fills empty methods or makes them match the directory."""

    FILL = "fill"
    ENFORCE = "enforce"


@dataclass(frozen=True)
class SyncSettings:
    """``PROVISIONING_SYNC_*`` settings; the schedule itself is read by the timer binding."""

    mode: SyncMode = SyncMode.FILL
    group_id: str | None = None
    include_office: bool = False
    dry_run: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SyncSettings:
        """Read and check the sync settings; one ConfigurationError names every problem."""
        problems: list[str] = []
        mode_text = env.get("PROVISIONING_SYNC_MODE", "fill").strip().lower() or "fill"
        if mode_text not in {m.value for m in SyncMode}:
            problems.append(f"PROVISIONING_SYNC_MODE must be fill or enforce, not {mode_text!r}")
        flags = {}
        for name in ("PROVISIONING_SYNC_OFFICE", "PROVISIONING_SYNC_DRY_RUN"):
            value = env.get(name, "").strip().lower()
            if value not in _TRUE | _FALSE:
                problems.append(f"{name} must be true or false, not {value!r}")
            flags[name] = value in _TRUE
        if problems:
            raise ConfigurationError("; ".join(problems))
        return cls(
            mode=SyncMode(mode_text),
            group_id=env.get("PROVISIONING_SYNC_GROUP_ID", "").strip() or None,
            include_office=flags["PROVISIONING_SYNC_OFFICE"],
            dry_run=flags["PROVISIONING_SYNC_DRY_RUN"],
        )


@dataclass(frozen=True)
class ProfilePhones:
    """What the sync needs of a user's directory profile."""

    user: str
    mobile_phone: str | None
    business_phone: str | None


def sync_rows(
    profiles: Iterable[ProfilePhones], settings: SyncSettings, *, default_region: str | None
) -> list[DesiredRow]:
    """One row per user with a profile phone to copy, numbered from 1 (the report's line)."""
    managed = frozenset(
        {MethodKind.MOBILE, MethodKind.OFFICE} if settings.include_office else {MethodKind.MOBILE}
    )
    rows: list[DesiredRow] = []
    for profile in profiles:
        wanted = {MethodKind.MOBILE: profile.mobile_phone}
        if settings.include_office:
            wanted[MethodKind.OFFICE] = profile.business_phone
        if not any(wanted.values()):
            continue
        values, errors = _normalise(wanted, default_region)
        rows.append(
            DesiredRow(
                line=len(rows) + 1,
                user=profile.user,
                values=values,
                managed=managed,
                forced_update=settings.mode is SyncMode.ENFORCE,
                errors=tuple(errors),
            )
        )
    return rows


def _normalise(
    wanted: Mapping[MethodKind, str | None], default_region: str | None
) -> tuple[dict[MethodKind, str], list[str]]:
    values: dict[MethodKind, str] = {}
    errors: list[str] = []
    source = {MethodKind.MOBILE: "profile mobilePhone", MethodKind.OFFICE: "profile businessPhones"}
    for kind, raw in wanted.items():
        if not raw:
            continue
        try:
            values[kind] = normalise_phone(raw, default_region)
        except PhoneError as exc:
            errors.append(f"{source[kind]}: {exc}")
    return values, errors
