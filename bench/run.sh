#!/usr/bin/env bash
# Benchmarks, run by hand (not part of the test suite): cold starts of release function
# binaries behind the Runtime API emulator against DynamoDB Local, beside two floors built in
# the same run; a warm-path load run against `runtype serve` beside a bare hyper server; and
# delivery throughput beside the raw rate of its HTTP client. Writes BENCHMARKS.md, keeping
# the sections `bench/scheduler.sh` and `bench/build.sh` made.
# Usage: bench/run.sh [RUNS (default 20)] [SECONDS (default 10)] [EXECUTIONS (default 5000)]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-20}"
SECONDS_PER_LOAD="${2:-10}"
EXECUTIONS="${3:-5000}"
TOOLS="$PWD/.tools"
. scripts/dynamodb-local.sh

echo "bench: building release binaries"
cargo build --release --quiet -p create-product -p create-surface-key -p get-surface -p invoke-surface-endpoint -p mcp -p a2a -p fire-schedules -p deliver-executions -p runtype-cli
cargo build --release --quiet -p runtype-tests --bin coldstart --bin deliverybench
cargo build --release --quiet --manifest-path bench/floors/Cargo.toml

echo "bench: cold starts ($RUNS runs each)"
COLD=$(target/release/coldstart "$RUNS" target/release bench/floors/target/release)

command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
DATA=$(mktemp -d)
trap 'kill "$DDB_PID" ${SERVE_PID:-} ${HELLO_PID:-} 2>/dev/null || true; rm -rf "$DATA"' EXIT
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# quotas out of the way: the create load makes far more than 1000 products
RUNTYPE_QUOTA_PRODUCTS_PER_OWNER=1000000000 \
  target/release/runtype serve --data "$DATA/db" --port "$PORT" --no-scheduler >"$DATA/out" 2>/dev/null &
