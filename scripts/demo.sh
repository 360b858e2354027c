#!/usr/bin/env bash
# `make demo`: the product end to end on this machine. Azurite plays Azure Storage, the Graph sandbox
# plays Microsoft Graph and Entra ID, and the local runner plays the Functions host.
#   CLI check and plan -> CSV drop through the pipeline -> CLI apply of the same file (all unchanged,
#   zero Graph writes) -> the rules that refuse -> undo.csv dropped back in restores the tenant ->
#   ServiceNow request for one user -> nightly sync as a dry run -> readiness inventory of every demo
#   user (the classes for 2027-02-01, zero writes) -> every Graph request the product sent
#   judged against Graph's contract (tests/contract/check.py: batch shapes, headers, the SDK's models).
# Exits non-zero if any of these does not hold.
# DEMO_OUT: output directory (default demo-out, emptied first); PROVISIONING_LOG_LEVEL (debug, info,
# warning, error): log level of the CLI, the local runner and its workers (tests/e2e/test_log_scan.py
# runs the demo at debug into a temporary DEMO_OUT and scans what the app logged).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
export PYTHONPATH="$PWD"
OUT="${DEMO_OUT:-demo-out}"
rm -rf "$OUT"
mkdir -p "$OUT"
ENV_FILE="$OUT/sandbox.env"
export RUNNER_READY="$OUT/runner.json"
PIDS=()

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# The CLI's stderr (its log) is also kept in $OUT/cli.log, its stdout (the check and plan listings: a
# report, like report.csv, unmasked by design) in $OUT/cli-output.txt; the log scan tells them apart.
cli() {
    echo "\$ python -m provisioning $*"
    "$PY" -m provisioning "$@" 2> >(tee -a "$OUT/cli.log" >&2) | tee -a "$OUT/cli-output.txt"
}
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    "$PY" -m tests.azurite stop "$OUT/azurite" >/dev/null 2>&1 || true
}
trap cleanup EXIT
wait_for() {  # FILE PID LOG
    for _ in $(seq 1 300); do
        [ -f "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || { cat "$3"; exit 1; }
        sleep 0.1
    done
    echo "timed out waiting for $1"; cat "$3"; exit 1
}

step "Start Azurite, the Graph sandbox (demo tenant) and the local Functions runner (2 workers)"
"$PY" -m tests.azurite start "$OUT/azurite"
# The sandbox records every Graph request it answers (tests/sandbox/recorder.py) for the contract check.
GRAPH_SANDBOX_RECORD="$OUT/graph-traffic.jsonl" "$PY" -m tests.sandbox --port 0 --seed samples/demo-tenant.json --env-file "$ENV_FILE" \
    --state-dir "$OUT/sandbox" >"$OUT/sandbox.log" 2>&1 &
PIDS+=($!)
wait_for "$ENV_FILE" "${PIDS[-1]}" "$OUT/sandbox.log"
set -a
# shellcheck disable=SC1090
. "$ENV_FILE"
PROVISIONING_STORAGE="$(cat "$OUT/azurite/connection")"
AzureWebJobsStorage="$PROVISIONING_STORAGE"
PROVISIONING_DEFAULT_REGION=NL
PROVISIONING_SYNC_SCHEDULE="0 0 2 * * *"
PROVISIONING_SYNC_DRY_RUN=true
set +a
"$PY" -m provisioning.entrypoints.local --port 0 --workers 2 --ready-file "$RUNNER_READY" >"$OUT/runner.log" 2>&1 &
PIDS+=($!)
wait_for "$RUNNER_READY" "${PIDS[-1]}" "$OUT/runner.log"
echo "sandbox at $SANDBOX_URL; runner at $("$PY" -c 'import json,os;print(json.load(open(os.environ["RUNNER_READY"]))["url"])')"

stats() { "$PY" scripts/sandbox_stats.py "$@"; }
"$PY" scripts/sandbox_stats.py --state >"$OUT/tenant-before.json"

step "Check the input offline (the seed script's number format is normalised)"
cli check samples/users.csv | tail -n 4

step "Check a broken file: every bad row says what to fix"
PROVISIONING_DEFAULT_REGION='' cli check samples/invalid.csv || echo "(exit code $?: rows invalid)"

step "Plan: read the tenant, write nothing"
stats --reset
cli plan samples/users.csv | tail -n 12
stats --expect-writes 0

step "CSV drop: upload samples/users.csv to the input container; the pipeline applies it"
stats --reset
"$PY" scripts/demo_pipeline.py upload samples/users.csv
stats

step "Apply the same file with the CLI: every row unchanged, zero Graph writes"
stats --reset
cli apply samples/users.csv --report-dir "$OUT/cli-second"
stats --expect-writes 0
"$PY" - "$OUT/cli-second/summary.json" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
outcomes = {k: v for k, v in summary["outcomes"].items() if v}
assert outcomes == {"unchanged": summary["rows"]}, f"second apply not all unchanged: {outcomes}"
print(f"all {summary['rows']} rows unchanged")
PY

step "Rules Graph enforces, explained before anything is sent"
cli plan samples/rules.csv | grep -E "skip|failed|^line" || true

step "Undo: drop the pipeline's undo.csv back in; the tenant is as it was (a phone that became a user's default stays, with its reason)"
JOB=$("$PY" -c "
import os; from azure.storage.blob import BlobServiceClient; from provisioning.core.job_records import job_id_for_blob
c=os.environ.get('PROVISIONING_INPUT_CONTAINER','provisioning-input')
b=BlobServiceClient.from_connection_string(os.environ['PROVISIONING_STORAGE']).get_blob_client(c,'users.csv')
print(job_id_for_blob(c,'users.csv',b.get_blob_properties().etag))")
"$PY" -c "
import os,sys; from azure.storage.blob import BlobServiceClient
s=BlobServiceClient.from_connection_string(os.environ['PROVISIONING_STORAGE'])
r=os.environ.get('PROVISIONING_REPORT_CONTAINER','provisioning-reports')
open(sys.argv[1],'wb').write(s.get_blob_client(r,sys.argv[2]+'/undo.csv').download_blob().readall())" \
    "$OUT/users-undo.csv" "$JOB"
"$PY" scripts/demo_pipeline.py upload "$OUT/users-undo.csv"
"$PY" scripts/sandbox_stats.py --state >"$OUT/tenant-after-undo.json"
"$PY" scripts/sandbox_stats.py --compare "$OUT/tenant-before.json" "$OUT/tenant-after-undo.json"

step "ServiceNow: POST /api/provision for one user"
"$PY" scripts/demo_pipeline.py provision

step "Nightly sync, dry run: profile mobilePhone -> mobile method"
stats --reset
"$PY" scripts/demo_pipeline.py sync
stats --expect-writes 0

"$PY" scripts/sandbox_stats.py --state >"$OUT/tenant-final.json"

step "Before 2027-02-01: readiness inventory of every demo user (reads only)"
"$PY" - "$OUT/tenant-final.json" "$OUT/all-users.csv" <<'PY'
import json, sys
state = json.load(open(sys.argv[1]))
users = state["users"] if isinstance(state, dict) else state
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write("UPN\n" + "".join(u["userPrincipalName"] + "\n" for u in users))
PY
stats --reset
cli inventory "$OUT/all-users.csv" --report-dir "$OUT/inventory"
stats --expect-writes 0
"$PY" - "$OUT/inventory/summary.json" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
assert summary["users"] > 0 and summary["failed"] == 0, summary
print("classes:", ", ".join(f"{k} {v}" for k, v in summary["classes"].items()))
PY

step "Graph contract: every request the product sent, judged against Graph's rules and Microsoft's SDK models"
"$PY" -m tests.contract.check "$OUT/graph-traffic.jsonl" --json "$OUT/graph-contract.json"

step "Done: logs and reports in $OUT/"
