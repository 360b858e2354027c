"""Nightly sync: directory profile phones -> authentication methods, through the same job pipeline.

It reads ``/users/delta`` from the stored delta link (a full pass the first time, or when the link has
expired), scopes to a group's members when configured, and submits one row per user as a ``sync`` job.
The delta link and the member list are stored only after the job was submitted, and never on a dry run
(a dry run must not make the next real run miss changes).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from provisioning.core.ports import JobPort
from provisioning.core.sync_rows import ProfilePhones, SyncSettings, sync_rows
from provisioning.errors import DeltaExpiredError
from provisioning.graph.directory import DirectoryClient, Profile
from provisioning.storage.blobs import BlobStore

log = logging.getLogger(__name__)

STATE_BLOB = "sync/state.json"


@dataclass(frozen=True)
class SyncRun:
    """What one sync run did."""

    job_id: str
    full_pass: bool
    users_seen: int
    rows: int
    dry_run: bool


def run_sync(
    directory: DirectoryClient,
    jobs: JobPort,
    state: BlobStore,
    *,
    container: str,
    settings: SyncSettings,
    default_region: str | None,
    dry_run: bool | None = None,
) -> SyncRun:
    """Run the sync once; *dry_run* overrides the setting (the timer uses the setting)."""
    dry = settings.dry_run if dry_run is None else dry_run
    stored = state.get_json(container, STATE_BLOB)
    saved: Mapping[str, object] = stored[0] if stored and isinstance(stored[0], Mapping) else {}
    link = saved.get("deltaLink") if isinstance(saved.get("deltaLink"), str) else None
    profiles, delta_link, full = _changed_profiles(directory, link if isinstance(link, str) else None)
    members: set[str] | None = None
    if settings.group_id:
        members = directory.group_member_ids(settings.group_id)
        previous = set(_strings(saved.get("members"))) if not full else set()
        profiles = _scope(directory, profiles, members, joined=members - previous)
    rows = sync_rows(
        (ProfilePhones(p.upn, p.mobile_phone, p.business_phone) for p in profiles.values()),
        settings,
        default_region=default_region,
    )
    job_id = jobs.submit(rows, dry_run=dry, source="sync")
    if not dry:
        new_state = {
            "deltaLink": delta_link,
            "members": sorted(members) if members is not None else None,
            "lastRun": datetime.now(UTC).isoformat(timespec="seconds"),
            "lastJob": job_id,
        }
        state.put_json(container, STATE_BLOB, new_state)
    log.info("sync job %s: %d users changed, %d rows, full pass %s", job_id, len(profiles), len(rows), full)
    return SyncRun(job_id, full, len(profiles), len(rows), dry)


def _changed_profiles(
    directory: DirectoryClient, link: str | None
) -> tuple[dict[str, Profile], str | None, bool]:
    """Changed users by id (removed ones dropped), the new delta link, and whether this was a full pass."""
    try:
        return (*_collect(directory, link), link is None)
    except DeltaExpiredError as exc:
        log.warning("%s", exc)
        return (*_collect(directory, None), True)


def _collect(directory: DirectoryClient, link: str | None) -> tuple[dict[str, Profile], str | None]:
    profiles: dict[str, Profile] = {}
    delta_link: str | None = None
    for page in directory.delta_pages(link):
        for profile in page.profiles:
            if profile.removed:
                profiles.pop(profile.user_id, None)
            else:
                profiles[profile.user_id] = profile  # a user may appear on several pages: last wins
        delta_link = page.delta_link or delta_link
    return profiles, delta_link


def _scope(
    directory: DirectoryClient, profiles: dict[str, Profile], members: set[str], *, joined: set[str]
) -> dict[str, Profile]:
    """Only group members; members who joined since the last run are read in full."""
    scoped = {uid: p for uid, p in profiles.items() if uid in members}
    for uid in sorted(joined - scoped.keys()):
        scoped[uid] = directory.profile(uid)
    return scoped


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
