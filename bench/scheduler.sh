#!/usr/bin/env bash
# Scheduler throughput, run by hand (not part of the test suite): one pass over N due
# schedules of many owners on DynamoDB Local behind a 10 ms-per-request proxy, at
# concurrency 1 and at the default, beside the claim transactions alone through the same
# proxy; the embedded store's figure; the fairness figure. Writes its section of
# BENCHMARKS.md ("## Scheduler").   Usage: bench/scheduler.sh [SCHEDULES (5000)] [OWNERS (50)]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-5000}"
OWNERS="${2:-50}"
TOOLS="$PWD/.tools"
. scripts/dynamodb-local.sh

cargo build --release --quiet -p runtype-tests --bin schedulerbench
echo "bench: scheduler ($N schedules, $OWNERS owners)"
TABLE=$(target/release/schedulerbench "$N" "$OWNERS")

SECTION=$(cat <<MD
## Scheduler

\`bench/scheduler.sh $N $OWNERS\`, $(date -u +%Y-%m-%d), $(nproc) cores. $N due schedules (every
minute, two record ids each) of $OWNERS owners. DynamoDB Local behind a proxy that holds every
request for 10 ms, as a Lambda sees DynamoDB in its region (straight to DynamoDB Local, 1–3 ms
on loopback, concurrency would look useless). The floor: the very claim transactions
(\`repo::schedules::firing_ops\`: the schedule moved on under its version, the run, the
execution) sent straight to the store at the same concurrency through the same proxy, built in
the same run on a second table of the same shape. Requests per fire include the due-index
pages.

$TABLE
MD
)
python3 - "$SECTION" <<'PY'
import re, sys
section = sys.argv[1].rstrip() + "\n"
text = open("BENCHMARKS.md").read()
pattern = re.compile(r"^## Scheduler\n.*?(?=^## |\Z)", re.S | re.M)
if pattern.search(text):
    text = pattern.sub(section + "\n", text)
else:
    marker = "## Whole-stack build"
    text = text.replace(marker, section + "\n" + marker) if marker in text else text + "\n" + section
open("BENCHMARKS.md", "w").write(text)
PY
echo "$SECTION"
