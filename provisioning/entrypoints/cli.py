"""The admin CLI: ``check`` (offline), ``plan`` (reads the tenant, writes nothing), ``apply``,
``inventory`` (each user's readiness for 2027-02-01, writes nothing) and ``conformance`` (the
conformance kit, docs/conformance.md).

Exit codes: 0 every row fine; 1 some rows invalid or failed; 2 the file or the settings were rejected.
``conformance``: 0 the user was restored; 1 it was not; 2 preflight or the settings refused the run.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, TextIO

from provisioning.core.job_report import write_job_reports
from provisioning.core.models import DesiredRow, MethodKind, Outcome
from provisioning.core.pace import progress_line, quota_note
from provisioning.core.reports import format_summary_line, render_plan_blocks, summarise
from provisioning.core.summary import Summary, summary_document
from provisioning.csv_input.reader import CsvScan, ReaderLimits, iter_rows, scan_csv
from provisioning.entrypoints.logging_setup import configure_logging
from provisioning.errors import AuthenticationError, ConfigurationError, GraphError, InputError
from provisioning.settings import Settings
from provisioning.use_cases import check as check_output

if TYPE_CHECKING:
    from provisioning.graph.directory import DirectoryClient

log = logging.getLogger("provisioning")

EXIT_OK, EXIT_ROWS, EXIT_REJECTED = 0, 1, 2
_LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
_CHUNK = 1 << 20  # the file is read in pieces of this size, twice (as the CSV drop reads a blob)


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the CLI; returns the exit code (never raises for bad input or settings)."""
    out, err = out or sys.stdout, err or sys.stderr
    args = _parser().parse_args(argv)
    try:
        env_file = args.env_file or getattr(args, "conformance_env_file", None)
        if env_file:
            _load_env_file(Path(env_file))
        configure_logging(args.log_level, default="warning", stream=err, fmt=_LOG_FORMAT)
        if args.command == "check":
            return _check(args, out, err)
        if args.command == "conformance":
            return _conformance(args, out, err)
        if args.command == "inventory":
            return _inventory(args, out, err)
        return _run(args, out, err)
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_REJECTED
    except AuthenticationError as exc:
        print(f"authentication failed: {exc}", file=err)
        return EXIT_REJECTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m provisioning", description=__doc__)
    parser.add_argument("--env-file", help="read PROVISIONING_* settings from this KEY=value file first")
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=["debug", "info", "warning", "error"],
        help="default: PROVISIONING_LOG_LEVEL, else warning",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a CSV offline; nothing is read from Graph")
    check.add_argument("file")
    check.add_argument("--format", choices=["text", "json"], default="text")
    plan = commands.add_parser("plan", help="read the tenant and show what apply would change")
    plan.add_argument("file")
    plan.add_argument("--report-dir", help="also write the dry-run report here")
    apply = commands.add_parser("apply", help="apply the file and write report.csv, summary.json, undo.csv")
    apply.add_argument("file")
    apply.add_argument("--report-dir", required=True)
    inventory = commands.add_parser(
        "inventory",
        help="read each listed user's methods and sort them by readiness for 2027-02-01 (writes nothing)",
    )
    source = inventory.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", help="a CSV with a UPN column (other columns are ignored)")
    source.add_argument("--group", metavar="ID", help="the group's members, nested groups included")
    source.add_argument("--all", action="store_true", help="every user of the tenant")
    inventory.add_argument("--report-dir", required=True, help="inventory.csv, summary.json, phone-only.csv")
    for sub in (plan, apply, inventory):
        sub.add_argument(
            "--concurrency",
            type=int,
            help="chunks of up to 20 users in flight at once (default from settings)",
        )
    _add_conformance_parser(commands)
    return parser


