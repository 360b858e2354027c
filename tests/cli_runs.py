"""Running the CLI in-process (exit code and captured output), and reading the sandbox tenant's methods
to compare before and after a run."""

from __future__ import annotations

import io
from typing import Any

from provisioning.entrypoints.cli import main
from tests.sandbox import Sandbox


def run(*argv: str) -> tuple[int, str, str]:
    """The CLI's exit code, standard output and standard error for *argv*."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def methods(sb: Sandbox) -> dict[str, dict[str, Any]]:
    """Every user's methods, keyed by lowercased UPN."""
    keep = ("phoneMethods", "email", "defaultMethod")
    return {u["userPrincipalName"].lower(): {k: u.get(k) for k in keep} for u in sb.users()}
