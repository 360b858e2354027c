"""The conformance kit (``python -m provisioning conformance``) against the Graph sandbox: the scenario
restores its user and matches the committed recordings, preflight refuses unsafe users, nothing leaks."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from provisioning.core.models import METHOD_IDS
from provisioning.entrypoints.cli import main
from provisioning.graph.conformance import steps as conformance_steps
from provisioning.graph.conformance.kit import write_outputs
from tests.leak_scanner import Needles, scan_all
from tests.sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.e2e

RECORDINGS = Path(__file__).parent / "recordings"
REFERENCE = RECORDINGS / "sandbox.json"
REAL_RECORDINGS = sorted(RECORDINGS.glob("real-*.json"))
UPN = "kit.tester@contoso.test"
UNKNOWN_UPN = f"{conformance_steps.UNKNOWN_USER_LOCAL}@contoso.test"
# The open question of graph-api.md 3 (rule 4): may the default phone go as the user's last method?
# The kit's restore needs "yes"; "refuse" would leave the user with one phone (see docs/conformance.md).
CONFIG = SandboxConfig(default_phone_delete="last-method")


@dataclass(frozen=True)
class Run:
    """One CLI run: exit code, printed text, output folder, the user before and after, the sandbox's books."""

    code: int
    out: str
    err: str
    out_dir: Path
    before: dict[str, Any]
    after: dict[str, Any]
    history: dict[str, list[dict[str, Any]]]
    writes: int
    env: dict[str, str]


