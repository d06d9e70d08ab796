#!/usr/bin/env bash
# Fuzzes the running API against its own OpenAPI document with schemathesis: every operation of
# /openapi.json gets generated valid and invalid requests, signed in as a registered user (a
# fresh login whenever fuzzing logs it out: scripts/fuzz_hooks.py), and every answer must be
# no 5xx and must match the document (status, content type, headers, body schema).
#
# Usage: scripts/fuzz.sh [max-examples per operation, default 60]
# Needs: schemathesis (pip install schemathesis), and target/debug/spin-test-host plus the
# release wasm components (both built by `cargo test --workspace`).
set -euo pipefail
cd "$(dirname "$0")/.."

examples="${1:-60}"
host=target/debug/spin-test-host
[ -x "$host" ] || cargo build -q -p spin-test-host
command -v schemathesis >/dev/null || { echo "fuzz: schemathesis is not installed" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
app_port=$(free_port)
ollama_port=$(free_port)
state=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT

"$host" fake-ollama --listen "127.0.0.1:$ollama_port" >"$state/ollama.log" 2>&1 &
pids+=($!)
# Rate limits off: the fuzzer is one client sending as fast as it can, and a 429 everywhere
# would hide what it came to find (the limits have their own tests).
"$host" up --listen "127.0.0.1:$app_port" --state-dir "$state/app" \
  --variable "ollama_url=http://127.0.0.1:$ollama_port" \
  --variable default_model=llama3.2:1b \
  --variable ollama_timeout_seconds=5 \
  --variable rate_limit_auth=0 --variable rate_limit_chat=0 --variable rate_limit_general=0 \
  --variable login_max_attempts_per_ip=1000000 --variable login_max_failures=1000000 \
  >"$state/app.log" 2>&1 &
pids+=($!)

base="http://127.0.0.1:$app_port"
for _ in $(seq 1 100); do
  curl -fs "$base/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$base/health" >/dev/null || { echo "fuzz: the app did not start" >&2; cat "$state/app.log" >&2; exit 1; }

# A user (the first, so an admin: admin routes are fuzzed too).
export FUZZ_BASE_URL="$base" FUZZ_USERNAME=fuzzer FUZZ_PASSWORD="a long and unusual fuzzing password 42"
curl -fs "$base/api/auth/register" -H 'content-type: application/json' \
  -d "{\"username\":\"$FUZZ_USERNAME\",\"password\":\"$FUZZ_PASSWORD\"}" >/dev/null

report="$state/report.json"
mkdir -p "$state"
set +e
PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=fuzz_hooks \
schemathesis run "$base/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "$examples" \
  --max-time 240 \
  --seed 20261123 \
  --workers 2 \
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
