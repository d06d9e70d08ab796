#!/usr/bin/env bash
# Runs the official `openai` Python SDK (the version pinned below, from PyPI) against the app's
# /v1 in the test host with the fake Ollama: scripts/openai_sdk.py, as a registered user's API
# key. Needs what scripts/app.sh needs.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check "openai==3.63.0"
source scripts/app.sh
rate_limit_chat=20
start_app --variable rate_limit_chat=$rate_limit_chat

json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
password="a long and unusual password 42"
token=$(curl -fs "$base/api/auth/register" -H 'content-type: application/json' \
  -d "{\"username\":\"openai-client\",\"password\":\"$password\"}" | json '["access_token"]')
key=$(curl -fs "$base/api/auth/keys" -H 'content-type: application/json' \
  -H "authorization: Bearer $token" -d '{"name":"openai sdk"}' | json '["key"]')

OPENAI_BASE_URL="$base/v1" OPENAI_API_KEY="$key" RATE_LIMIT_CHAT=$rate_limit_chat \
  python3 scripts/openai_sdk.py || { grep -v '"level":"info"' "$state/app.log" | tail -30 >&2; exit 1; }
