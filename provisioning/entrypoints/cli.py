"""The admin CLI: ``check`` (offline), ``plan`` (reads the tenant, writes nothing), ``apply``, and
``conformance`` (the conformance kit, docs/conformance.md).

Exit codes: 0 every row fine; 1 some rows invalid or failed; 2 the file or the settings were rejected.
``conformance``: 0 the user was restored; 1 it was not; 2 preflight or the settings refused the run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from provisioning.core.models import Outcome, OutcomeKind
from provisioning.core.pace import progress_line, quota_note
from provisioning.core.reports import (
    format_summary_line,
    render_plan_text,
    render_report_csv,
    render_summary,
    render_undo_csv,
    summarise,
)
from provisioning.csv_input.reader import ParsedFile, ReaderLimits, parse_csv
from provisioning.entrypoints.logging_setup import configure_logging
from provisioning.errors import AuthenticationError, ConfigurationError
from provisioning.settings import Settings
from provisioning.use_cases import check as check_output

log = logging.getLogger("provisioning")

EXIT_OK, EXIT_ROWS, EXIT_REJECTED = 0, 1, 2
_LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class RunResult:
    """What ``plan`` or ``apply`` produced, for the caller to print or write."""

    parsed: ParsedFile
    outcomes: list[Outcome]
    started: str
    finished: str
    graph_requests: int


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
    for sub in (plan, apply):
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


def _read(path_text: str, limits: ReaderLimits, region: str | None, err: TextIO) -> ParsedFile | None:
    path = Path(path_text)
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            # Refuse before reading: the limit exists to keep memory bounded.
            problem = (
                f"{path.name}: the file is {size} bytes, over the limit of {limits.max_bytes} bytes; "
                "raise PROVISIONING_MAX_FILE_BYTES or split the file"
            )
            return ParsedFile(path.name, False, (problem,), (), (), frozenset())
        data = path.read_bytes()
    except OSError as exc:
        print(f"{path}: cannot read the file: {exc.strerror}", file=err)
        return None
    return parse_csv(data, source=path.name, default_region=region, limits=limits)


def _limits() -> tuple[ReaderLimits, str | None]:
    offline = Settings.offline(os.environ)
    return ReaderLimits(offline.max_file_bytes, offline.max_rows), offline.default_region


def _check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    limits, region = _limits()
    parsed = _read(args.file, limits, region, err)
    if parsed is None:
        return EXIT_REJECTED
    out.write(check_output.render_check(parsed, args.format))
    out.write("\n")
    return check_output.check_exit_code(parsed)


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
    # msal and httpx are imported only when Graph is needed
    from provisioning.graph.paths import GraphPaths
    from provisioning.graph.stack import build_graph_stack
    from provisioning.use_cases.executor import ChunkExecutor
    from provisioning.use_cases.provision_rows import provision_rows

    settings = Settings.from_env(os.environ)
    parsed = _read(
        args.file,
        ReaderLimits(settings.limits.max_file_bytes, settings.limits.max_rows),
        settings.limits.default_region,
        err,
    )
    if parsed is None:
        return EXIT_REJECTED
    if not parsed.accepted:
        for problem in parsed.file_errors:
            print(problem, file=err)
        return EXIT_REJECTED
    for warning in parsed.warnings:
        print(f"warning: {warning}", file=err)
    dry_run = args.command == "plan"
    started = _now()
    with build_graph_stack(settings) as stack:
        executor = ChunkExecutor(stack.batch, GraphPaths(settings.graph_root), settings.graph_root)
        outcomes = provision_rows(
            list(parsed.rows),
            executor,
            dry_run=dry_run,
            concurrency=args.concurrency or settings.concurrency,
            progress=_progress_bar(err, len(parsed.rows), lambda: stack.batch.writes_sent),
        )
        requests = stack.batch.requests_sent
    result = RunResult(parsed, outcomes, started, _now(), requests)
    if args.report_dir:
        _write_reports(Path(args.report_dir), result, dry_run=dry_run)
    if dry_run:
        out.write(render_plan_text(outcomes))  # ends with the summary line
        print(quota_note(summarise(outcomes).writes_planned), file=out)
    else:
        print(format_summary_line(summarise(outcomes)), file=out)
    if args.report_dir:
        print(f"report written to {args.report_dir}/", file=out)
    bad = {OutcomeKind.FAILED, OutcomeKind.INVALID}
    return EXIT_ROWS if any(o.kind in bad for o in outcomes) else EXIT_OK


def _write_reports(directory: Path, result: RunResult, *, dry_run: bool) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "report.csv": render_report_csv(result.outcomes),
        "summary.json": render_summary(
            result.outcomes,
            source=result.parsed.source,
            started=result.started,
            finished=result.finished,
            dry_run=dry_run,
            graph_requests=result.graph_requests,
        ),
    }
    if not dry_run:
        files["undo.csv"] = render_undo_csv(result.outcomes, managed=result.parsed.managed)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8", newline="")


def _progress_bar(err: TextIO, total: int, writes: Callable[[], int]) -> Callable[[int, int], None] | None:
    """Rows done, writes/s and the time left at the current pace, redrawn as chunks finish (a terminal only)."""
    if not err.isatty() or total < 50:
        return None
    started = time.monotonic()

    def draw(done: int, count: int) -> None:
        line = progress_line(done, count, writes(), time.monotonic() - started)
        err.write(f"\r{line}\x1b[K" + ("\n" if done == count else ""))
        err.flush()

    return draw


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
