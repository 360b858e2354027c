"""Deterministic benchmark inputs: sandbox tenant seeds and the CSVs dropped into the pipeline.

Every generator takes a seed for its ``random.Random``, so the same arguments give byte-identical files.
Numbers are written the way Graph stores them (``+31 612345678``): the old script sends cells as they
are, and the pipeline's normaliser leaves these unchanged, so both sides see the same tenant work.

``python -m bench.datasets mixed|ceiling|fanout ...`` writes the files for a manual run.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The seed script's header (mission.md), in its column order.
OLD_HEADER = ("UPN", "Mobile", "OfficePhone", "AlternateMobile", "ForcedUpdate", "ForcedRemoval")
DOMAIN = "contoso.test"
AUTHENTICATOR = ["microsoftAuthenticator"]


def upn(i: int) -> str:
    return f"user{i:07d}@{DOMAIN}"


def mobile(i: int, variant: int = 0) -> str:
    """A Dutch mobile, unique per (user, variant): ``+31 6NNNNNNNN``."""
    return f"+31 6{(10_000_000 * (1 + variant) + i) % 100_000_000:08d}"


def alternate(i: int, variant: int = 0) -> str:
    return f"+31 6{(50_000_000 + 1_000_000 * variant + i) % 100_000_000:08d}"


def office(i: int, variant: int = 0) -> str:
    """An Amsterdam landline, ``+31 20NNNNNNN``."""
    return f"+31 20{(1_000_000 * (1 + variant) + i) % 10_000_000:07d}"


@dataclass
class Dataset:
    """A tenant seed and the CSV rows that go with it."""

    seed: dict[str, Any]
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    kinds: Counter[str] = field(default_factory=Counter)
    row_kinds: list[str] = field(default_factory=list)  # the kind of each row, in order

    def write(self, seed_path: Path, csv_path: Path) -> None:
        seed_path.write_text(json.dumps(self.seed), encoding="utf-8")
        write_csv(csv_path, self.header, self.rows)

    def describe(self) -> dict[str, Any]:
        return {"users": len(self.seed["users"]), "rows": len(self.rows), "row_kinds": dict(self.kinds)}


def write_csv(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(header) + "\r\n")
        for row in rows:
            out.write(",".join(row) + "\r\n")


def _user(i: int, phones: dict[str, str], *, authenticator: bool = False) -> dict[str, Any]:
    user: dict[str, Any] = {
        "userPrincipalName": upn(i),
        "displayName": f"User {i}",
        "inSmsSignInPolicy": True,
    }
    if phones:
        user["phoneMethods"] = phones
    if authenticator:
        user["otherMethods"] = AUTHENTICATOR
    return user


def mixed(users: int = 2000, *, seed: int = 4) -> Dataset:
    """Benchmark 1: one row per user in the old script's format, a realistic mix of work.

    - ``add`` (35 %): the user has no phone; the row gives a mobile, sometimes an alternate and an office.
    - ``unchanged`` (30 %): the row repeats what the user has; some rows still say ForcedUpdate=True
      (the old script deletes and re-adds those; the pipeline writes nothing).
    - ``update`` (20 %): another mobile (sometimes alternate) with ForcedUpdate=True; the user has the
      Authenticator app as default, so the old script's delete is allowed by Graph.
    - ``remove`` (10 %): the office (sometimes the alternate) cell empty with ForcedRemoval=True.
    - ``invalid`` (5 %): a number without country code or far too short.
    """
    rnd = random.Random(seed)
    kinds = ("add", "unchanged", "update", "remove", "invalid")
    weights = (35, 30, 20, 10, 5)
    seeded: list[dict[str, Any]] = []
    rows: list[tuple[str, ...]] = []
    counts: Counter[str] = Counter()
    row_kinds: list[str] = []
    for i in range(users):
        kind = rnd.choices(kinds, weights)[0]
        counts[kind] += 1
        row_kinds.append(kind)
        m, a, o = "", "", ""
        forced_update = forced_removal = ""
        if kind == "add":
            seeded.append(_user(i, {}, authenticator=rnd.random() < 0.5))
            m = mobile(i)
            a = alternate(i) if rnd.random() < 0.4 else ""
            o = office(i) if rnd.random() < 0.3 else ""
            forced_update = "True" if rnd.random() < 0.2 else ""
        elif kind == "unchanged":
            phones = {"mobile": mobile(i)}
            if rnd.random() < 0.3:
                phones["office"] = office(i)
            seeded.append(_user(i, phones, authenticator=rnd.random() < 0.5))
            m, o = phones["mobile"], phones.get("office", "")
            forced_update = "True" if rnd.random() < 0.15 else ""
        elif kind == "update":
            phones = {"mobile": mobile(i)}
            both = rnd.random() < 0.3
            if both:
                phones["alternateMobile"] = alternate(i)
            seeded.append(_user(i, phones, authenticator=True))
            m = mobile(i, 1)
            a = alternate(i, 1) if both else ""
            forced_update = "True"
        elif kind == "remove":
            phones = {"mobile": mobile(i), "office": office(i)}
            with_alternate = rnd.random() < 0.3
            if with_alternate:
                phones["alternateMobile"] = alternate(i)
            seeded.append(_user(i, phones, authenticator=True))
            m = phones["mobile"]
            forced_removal = "True"
        else:
            seeded.append(_user(i, {}))
            m = rnd.choice(("0612345678", "+31 6123", "12345", "+31 6 12x45"))
        # The old script's column order: UPN, Mobile, OfficePhone, AlternateMobile, ForcedUpdate, ForcedRemoval.
        rows.append((upn(i), m, o, a, forced_update, forced_removal))
    return Dataset({"users": seeded}, OLD_HEADER, rows, counts, row_kinds)


def ceiling(rows: int = 6000, *, seed: int = 5) -> Dataset:
    """Benchmark 2: every row needs 1, 2 or 3 phone writes (mean 2), no email, no default change.

    - ``add1``: no phone; add a mobile (1 POST).
    - ``add2``: no phone; add a mobile and an office (2 POSTs).
    - ``add3``: no phone; add mobile, alternate and office (3 POSTs).
    - ``update2``: mobile and office held; both replaced with ForcedUpdate (2 PATCHes).
    """
    rnd = random.Random(seed)
    seeded: list[dict[str, Any]] = []
    out: list[tuple[str, ...]] = []
    counts: Counter[str] = Counter()
    row_kinds: list[str] = []
    for i in range(rows):
        kind = rnd.choice(("add1", "add2", "add3", "update2"))
        counts[kind] += 1
        row_kinds.append(kind)
        if kind == "update2":
            seeded.append(_user(i, {"mobile": mobile(i), "office": office(i)}, authenticator=True))
            out.append((upn(i), mobile(i, 1), office(i, 1), "", "True", ""))
            continue
        seeded.append(_user(i, {}))
        o = office(i) if kind in ("add2", "add3") else ""
        a = alternate(i) if kind == "add3" else ""
        out.append((upn(i), mobile(i), o, a, "", ""))
    return Dataset({"users": seeded}, OLD_HEADER, out, counts, row_kinds)


CEILING_WRITES = {"add1": 1, "add2": 2, "add3": 3, "update2": 2}


def fanout_csv(path: Path, rows: int = 1_000_000, *, seed: int = 6) -> int:
    """Benchmark 3: an admin-sized export, three phones and an email per row (~95 bytes a row); bytes."""
    rnd = random.Random(seed)
    header = "UPN,Mobile,AlternateMobile,OfficePhone,AlternateEmail,ForcedUpdate\r\n"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(header)
        lines: list[str] = []
        for i in range(rows):
            variant = rnd.randrange(3)
            lines.append(
                f"{upn(i)},{mobile(i, variant)},{alternate(i, variant)},{office(i, variant)},"
                f"alt{i:07d}@fabrikam.test,yes\r\n"
            )
            if len(lines) == 10_000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.datasets", description=__doc__)
    parser.add_argument("kind", choices=("mixed", "ceiling", "fanout"))
    parser.add_argument("--rows", type=int)
    parser.add_argument("--out", type=Path, default=Path())
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.kind == "fanout":
        size = fanout_csv(args.out / "fanout.csv", args.rows or 1_000_000)
        print(f"{args.out / 'fanout.csv'}: {size / 2**20:.1f} MiB")
        return
    data = mixed(args.rows or 2000) if args.kind == "mixed" else ceiling(args.rows or 6000)
    data.write(args.out / f"{args.kind}-tenant.json", args.out / f"{args.kind}.csv")
    print(json.dumps(data.describe()))


if __name__ == "__main__":
    main()
