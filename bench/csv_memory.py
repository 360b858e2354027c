"""Peak memory and speed of the streaming CSV reader on a large generated file (a script, not a test).

Usage: ``python bench/csv_memory.py [ROWS] [REPEAT_EVERY]``. Writes ROWS rows (default 1,000,000)
with three phones and an email each to a temporary directory, then runs ``scan_csv`` and
``iter_rows`` over it in 1 MiB chunks, as the blob trigger does. With REPEAT_EVERY, every Nth
row repeats the user of the row before it (duplicates to find).
"""

from __future__ import annotations

import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from provisioning.csv_input.reader import ReaderLimits, iter_rows, scan_csv

CHUNK = 1 << 20


def write_csv(path: Path, rows: int, repeat_every: int) -> None:
    """A file like an admin's export: UPN, three phones in different spellings, email, a flag."""
    rnd = random.Random(1)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("UPN,Mobile,AlternateMobile,OfficePhone,AlternateEmail,ForcedUpdate\r\n")
        for i in range(rows):
            user = i - 1 if repeat_every and i % repeat_every == 0 and i else i
            mobile = f"+31 6{rnd.randrange(10**7, 5 * 10**7)}"
            alternate = f"+316{rnd.randrange(10**7, 5 * 10**7)}"
            office = (
                f"+1 425{rnd.randrange(2 * 10**6, 9 * 10**6)}"
                if i % 2
                else f"+44 20 7{i % 900 + 100} {i % 9000 + 1000}"
            )
            out.write(f"user{user}@contoso.com,{mobile},{alternate},{office},alt{i}@fabrikam.com,yes\r\n")


def chunks_of(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main(rows: int, repeat_every: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "users.csv"
        write_csv(path, rows, repeat_every)
        size = path.stat().st_size
        print(f"file: {rows:,} rows, {size / 2**20:.1f} MiB; peak RSS before reading: {peak_mib():.1f} MiB")
        limits = ReaderLimits(max_bytes=max(size, ReaderLimits().max_bytes), max_rows=rows)

        start = time.perf_counter()
        scan = scan_csv(
            lambda: chunks_of(path), name="users.csv", default_region=None, limits=limits, size=size
        )
        scanned = time.perf_counter() - start
        print(f"scan: accepted={scan.accepted} rows={scan.rows:,} duplicated users={len(scan.duplicates):,}")
        print(f"scan: {scanned:.1f} s, {scan.rows / scanned:,.0f} rows/s; peak RSS {peak_mib():.1f} MiB")

        start = time.perf_counter()
        valid = invalid = 0
        for row in iter_rows(lambda: chunks_of(path), scan, default_region=None):
            valid, invalid = (valid + 1, invalid) if row.valid else (valid, invalid + 1)
        read = time.perf_counter() - start
        print(
            f"iter_rows: {valid:,} valid, {invalid:,} invalid; {read:.1f} s, {(valid + invalid) / read:,.0f} rows/s"
        )
        print(f"peak RSS overall: {peak_mib():.1f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000, int(sys.argv[2]) if len(sys.argv) > 2 else 0)
