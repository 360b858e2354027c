"""The hostile-input corpus in tests/data/csv: every file gets exactly the outcome expected.json gives it.

Each file (and each generated recipe) is read twice: by ``parse_csv``, and by ``python -m provisioning
check`` run in-process, whose exit code, JSON and text output are checked too. Either the file is
rejected with one error naming what to fix, or every data row comes back once: valid with its
normalised values, or invalid with its errors by column.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from provisioning.csv_input.reader import ParsedFile, ReaderLimits, parse_csv
from provisioning.entrypoints import cli
from provisioning.use_cases.check import render_check

CORPUS = Path(__file__).resolve().parents[1] / "data" / "csv"
MANIFEST: dict[str, Any] = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
FILES: dict[str, dict[str, Any]] = MANIFEST["files"]
GENERATED: dict[str, dict[str, Any]] = MANIFEST["generated"]
# A row's fields as `check --format json` names them, when the cell is empty or absent.
EMPTY_ROW: dict[str, object] = {
    "mobile": None,
    "alternateMobile": None,
    "office": None,
    "email": None,
    "forcedUpdate": False,
    "forcedRemoval": False,
    "smsSignIn": None,
    "defaultMethod": None,
}
CHECKED_BY_CLI = ("json", "text")
# The 100k-row recipe takes seconds per read; the reader test covers it, the CLI adds nothing there.
READER_ONLY = {"gen-100k-rows"}


def _generate(recipe: list[list[Any]]) -> bytes:
    """A recipe's bytes: each [text, count] part repeated count times, ``{n}`` the repetition."""
    parts: list[str] = []
    for text, count in recipe:
        if "{n" in text:
            parts.extend(text.format(n=n) for n in range(count))
        else:
            parts.append(text * count)
    return "".join(parts).encode("utf-8")


def _generated(name: str) -> tuple[bytes, ReaderLimits]:
    entry = GENERATED[name]
    data = _generate(entry["recipe"])
    if "size" in entry:  # the recipe must still make the file its limits are measured against
        assert len(data) == entry["size"]
    return data, ReaderLimits(**entry.get("limits", {}))


def _document(parsed: ParsedFile) -> dict[str, Any]:
    """The reader's result in the shape `check --format json` prints (the manifest's shape)."""
    document: dict[str, Any] = json.loads(render_check(parsed, "json"))
    return document


def _assert_outcome(document: dict[str, Any], expect: dict[str, Any], name: str) -> None:
    """*document* (reader or CLI) is what the manifest entry *expect* says, in every row."""
    messages = [*document["file_errors"], *document["warnings"]]
    messages += [error for row in document["rows"] for error in row["errors"]]
    for private in expect.get("excludes", []):
        assert not [m for m in messages if private in m], f"{private!r} must not appear in a message"
    if "file_error" in expect:
        assert (document["accepted"], document["rows"]) == (False, [])
        (error,) = document["file_errors"]
        assert error.startswith(f"{name}: ")
        for fragment in expect["file_error"]:
            assert fragment in error
        return
    assert document["accepted"] is True, document["file_errors"]
    assert document["file_errors"] == []
    _assert_warnings(document["warnings"], expect.get("warnings", []), name)
    if "rows" in expect:
        assert [row["line"] for row in document["rows"]] == [row["line"] for row in expect["rows"]]
        for got, wanted in zip(document["rows"], expect["rows"], strict=True):
            _assert_row(got, wanted)
    else:
        _assert_summary(document["rows"], expect["summary"])


def _assert_warnings(warnings: list[str], fragments: list[str], name: str) -> None:
    assert len(warnings) == len(fragments), warnings
    for warning, fragment in zip(warnings, fragments, strict=True):
        assert warning.startswith(f"{name}: ")
        assert fragment in warning