def run_cli(sb: Sandbox, folder: Path, *args: str) -> tuple[int, str, str]:
    """``conformance --env-file`` against *sb*; the variables the CLI loads are restored afterwards."""
    env_file = sb.write_env(folder / "sandbox.env")
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in sb.env.items():
            patch.setenv(key, value)  # the CLI sets these from the env file; monkeypatch undoes it
        code = main(["conformance", "--env-file", str(env_file), *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def kit_run(sb: Sandbox, folder: Path, upn: str, *args: str) -> Run:
    out_dir = folder / "out"
    before = sb.user(upn) if upn != UNKNOWN_UPN else {}
    code, out, err = run_cli(sb, folder, "--user", upn, "--out", str(out_dir), *args)
    after = sb.user(upn) if upn != UNKNOWN_UPN else {}
    return Run(code, out, err, out_dir, before, after, sb.history(), sb.stats()["writes"], sb.env)


@pytest.fixture(scope="module", name="kit")
def _kit(tmp_path_factory: pytest.TempPathFactory, sandbox_state_dir: Path) -> Iterator[Run]:
    """One scenario run against a fresh sandbox holding a password-only test user (shared: it is slow)."""
    folder = tmp_path_factory.mktemp("conformance")
    # CONFORMANCE_WRITE_REFERENCE=1 rewrites the committed reference (docs/conformance.md section 7).
    rewrite = ("--write-recording", str(REFERENCE)) if os.environ.get("CONFORMANCE_WRITE_REFERENCE") else ()
    with Sandbox.start(seed=None, config=CONFIG, state_dir=sandbox_state_dir) as sb:
        sb.add_user({"userPrincipalName": UPN, "displayName": "Conformance kit tester"})
        yield kit_run(sb, folder, UPN, *rewrite)


@pytest.fixture(name="sb")
def _sb(sandbox_state_dir: Path) -> Iterator[Sandbox]:
    with Sandbox.start(seed=None, config=CONFIG, state_dir=sandbox_state_dir) as sb:
        yield sb


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def without_meta(recording: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in recording.items() if key != "meta"}


def test_the_scenario_writes_then_restores_the_user_exactly(kit):
    """Exit 0, every method the kit created is gone again, and the summary says so."""
    assert kit.code == 0, kit.err
    assert kit.after == kit.before
    assert kit.history[UPN]  # it did write: phones, email, default, SMS sign-in
    assert kit.out.splitlines()[0] == "conformance: 35 steps, 0 differences, user restored"
    assert read_json(kit.out_dir / "recording.json")["restore"]["restored"] is True


def test_the_sandbox_run_matches_the_committed_sandbox_recording(kit):
    """diff.json against tests/contract/recordings/sandbox.json is empty, and so is every byte but meta."""
    report = read_json(kit.out_dir / "diff.json")

    assert report["reference"] == REFERENCE.name
    assert report["differences"] == []
    assert without_meta(read_json(kit.out_dir / "recording.json")) == without_meta(read_json(REFERENCE))


def test_the_sandbox_answers_every_step_as_graph_api_md_leads_us_to_expect(kit):
    """No step's status differs from the one the scenario expects from the docs."""
    assert read_json(kit.out_dir / "diff.json")["unexpected_statuses"] == []


def test_no_phone_number_email_or_id_reaches_the_recording_or_the_output(kit):
    """recording.json, diff.txt, diff.json and the CLI's output hold no scenario number, address or id."""
    needles = Needles()
    for value in (*conformance_steps.PHONE_NUMBERS, *conformance_steps.EMAILS, UPN, UNKNOWN_UPN):
        needles.add_value(value, region="US")
    for what, value in (("user id", kit.before["id"]), ("tenant id", kit.env["PROVISIONING_TENANT_ID"]),
                        ("client id", kit.env["PROVISIONING_CLIENT_ID"]), *METHOD_IDS.items()):  # fmt: skip
        needles.add_secret(value, str(what))
    files = [(name, (kit.out_dir / name).read_text(encoding="utf-8"))
             for name in ("recording.json", "diff.txt", "diff.json")]  # fmt: skip

    findings = scan_all([*files, ("stdout", kit.out), ("stderr", kit.err)], needles)

    assert len(needles.phones) == len(conformance_steps.PHONE_NUMBERS)
    assert findings == []


def test_a_doctored_reference_makes_the_diff_report_each_change(kit, tmp_path):
    """A reference with one status changed and one step removed yields exactly those two differences."""
    reference = read_json(REFERENCE)
    reference["steps"] = [s for s in reference["steps"] if s["name"] != "email.list"]
    mobile = next(s for s in reference["steps"] if s["name"] == "phones.add_mobile")
    mobile["response"]["status"] = 200
    doctored = tmp_path / "doctored.json"
    doctored.write_text(json.dumps(reference), encoding="utf-8")

    count = write_outputs(read_json(kit.out_dir / "recording.json"), tmp_path / "out", doctored)

    found = [(d["step"], d["fact"], d["expected"], d["actual"])
             for d in read_json(tmp_path / "out" / "diff.json")["differences"]]  # fmt: skip
    assert count == 2
    assert found == [("phones.add_mobile", "status", 200, 201), ("email.list", "step", False, True)]
    assert "phones.add_mobile: status: reference 200, here 201" in (tmp_path / "out" / "diff.txt").read_text()


# A real tenant's recording, once committed (docs/conformance.md), is a reference the sandbox must keep
# matching. The test exists only when such a file does: no placeholder case while there is none.
if REAL_RECORDINGS:

    @pytest.mark.parametrize("recording", REAL_RECORDINGS, ids=[p.stem for p in REAL_RECORDINGS])
    def test_the_sandbox_run_matches_a_real_tenant_recording(kit, recording, tmp_path):
        """The sandbox answers every step as the real tenant did (status, codes, headers, shapes)."""
        count = write_outputs(read_json(kit.out_dir / "recording.json"), tmp_path, recording)

        assert count == 0, (tmp_path / "diff.txt").read_text(encoding="utf-8")


def test_real_tenant_recordings_are_found_by_their_file_name_only():
    """Only real-*.json files become cases; the sandbox's own recording is not one of them."""
    assert REFERENCE not in REAL_RECORDINGS
    assert all(p.name.startswith("real-") and p.suffix == ".json" for p in REAL_RECORDINGS)


@pytest.mark.parametrize(
    ("user", "kind", "fix"),
    [
        pytest.param(
            {"phoneMethods": {"mobile": "+1 4255550190"}}, "extra", "dedicated test user", id="phone"
        ),
        pytest.param({"email": "kit.other@example.com"}, "extra", "dedicated test user", id="email"),
        pytest.param({"otherMethods": ["microsoftAuthenticator"]}, "extra", "dedicated test user", id="app"),
        pytest.param({}, "role", "without any admin role", id="directory-role"),
        pytest.param({}, "group-role", "without any admin role", id="role-through-group"),
        pytest.param(None, "unknown", "not found", id="unknown-user"),
    ],
)
def test_preflight_refuses_an_unsafe_user_before_any_write(sb, tmp_path, user, kind, fix):
    """A user with another method, in a directory role (also through a group) or missing: exit 2, no write."""
    upn = UNKNOWN_UPN if user is None else UPN
    if user is not None:
        sb.add_user({"userPrincipalName": UPN, **user})
    if kind == "role":
        sb.add_role_member("Global Administrator", UPN)
    if kind == "group-role":
        group = sb.add_group({"displayName": "Kit admins", "members": [UPN]})
        sb.add_role_member("Authentication Administrator", group["id"])

    run = kit_run(sb, tmp_path, upn)

    assert run.code == 2
    assert fix in run.err
    assert run.writes == 0
    assert run.history == {}
    assert run.after == run.before
    assert not run.out_dir.exists()


KIT_ROLES = ["UserAuthenticationMethod.ReadWrite.All", "User.Read.All"]  # what docs/conformance.md asks for


def app_sandbox(roles: list[str], state_dir: Path) -> Sandbox:
    """A sandbox whose one app holds exactly *roles*, with the password-only test user."""
    sb = Sandbox.start(
        seed={"apps": [{"displayName": "kit", "roles": roles}]}, config=CONFIG, state_dir=state_dir
    )
    sb.add_user({"userPrincipalName": UPN})
    return sb


def test_the_two_documented_permissions_are_enough_for_the_whole_scenario(tmp_path, sandbox_state_dir):
    """An app with only UserAuthenticationMethod.ReadWrite.All and User.Read.All runs and restores."""
    with app_sandbox(KIT_ROLES, sandbox_state_dir) as sb:
        run = kit_run(sb, tmp_path, UPN)

    assert run.code == 0, run.err
    assert run.after == run.before
    assert read_json(run.out_dir / "diff.json")["differences"] == []


def test_without_user_read_all_preflight_refuses_and_names_the_permission(tmp_path, sandbox_state_dir):
    """Preflight cannot check the user's roles without User.Read.All, so it refuses and says what to grant."""
    with app_sandbox(KIT_ROLES[:1], sandbox_state_dir) as sb:
        run = kit_run(sb, tmp_path, UPN)

    assert run.code == 2
    assert "User.Read.All" in run.err
    assert run.writes == 0


def test_a_directory_role_seen_with_limited_information_is_still_refused(tmp_path, sandbox_state_dir):
    """An app without a role-reading permission sees roles as @odata.type and id only: still a refusal."""
    with app_sandbox(KIT_ROLES, sandbox_state_dir) as sb:
        sb.add_role_member("Privileged Authentication Administrator", UPN)

        run = kit_run(sb, tmp_path, UPN)

    assert run.code == 2
    assert "directory role" in run.err
    assert run.writes == 0


def test_the_env_file_may_also_come_before_the_command(sb, tmp_path):
    """``python -m provisioning --env-file F conformance ...`` reads the same settings as the subcommand's."""
    env_file = sb.write_env(tmp_path / "sandbox.env")
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in sb.env.items():
            patch.setenv(key, value)
        patch.delenv("PROVISIONING_GRAPH_URL")  # so only the env file can point the CLI at the sandbox
        code = main(["--env-file", str(env_file), "conformance", "--user", UNKNOWN_UPN], out=out, err=err)

    assert code == 2
    assert "not found" in err.getvalue()
