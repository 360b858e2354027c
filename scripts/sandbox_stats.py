"""Demo helper: read or reset the Graph sandbox's request counters and compare tenant snapshots.

Usage: ``sandbox_stats.py [--reset | --expect-writes N | --state | --compare BEFORE AFTER]``; the
sandbox URL and CA come from ``SANDBOX_URL`` and ``SSL_CERT_FILE`` (the sandbox's env file).
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
from pathlib import Path
from typing import Any

import httpx


def _client() -> httpx.Client:
    context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    return httpx.Client(base_url=os.environ["SANDBOX_URL"], verify=context, timeout=10)


def _comparable(state: Any) -> dict[str, dict[str, Any]]:
    """The methods of every user, keyed by UPN: what undo must restore."""
    users = state["users"] if isinstance(state, dict) and "users" in state else state
    assert isinstance(users, list)
    keep = ("phoneMethods", "email", "defaultMethod")
    return {u["userPrincipalName"].lower(): {k: u.get(k) for k in keep} for u in users}


def _kept_default(before: dict[str, Any], after: dict[str, Any] | None) -> bool:
    """Whether the only change is one phone, now the default, of a user who had no phone and no default:
    what undo cannot remove (Graph: a default phone can't be deleted, graph-api.md section 3)."""
    if after is None or before["phoneMethods"] or before["defaultMethod"] is not None:
        return False
    phones = after["phoneMethods"] or {}
    defaults = {"mobile": "sms", "alternateMobile": "voiceAlternateMobile", "office": "voiceOffice"}
    return (
        after["email"] == before["email"]
        and len(phones) == 1
        and after["defaultMethod"] in {defaults[next(iter(phones))], "voiceMobile"}
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--reset", action="store_true")
    group.add_argument("--expect-writes", type=int)
    group.add_argument("--state", action="store_true")
    group.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        before, after = (_comparable(json.loads(Path(p).read_text())) for p in args.compare)
        changed = sorted(k for k in before if before[k] != after.get(k))
        kept = [k for k in changed if _kept_default(before[k], after.get(k))]
        if len(kept) < len(changed):
            print(f"tenant differs from the snapshot for: {', '.join(k for k in changed if k not in kept)}")
            return 1
        print("tenant methods identical to the snapshot taken before the first apply", end="")
        if kept:
            print(
                f", except {len(kept)} users whose first phone became their default sign-in method:"
                " Graph refuses to delete a default phone, so undo kept it and its report says so"
            )
        else:
            print()
        return 0
    with _client() as client:
        if args.reset:
            client.post("/_sandbox/stats/reset").raise_for_status()
            return 0
        if args.state:
            print(json.dumps(client.get("/_sandbox/state").raise_for_status().json(), indent=1))
            return 0
        stats = client.get("/_sandbox/stats").raise_for_status().json()
    print(f"Graph requests: {stats['requests']} ({stats['reads']} reads, {stats['writes']} writes)")
    if args.expect_writes is not None and stats["writes"] != args.expect_writes:
        print(f"expected {args.expect_writes} Graph writes, saw {stats['writes']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
