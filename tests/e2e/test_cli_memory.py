"""The CLI streams: its peak memory does not grow with the file (each run is a process of its own)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.sandbox import Sandbox

# The child reports its own resident high-water mark: VmHWM belongs to the image after exec, where
# ru_maxrss would also count the (big) pytest process it was forked from.
_CHILD = """
import sys
from pathlib import Path
from provisioning.entrypoints.cli import main
with open(sys.argv[1], "w") as out:
    main(sys.argv[3:], out=out, err=sys.stderr)
status = Path("/proc/self/status").read_text().splitlines()
Path(sys.argv[2]).write_text(next(l.split()[1] for l in status if l.startswith("VmHWM:")))
"""


def write_file(path: Path, rows: int) -> Path:
    """Rows with three phones and an email each, for users the tenant does not hold."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("UPN,Mobile,AlternateMobile,OfficePhone,AlternateEmail,ForcedUpdate\r\n")
        for i in range(rows):
            out.write(
                f"user{i:07d}@contoso.test,+31 6{10_000_000 + i},+31 6{50_000_000 + i},"
                f"+31 20{1_000_000 + i},alt{i:07d}@fabrikam.test,yes\r\n"
            )
    return path


def peak_kib(tmp_path: Path, env: dict[str, str], *argv: str) -> int:
    """The CLI's peak resident memory for *argv*, run in a process of its own."""
    out, peak = tmp_path / "stdout.txt", tmp_path / "peak.txt"
    subprocess.run(
        [sys.executable, "-c", _CHILD, str(out), str(peak), *argv],
        env={**env, "PYTHONPATH": str(ROOT)},
        check=False,
        timeout=240,
        capture_output=True,
    )
    return int(peak.read_text())


def test_check_memory_does_not_grow_with_the_rows(tmp_path):
    """``check`` of 20,000 rows peaks within 12 MiB of ``check`` of 1,000: rows are not held
    (holding them costs about 1.5 KiB a row, 28 MiB here)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONING_")}
    small = write_file(tmp_path / "small.csv", 1_000)
    big = write_file(tmp_path / "big.csv", 20_000)

    growth = peak_kib(tmp_path, env, "check", str(big)) - peak_kib(tmp_path, env, "check", str(small))

    assert growth < 12 * 1024, f"{growth} KiB more for 19,000 more rows"


@pytest.mark.e2e
def test_plan_memory_does_not_grow_with_the_rows(demo_sandbox: Sandbox, tmp_path):
    """``plan`` of 10,000 rows (a report written) peaks within 12 MiB of ``plan`` of 500: outcomes go
    to the report as their chunk ends, never into a list."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONING_")}
    env |= demo_sandbox.env | {"PROVISIONING_WRITE_RATE": "off", "PROVISIONING_REQUEST_RATE": "off"}
    small = write_file(tmp_path / "small.csv", 500)
    big = write_file(tmp_path / "big.csv", 10_000)
    report = str(tmp_path / "report")

    base = peak_kib(tmp_path, env, "plan", str(small), "--report-dir", report)
    growth = peak_kib(tmp_path, env, "plan", str(big), "--report-dir", report) - base

    assert (tmp_path / "report" / "report.csv").read_text().count("\n") == 10_001
    assert growth < 12 * 1024, f"{growth} KiB more for 9,500 more rows"