def _add_conformance_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kit = commands.add_parser(
        "conformance", help="run the conformance scenario on one dedicated test user (docs/conformance.md)"
    )
    # Its own dest: a subparser default would overwrite the global --env-file given before the command.
    kit.add_argument("--env-file", dest="conformance_env_file", help="as the global --env-file")
    kit.add_argument("--user", required=True, help="UPN of a test user holding only a password, no role")
    kit.add_argument("--out", default="conformance-out", help="recording.json, diff.txt, diff.json go here")
    kit.add_argument("--against-recording", help="reference recording (default: the sandbox's, if present)")
    kit.add_argument("--write-recording", help="also write the recording here, as a reference")


def _load_env_file(path: Path) -> None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        msg = f"cannot read --env-file {path}: {exc.strerror}"
        raise ConfigurationError(msg) from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            msg = f"{path}: line {number}: expected KEY=value"
            raise ConfigurationError(msg)
        os.environ[key.strip().removeprefix("export ").strip()] = value.strip()


@dataclass(frozen=True)
class _Input:
    """A file after pass 1 (``scan_csv``); its rows are read again, one by one, by ``rows``."""

    path: Path
    scan: CsvScan
    region: str | None

    def rows(self) -> Iterator[DesiredRow]:
        """Pass 2: the rows in file order (raises ``InputError`` if the file changed since the scan)."""
        return iter_rows(functools.partial(_file_chunks, self.path), self.scan, default_region=self.region)


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            yield chunk


def _open(path_text: str, limits: ReaderLimits, region: str | None, err: TextIO) -> _Input | None:
    """The file judged by a first streaming pass (as the CSV drop does); None if it cannot be read."""
    path = Path(path_text)
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            # Refuse before reading: the limit exists to keep memory bounded.
            problem = (
                f"{path.name}: the file is {size} bytes, over the limit of {limits.max_bytes} bytes; "
                "raise PROVISIONING_MAX_FILE_BYTES or split the file"
            )
            return _Input(path, CsvScan(path.name, False, (problem,)), region)
        source = functools.partial(_file_chunks, path)
        scan = scan_csv(source, name=path.name, default_region=region, limits=limits, size=size)
    except OSError as exc:
        print(f"{path}: cannot read the file: {exc.strerror}", file=err)
        return None
    return _Input(path, scan, region)


def _open_accepted(path_text: str, settings: Settings, err: TextIO) -> _Input | None:
    """``_open`` with the settings' limits; None (the problems printed) unless the file was accepted."""
    limits = settings.limits
    given = _open(path_text, ReaderLimits(limits.max_file_bytes, limits.max_rows), limits.default_region, err)
    if given is not None and not given.scan.accepted:
        for problem in given.scan.file_errors:
            print(problem, file=err)
        return None
    return given


def _reread_failed(path_text: str, exc: Exception, err: TextIO) -> int:
    """The file could not be read a second time as it was the first (changed, removed)."""
    reason = exc.strerror if isinstance(exc, OSError) else str(exc)
    print(f"{path_text}: the file changed or vanished while it was read: {reason}", file=err)
    return EXIT_REJECTED


def _limits() -> tuple[ReaderLimits, str | None]:
    offline = Settings.offline(os.environ)
    return ReaderLimits(offline.max_file_bytes, offline.max_rows), offline.default_region


def _check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    limits, region = _limits()
    given = _open(args.file, limits, region, err)
    if given is None:
        return EXIT_REJECTED
    scan = given.scan
    rows = given.rows() if scan.accepted else ()
    checked = check_output.CheckedFile(scan.name, scan.accepted, scan.file_errors, scan.warnings, rows)
    try:
        code = check_output.write_check(checked, args.format, out, spool=_spool)
    except (InputError, OSError) as exc:
        return _reread_failed(args.file, exc, err)
    out.write("\n")
    return code


def _spool() -> IO[str]:
    """A buffer for the text table's cells: in memory up to 1 MiB, then a temporary file."""
    return tempfile.SpooledTemporaryFile(max_size=_CHUNK, mode="w+", encoding="utf-8")