SERVE_PID=$!
for _ in $(seq 1 100); do grep -q serving "$DATA/out" 2>/dev/null && break; sleep 0.1; done
KEY=$(grep -o 'rt_live_[A-Za-z0-9]*' "$DATA/out" | head -n 1)
API="http://127.0.0.1:$PORT"
H=(-H "Authorization: Bearer $KEY" -H 'Content-Type: application/json')
P=$(curl -s "${H[@]}" -d '{"name":"bench"}' "$API/v1/products" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
C=$(curl -s "${H[@]}" -d '{"capabilityName":"Answer questions","flowId":"f"}' "$API/v1/products/$P/capabilities" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
S=$(curl -s "${H[@]}" -d '{"name":"api","type":"api"}' "$API/v1/products/$P/surfaces" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -s "${H[@]}" -d "{\"capabilityId\":\"$C\"}" "$API/v1/products/$P/surfaces/$S/items" >/dev/null
# a surface key with limits high enough that every call of the run is admitted
SK=$(curl -s "${H[@]}" -d '{"rateLimitPerMinute":2000000000,"rateLimitPerDay":2000000000}' "$API/v1/products/$P/surfaces/$S/keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
cat >"$DATA/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"name":"load"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
cat >"$DATA/gateway.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"inputs":{"question":"load"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $SK"
LUA
# a products-as-code probe that hits: the hash of "bench" as it is
PH=$(curl -s "${H[@]}" "$API/v1/products/pull?name=bench" | python3 -c 'import json,sys; print(json.load(sys.stdin)["contentHash"])')
cat >"$DATA/probe.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"name":"bench","contentHash":"$PH"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
cat >"$DATA/get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
HELLO_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bench/floors/target/release/hyper-hello "$HELLO_PORT" &
HELLO_PID=$!
sleep 0.3

row() { # name, wrk output
  local p50 p99 rps
  p50=$(echo "$2" | awk '$1=="50%"{print $2}')
  p99=$(echo "$2" | awk '$1=="99%"{print $2}')
  rps=$(echo "$2" | awk '/Requests\/sec/{print $2}')
  echo "| $1 | $p50 | $p99 | $rps |"
}
echo "bench: warm path (${SECONDS_PER_LOAD}s each, 2 threads, 16 connections)"
W1=$(wrk -t2 -c16 -d"${SECONDS_PER_LOAD}s" --latency -s "$DATA/post.lua" "$API/v1/products")
W2=$(wrk -t2 -c16 -d"${SECONDS_PER_LOAD}s" --latency -s "$DATA/get.lua" "$API/v1/products/$P/surfaces/$S")
W3=$(wrk -t2 -c16 -d"${SECONDS_PER_LOAD}s" --latency "http://127.0.0.1:$HELLO_PORT/")
W4=$(wrk -t2 -c16 -d"${SECONDS_PER_LOAD}s" --latency -s "$DATA/gateway.lua" "$API/v1/products/$P/surfaces/$S/api/answer-questions")
W5=$(wrk -t2 -c16 -d"${SECONDS_PER_LOAD}s" --latency -s "$DATA/probe.lua" "$API/v1/products/ensure")
for w in "$W1" "$W2" "$W4" "$W5"; do
  if echo "$w" | grep -q 'Non-2xx'; then echo "bench: a load run had refusals:"; echo "$w"; exit 1; fi
done
PROBE=$(curl -s "${H[@]}" -d "{\"name\":\"bench\",\"contentHash\":\"$PH\"}" "$API/v1/products/ensure")
echo "$PROBE" | grep -q '"unchanged"' || { echo "bench: the probe answered $PROBE"; exit 1; }
CODES=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $SK" -H 'Content-Type: application/json' -d '{}' "$API/v1/products/$P/surfaces/$S/api/answer-questions")
[ "$CODES" = 202 ] || { echo "bench: the gateway answered $CODES, not 202"; exit 1; }
rps() { echo "$1" | awk '/Requests\/sec/{print $2}'; }
echo "bench: delivery ($EXECUTIONS executions)"
DELIVERY=$(target/release/deliverybench "$EXECUTIONS" target/release/runtype)
RATIO=$(python3 -c "print(f'{float(\"$(rps "$W4")\") / float(\"$(rps "$W2")\"):.2f}')")

# the sections bench/scheduler.sh and bench/build.sh wrote, kept as they are
BUILD_SECTION=$(awk '/^## (Scheduler|Whole-stack build)/{keep=1} keep' BENCHMARKS.md 2>/dev/null || true)
{
  echo "# Benchmarks"
  echo
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(uname -m), with \`bench/run.sh $RUNS $SECONDS_PER_LOAD $EXECUTIONS\`."
  echo
  echo "## Cold starts"
  echo
  echo "Each function started $RUNS times as a fresh process behind the Runtime API emulator"
  echo "(\`tests/src/runtime_api.rs\`) against DynamoDB Local. *init*: process start → its first"
  echo "request for an event; *first invoke*: event handed out → response. Release build"
  echo "(x86_64, the \`release\` profile: no LTO, stripped). The floors are built in the same run from \`bench/floors\`."
  echo
  echo "$COLD"
  echo
  echo "\`deliver-executions\` reads the runner's secret once per cold start. With the Secrets"
  echo "Manager SDK client the read (client set-up, SigV4, one local round trip here) adds the"
  echo "difference between its row and the no-runner row; through the Parameters and Secrets"
  echo "extension's endpoint (a plain local GET with the client already linked) it adds less on"
  echo "the function's side, but on Lambda the extension is a second process whose own start-up"
  echo "falls in the same Init phase and which cannot be measured here. The template uses the"
  echo "SDK unless \`SecretsExtensionLayerArn\` is given."
  echo
  echo "## Warm path"
  echo
  echo "\`runtype serve\` on the embedded store, \`wrk -t2 -c16 -d${SECONDS_PER_LOAD}s\`, beside a bare hyper server."
  echo
  echo "| request | p50 | p99 | requests/s |"
  echo "|---|---:|---:|---:|"
  row "POST /v1/products" "$W1"
  row "GET /v1/products/:id/surfaces/:surfaceId" "$W2"
  row "POST …/surfaces/:surfaceId/api/:endpointSlug (gateway, admitted)" "$W4"
  row "POST /v1/products/ensure (a probe that hits: one Query)" "$W5"
  row "floor: hyper hello-world" "$W3"
  echo
  echo "Gateway throughput ÷ GET surface throughput, same run: **$RATIO** (target ≥ 0.8)."
  echo "An admitted gateway call is a read (key and partition, side by side) and one write"
  echo "transaction (the rate-limit windows checked and counted, the execution, the key's usage);"
  echo "GET surface is two reads (the owner is checked on the product record first, API.md"
  echo "\"Limits\"). On the embedded store a read runs on the request's own thread while a write"
  echo "goes through the writer thread's group commit, so reads got cheaper than writes when"
  echo "reads stopped being handed to a blocking pool (2026-11-27): both rows got faster, GET"
  echo "surface about twice as fast, so this ratio fell while the gateway itself gained about 40%."
  echo
  echo "## Delivery"
  echo
  echo "One \`runtype serve\` (embedded store, webhook runner, default concurrency) delivering a"
  echo "backlog of $EXECUTIONS queued gateway executions to a local runner that answers 200 at once"
  echo "(first arrival to last), beside the same HTTP client posting the same number of"
  echo "webhook-sized bodies to the same runner at the same concurrency (\`tests/src/bin/deliverybench.rs\`)."
  echo
  echo "$DELIVERY"
  if [ -n "$BUILD_SECTION" ]; then
    echo
    echo "$BUILD_SECTION"
  fi
} > BENCHMARKS.md
cat BENCHMARKS.md
