#!/usr/bin/env bash
# Fuzzes the running API against its own OpenAPI document with schemathesis: every operation of
# /openapi.json gets generated valid and invalid requests, signed in as a registered user (a
# fresh login whenever fuzzing logs it out: scripts/fuzz_hooks.py), and every answer must be
# no 5xx and must match the document (status, content type, headers, body schema).
#
# Usage: scripts/fuzz.sh [max-examples per operation, default 60]
# Needs: schemathesis (pip install schemathesis), and what scripts/app.sh needs.
set -euo pipefail
cd "$(dirname "$0")/.."

examples="${1:-60}"
command -v schemathesis >/dev/null || { echo "fuzz: schemathesis is not installed" >&2; exit 1; }
source scripts/app.sh

# Rate limits off: the fuzzer is one client sending as fast as it can, and a 429 everywhere
# would hide what it came to find (the limits have their own tests).
start_app \
  --variable rate_limit_auth=0 --variable rate_limit_chat=0 --variable rate_limit_general=0 \
  --variable login_max_attempts_per_ip=1000000 --variable login_max_failures=1000000

# A user (the first, so an admin: admin routes are fuzzed too).
export FUZZ_BASE_URL="$base" FUZZ_USERNAME=fuzzer FUZZ_PASSWORD="a long and unusual fuzzing password 42"
curl -fs "$base/api/auth/register" -H 'content-type: application/json' \
  -d "{\"username\":\"$FUZZ_USERNAME\",\"password\":\"$FUZZ_PASSWORD\"}" >/dev/null

report="$state/report.json"
mkdir -p "$state"
set +e
# One worker: with two, hypothesis parses lambda sources on two threads at once, and CPython
# 3.11's `ast.parse` is not safe for that ("AST constructor recursion depth mismatch", a
# Runtime Error in the report and a failed run with no failing request; seen once in CI).
PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=fuzz_hooks \
schemathesis run "$base/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "$examples" \
  --max-time 240 \
  --seed 20261123 \
  --workers 1 \
  --request-timeout 20 \
  --suppress-health-check all \
  --generation-database none \
  --no-color \
  --report json --report-json-path "$report"
status=$?
set -e
python3 - "$report" <<'EOF' || true
import json, sys
r = json.load(open(sys.argv[1]))
print("fuzz: test cases:", json.dumps(r.get("test_cases")), "failures:", len(r.get("failures") or []),
      "errors:", len(r.get("errors") or []), "operations:", json.dumps(r.get("operations")))
EOF
if [ "$status" -ne 0 ]; then
  echo "fuzz: schemathesis found problems (exit $status); the app's log:" >&2
  grep -v '"level":"info"' "$state/app.log" | tail -50 >&2 || true
fi
exit "$status"
