#!/usr/bin/env bash
# `make demo`: the main job end to end against the Graph sandbox seeded with the demo tenant.
# check -> plan -> apply -> apply again (all unchanged, zero Graph writes) -> the rules that refuse
# -> undo restores the tenant. Exits non-zero if any of these does not hold.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
OUT=demo-out
rm -rf "$OUT"
mkdir -p "$OUT"
ENV_FILE="$OUT/sandbox.env"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cli() { echo "\$ python -m provisioning $*"; "$PY" -m provisioning "$@"; }

step "Start the Graph sandbox (HTTPS on loopback) with the demo tenant"
"$PY" -m tests.sandbox --port 0 --seed samples/demo-tenant.json --env-file "$ENV_FILE" \
    --state-dir "$OUT/sandbox" >"$OUT/sandbox.log" 2>&1 &
SANDBOX_PID=$!
trap 'kill "$SANDBOX_PID" 2>/dev/null || true; wait "$SANDBOX_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
    [ -f "$ENV_FILE" ] && break
    kill -0 "$SANDBOX_PID" 2>/dev/null || { cat "$OUT/sandbox.log"; exit 1; }
    sleep 0.1
done
[ -f "$ENV_FILE" ] || { echo "the sandbox did not start"; cat "$OUT/sandbox.log"; exit 1; }
set -a
# shellcheck disable=SC1090
. "$ENV_FILE"
set +a
export PROVISIONING_DEFAULT_REGION=NL
echo "sandbox at $SANDBOX_URL (settings in $ENV_FILE)"

stats() { "$PY" scripts/sandbox_stats.py "$@"; }
snapshot() { "$PY" scripts/sandbox_stats.py --state >"$1"; }
snapshot "$OUT/tenant-before.json"

step "Check the input offline (the seed script's number format is normalised)"
cli check samples/users.csv | tail -n 5

step "Check a broken file: every bad row says what to fix"
PROVISIONING_DEFAULT_REGION='' cli check samples/invalid.csv || echo "(exit code $? : rows invalid)"

step "Plan: read the tenant, write nothing"
stats --reset
cli plan samples/users.csv
stats --expect-writes 0

step "Apply"
stats --reset
cli apply samples/users.csv --report-dir "$OUT/first"
echo "summary.json:"
cat "$OUT/first/summary.json"
echo
stats

step "Apply the same file again: every row unchanged, zero Graph writes"
stats --reset
cli apply samples/users.csv --report-dir "$OUT/second"
stats --expect-writes 0
"$PY" - "$OUT/second/summary.json" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
outcomes = {k: v for k, v in summary["outcomes"].items() if v}
assert outcomes == {"unchanged": summary["rows"]}, f"second apply not all unchanged: {outcomes}"
print(f"all {summary['rows']} rows unchanged")
PY

step "Rules Graph enforces, explained before anything is sent"
cli plan samples/rules.csv || echo "(exit code $? : the unknown user is a failed row)"

step "Undo: apply undo.csv from the first run and the tenant is as it was"
cli apply "$OUT/first/undo.csv" --report-dir "$OUT/undo"
snapshot "$OUT/tenant-after-undo.json"
"$PY" scripts/sandbox_stats.py --compare "$OUT/tenant-before.json" "$OUT/tenant-after-undo.json"

step "Done: reports in $OUT/first, $OUT/second and $OUT/undo"
