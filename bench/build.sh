#!/usr/bin/env bash
# Build-time benchmark, run by hand (not part of the test suite). Measures what a user pays to
# deploy: the whole-stack `sam build --beta-features` (arm64, cargo lambda, the `release`
# profile the README recommends) from a cold target directory and again after a change to
# `shared`; each function's stripped size; and, for both profiles (`release` and `dist`),
# the init time and peak RSS of four functions beside the hello-world floor, with the cold
# start harness of bench/run.sh (x86_64 builds, so they run here). Prints the tables for
# BENCHMARKS.md.   Usage: bench/build.sh [RUNS (default 20)]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-20}"
TOOLS="$PWD/.tools"
. scripts/dynamodb-local.sh >&2

# sam (as test.sh installs it) and cargo-lambda (which brings zig for the arm64 link)
VENV="$TOOLS/venv"
[ -x "$VENV/bin/sam" ] || { python3 -m venv "$VENV"; "$VENV/bin/pip" install --quiet "aws-sam-cli==1.170.0" "cfn-lint==1.58.0"; }
[ -x "$VENV/bin/cargo-lambda" ] || "$VENV/bin/pip" install --quiet "cargo-lambda==1.9.2"
rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
export PATH="$VENV/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1

WORK=$(mktemp -d)
restore() { git checkout -q -- shared/src/lib.rs 2>/dev/null || true; kill "$DDB_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap restore EXIT

# the stack, cold: a target directory of its own
export CARGO_TARGET_DIR="$WORK/target"
t0=$(date +%s)
sam build --beta-features --build-dir "$WORK/build" >"$WORK/cold.log" 2>&1 || { tail -30 "$WORK/cold.log"; exit 1; }
t1=$(date +%s)
# a change to shared (a comment): every function relinks
echo "// build benchmark" >>shared/src/lib.rs
sam build --beta-features --build-dir "$WORK/build" >"$WORK/warm.log" 2>&1 || { tail -30 "$WORK/warm.log"; exit 1; }
t2=$(date +%s)
git checkout -q -- shared/src/lib.rs
FUNCTIONS=$(ls "$WORK/build" | grep -c Function || true)
SIZES=$(for f in "$WORK"/build/*Function/bootstrap; do stat -c %s "$f"; done | sort -n)
SMALLEST=$(echo "$SIZES" | head -n 1); LARGEST=$(echo "$SIZES" | tail -n 1)
unset CARGO_TARGET_DIR

# init and RSS of both profiles, x86_64, beside the floors
HOST_BINS="-p create-product -p create-surface-key -p get-surface -p invoke-surface-endpoint -p mcp -p a2a -p fire-schedules -p deliver-executions"
cargo build --release --quiet $HOST_BINS
cargo build --release --quiet -p runtype-tests --bin coldstart
cargo build --profile dist --quiet $HOST_BINS
cargo build --release --quiet --manifest-path bench/floors/Cargo.toml
RELEASE=$(target/release/coldstart "$RUNS" target/release bench/floors/target/release)
DIST=$(target/release/coldstart "$RUNS" target/dist bench/floors/target/release)

mb() { python3 -c "print(f'{$1 / 1048576:.2f}')"; }
echo "## Build times (\`bench/build.sh $RUNS\`, $(date -u +%Y-%m-%d), $(nproc) cores)"
echo
echo "| build | wall time |"
echo "|---|---:|"
echo "| whole stack ($FUNCTIONS functions, arm64), cold target directory | $((t1 - t0)) s |"
echo "| whole stack after a change to \`shared\` | $((t2 - t1)) s |"
echo
echo "arm64 \`bootstrap\` sizes (release profile, stripped): $(mb "$SMALLEST")–$(mb "$LARGEST") MB."
echo
echo "### release profile (no LTO; what \`sam build\` uses)"
echo
echo "$RELEASE"
echo
echo "### dist profile (fat LTO, one codegen unit)"
echo
echo "$DIST"