def _conformance(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from provisioning.graph.conformance.kit import run_command  # imports msal/httpx only when Graph is needed

    return run_command(
        Settings.from_env(os.environ),
        args.user,
        Path(args.out),
        Path(args.against_recording) if args.against_recording else None,
        Path(args.write_recording) if args.write_recording else None,
        out,
        err,
    )


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = Settings.from_env(os.environ)
    given = _open_accepted(args.file, settings, err)
    if given is None:
        return EXIT_REJECTED
    for warning in given.scan.warnings:
        print(f"warning: {warning}", file=err)
    dry_run = args.command == "plan"
    started = _now()
    try:
        summary, requests = _provision(args, settings, given, out, err)
    except (InputError, OSError) as exc:
        return _reread_failed(args.file, exc, err)
    if args.report_dir:
        document = summary_document(
            summary,
            source=given.scan.name,
            started=started,
            finished=_now(),
            dry_run=dry_run,
            graph_requests=requests,
        )
        text = json.dumps(document, indent=2) + "\n"
        (Path(args.report_dir) / "summary.json").write_text(text, encoding="utf-8", newline="")
    print(format_summary_line(summary, dry_run=dry_run), file=out)  # ends the plan's listing
    if dry_run:
        print(quota_note(summary.writes_planned), file=out)
    if args.report_dir:
        print(f"report written to {args.report_dir}/", file=out)
    return EXIT_ROWS if summary.failed or summary.invalid else EXIT_OK


def _inventory(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Every listed user's readiness class (``use_cases.inventory``), its files written as chunks end."""
    from provisioning.core.readiness import SOURCE_METHODS, Readiness, write_inventory
    from provisioning.graph.directory import DirectoryClient
    from provisioning.graph.paths import GraphPaths
    from provisioning.graph.stack import build_graph_stack
    from provisioning.use_cases.executor import ChunkExecutor
    from provisioning.use_cases.inventory import inventory_chunks

    settings = Settings.from_env(os.environ)
    given = None
    if args.file is not None:
        given = _open_accepted(args.file, settings, err)
        if given is None:
            return EXIT_REJECTED
    directory = Path(args.report_dir)
    directory.mkdir(parents=True, exist_ok=True)
    started = _now()
    try:
        with build_graph_stack(settings) as stack, contextlib.ExitStack() as files:
            executor = ChunkExecutor(stack.batch, GraphPaths(settings.graph_root), settings.graph_root)
            rows = (
                given.rows()
                if given is not None
                else _directory_rows(DirectoryClient(stack.graph), args.group)
            )
            chunks = inventory_chunks(rows, executor, concurrency=args.concurrency or settings.concurrency)
            inventory = files.enter_context(_text_file(directory / "inventory.csv"))
            phone_only = files.enter_context(_text_file(directory / "phone-only.csv"))
            counts = write_inventory(chunks, inventory, phone_only)
    except AuthenticationError:
        raise
    except GraphError as exc:  # the group or user listing (a user's own read fails only its line)
        print(f"cannot list the users to inventory: {exc.message}", file=err)
        return EXIT_REJECTED
    except (InputError, OSError) as exc:
        if given is None:
            print(f"cannot write the inventory to {directory}: {exc}", file=err)
            return EXIT_REJECTED
        return _reread_failed(args.file, exc, err)
    name = given.scan.name if given is not None else f"group {args.group}" if args.group else "all users"
    document = counts.document(source=name, read_from=SOURCE_METHODS, started=started, finished=_now())
    (directory / "summary.json").write_text(
        json.dumps(document, indent=2) + "\n", encoding="utf-8", newline=""
    )
    classes = ", ".join(f"{counts.classes[c.value]} {c.value}" for c in Readiness)
    print(
        f"{document['users']} users: {classes}; {counts.invalid} invalid, {counts.failed} not read", file=out
    )
    phone_only_users = counts.classes[Readiness.PHONE_ONLY.value]
    if phone_only_users:
        print(
            f"{phone_only_users} phone-only users are blocked at sign-in from 2027-02-01 until they register a "
            f"passkey or the Authenticator app; they are listed in {directory}/phone-only.csv",
            file=out,
        )
    print(f"inventory written to {directory}/", file=out)
    return EXIT_ROWS if counts.failed or counts.invalid else EXIT_OK


def _directory_rows(directory: DirectoryClient, group: str | None) -> Iterator[DesiredRow]:
    """The group's members or every user, one row each, numbered from 1 in Graph's order ("line")."""
    users = directory.group_users(group) if group else directory.all_users()
    for number, (user_id, upn) in enumerate(users, start=1):
        yield DesiredRow(number, upn or user_id, managed=frozenset())


def _provision(
    args: argparse.Namespace, settings: Settings, given: _Input, out: TextIO, err: TextIO
) -> tuple[Summary, int]:
    """Every row through the chunk executor, each chunk's report lines written as it ends; the counts
    and the Graph requests sent. Only the chunks in flight are held, whatever the file's size."""
    # msal and httpx are imported only when Graph is needed
    from provisioning.graph.paths import GraphPaths
    from provisioning.graph.stack import build_graph_stack
    from provisioning.use_cases.executor import ChunkExecutor
    from provisioning.use_cases.provision_rows import provision_chunks

    dry_run = args.command == "plan"
    with build_graph_stack(settings) as stack:
        executor = ChunkExecutor(stack.batch, GraphPaths(settings.graph_root), settings.graph_root)
        chunks = provision_chunks(
            given.rows(), executor, dry_run=dry_run, concurrency=args.concurrency or settings.concurrency
        )
        bar = _ProgressBar.on(err, given.scan.rows, lambda: stack.batch.writes_sent)
        shown = _shown(chunks, out if dry_run else None, bar)
        if args.report_dir:
            summary = _write_reports(
                Path(args.report_dir), shown, managed=given.scan.managed, dry_run=dry_run
            )
        else:
            summary = sum(map(summarise, shown), summarise(()))
        return summary, stack.batch.requests_sent


def _shown(
    chunks: Iterable[list[Outcome]], listing: TextIO | None, bar: _ProgressBar | None
) -> Iterator[list[Outcome]]:
    """*chunks* passed on, each listed on *listing* (``plan``) and counted on the progress bar."""
    done = 0
    for outcomes in chunks:
        if listing is not None:
            if bar is not None and listing.isatty():
                bar.clear()  # the listing and the bar share the terminal
            listing.write(render_plan_blocks(outcomes))
        yield outcomes
        done += len(outcomes)
        if bar is not None:
            bar.draw(done)


def _write_reports(
    directory: Path, chunks: Iterable[list[Outcome]], *, managed: frozenset[MethodKind], dry_run: bool
) -> Summary:
    """``report.csv`` (and ``undo.csv`` unless *dry_run*) line by line as *chunks* end, as a job's are."""
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as files:
        report = files.enter_context(_text_file(directory / "report.csv"))
        undo = None if dry_run else files.enter_context(_text_file(directory / "undo.csv"))
        return write_job_reports(chunks, report, undo, managed=managed)


def _text_file(path: Path) -> TextIO:
    return path.open("w", encoding="utf-8", newline="")


class _ProgressBar:
    """Rows done, writes/s and the time left at the current pace, redrawn as chunks finish (a terminal only)."""

    def __init__(self, err: TextIO, total: int, writes: Callable[[], int]) -> None:
        self._err, self._total, self._writes = err, total, writes
        self._started = time.monotonic()

    @classmethod
    def on(cls, err: TextIO, total: int, writes: Callable[[], int]) -> _ProgressBar | None:
        """A bar on *err* if it is a terminal and the file is big enough to wait for."""
        return cls(err, total, writes) if err.isatty() and total >= 50 else None

    def draw(self, done: int) -> None:
        line = progress_line(done, self._total, self._writes(), time.monotonic() - self._started)
        self._err.write(f"\r{line}\x1b[K" + ("\n" if done == self._total else ""))
        self._err.flush()

    def clear(self) -> None:
        self._err.write("\r\x1b[K")
        self._err.flush()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