def _assert_row(got: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Every field equal (absent ones empty), and the errors one for one: column prefix, then text."""
    wanted = dict(wanted)
    error_specs = wanted.pop("errors", [])
    assert {key: value for key, value in got.items() if key != "errors"} == {**EMPTY_ROW, **wanted}
    assert len(got["errors"]) == len(error_specs), got["errors"]
    for error, (column, fragment) in zip(got["errors"], error_specs, strict=True):
        if column is not None:
            assert error.startswith(f"{column}: "), error
        assert fragment in error, error


def _assert_summary(rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    assert len(rows) == summary["rows"]
    assert sum(bool(row["errors"]) for row in rows) == summary["invalid"]
    lines = [row["line"] for row in rows]
    assert lines == sorted(set(lines))
    _assert_row(rows[0], summary["first"])
    _assert_row(rows[-1], summary["last"])


def _exit_code(expect: dict[str, Any]) -> int:
    """What `check` must exit with: 2 rejected, 1 some row invalid, 0 all valid."""
    if "file_error" in expect:
        return 2
    if "rows" in expect:
        return 1 if any(row.get("errors") for row in expect["rows"]) else 0
    return 1 if expect["summary"]["invalid"] else 0


def _run_check(path: Path, fmt: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["check", str(path), "--format", fmt], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _assert_check_command(path: Path, expect: dict[str, Any]) -> None:
    """Both output formats: the right exit code, no traceback, JSON matching the manifest."""
    for fmt in CHECKED_BY_CLI:
        code, out, err = _run_check(path, fmt)

        assert code == _exit_code(expect), (fmt, out, err)
        assert "Traceback" not in out + err
        assert err == ""
        if fmt == "json":
            _assert_outcome(json.loads(out), expect, path.name)
        elif "file_error" in expect:
            assert out.startswith("error: ")
            assert out.rstrip().endswith("file rejected, no rows checked")
        else:
            assert out.rstrip().splitlines()[-1].endswith(" invalid")


# --- The corpus as a whole ----------------------------------------------------------------------


def test_every_corpus_file_has_an_expected_outcome_and_every_outcome_a_file():
    """The folder and the manifest list the same files, at least 45 of them, all small."""
    on_disk = {path.name for path in CORPUS.glob("*.csv")}

    assert on_disk == set(FILES)
    assert len(on_disk) >= 45
    assert all((CORPUS / name).stat().st_size < 4096 for name in on_disk)
    assert all(entry.get("about") for entry in [*FILES.values(), *GENERATED.values()])


def test_every_entry_has_exactly_one_kind_of_expectation():
    """An entry expects a file error, or rows, or a summary: never two, never none."""
    for entry in [*FILES.values(), *GENERATED.values()]:
        assert sum(key in entry for key in ("file_error", "rows", "summary")) == 1, entry["about"]


# --- Each file ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_reader_gives_each_corpus_file_its_expected_outcome(name):
    """parse_csv rejects the file with the expected reason, or returns exactly the expected rows."""
    expect = FILES[name]

    parsed = parse_csv((CORPUS / name).read_bytes(), source=name, default_region=expect.get("region"))

    _assert_outcome(_document(parsed), expect, name)


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_check_command_reports_each_corpus_file_with_the_right_exit_code(name, monkeypatch):
    """`check` exits 0/1/2 as the file deserves, prints no traceback, and its JSON is the expected one."""
    expect = FILES[name]
    if expect.get("region"):
        monkeypatch.setenv("PROVISIONING_DEFAULT_REGION", expect["region"])

    _assert_check_command(CORPUS / name, expect)


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_the_reader_gives_each_generated_file_its_expected_outcome(name):
    """Files too big to commit (limits, 100k rows, long fields and lines) are built from their recipe."""
    data, limits = _generated(name)

    parsed = parse_csv(data, source=name, limits=limits)

    _assert_outcome(_document(parsed), GENERATED[name], name)


@pytest.mark.parametrize("name", sorted(set(GENERATED) - READER_ONLY))
def test_the_check_command_reports_each_generated_file_with_the_right_exit_code(name, monkeypatch, tmp_path):
    """The same through `check`, with the limits set as the settings an admin would raise."""
    data, limits = _generated(name)
    path = tmp_path / name
    path.write_bytes(data)
    monkeypatch.setenv("PROVISIONING_MAX_FILE_BYTES", str(limits.max_bytes))
    monkeypatch.setenv("PROVISIONING_MAX_ROWS", str(limits.max_rows))

    _assert_check_command(path, GENERATED[name])
