# Sourced by the scripts that exercise a running app (fuzz.sh, openai_sdk.sh): `start_app
# [up flags...]` serves the app in the test host on a free port, with the fake Ollama and a
# fresh state folder, and sets `base` to its URL and `state` to a scratch folder; both stop
# when the script exits. Needs target/debug/spin-test-host, target/debug/fake-ollama and the
# release wasm components (all built by `cargo test --workspace`).

host=target/debug/spin-test-host
fake=target/debug/fake-ollama
[ -x "$host" ] || cargo build -q -p spin-test-host
[ -x "$fake" ] || cargo build -q -p test-support --bin fake-ollama

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
state=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT

start_app() {
  local app_port ollama_port
  app_port=$(free_port)
  ollama_port=$(free_port)
  "$fake" --listen "127.0.0.1:$ollama_port" >"$state/ollama.log" 2>&1 &
  pids+=($!)
  "$host" up --listen "127.0.0.1:$app_port" --state-dir "$state/app" \
    --variable "ollama_url=http://127.0.0.1:$ollama_port" \
    --variable default_model=llama3.2:1b \
    --variable ollama_timeout_seconds=5 \
    "$@" >"$state/app.log" 2>&1 &
  pids+=($!)
  base="http://127.0.0.1:$app_port"
  for _ in $(seq 1 100); do
    curl -fs "$base/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the app did not start; its log:" >&2
  cat "$state/app.log" >&2
  return 1
}
