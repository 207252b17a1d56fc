#!/usr/bin/env bash
# The benchmarks, release build:
# 1. import of the corpus's big generated file as a ratio to `sqlite3 .import`, and the time
#    of filtered Active Customers pages at that size;
# 2. sync: a fresh desktop's first download of those customers as a ratio to importing them,
#    and how long a head-office edit takes to show on 20 connected desktops (p50, p99).
#
# Usage: scripts/bench.sh [ROWS]     (default 100000)
set -euo pipefail

# shellcheck source=scripts/lib.sh source-path=SCRIPTDIR/..
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

command -v sqlite3 >/dev/null 2>&1 || die "sqlite3 is missing: run scripts/install-deps.sh"
if [[ -z "${CLIENTELA_CORPUS:-}" && -d "$REPO_ROOT/../shared/corpus" ]]; then
    export CLIENTELA_CORPUS="$REPO_ROOT/../shared/corpus"
fi
[[ -f "${CLIENTELA_CORPUS:-}/make_big_csv.py" ]] ||
    die "make_big_csv.py not found: set CLIENTELA_CORPUS to the corpus folder"

cargo build --release -p clientela-bench
"$TARGET_DIR/release/clientela-bench" "${1:-100000}"
echo
exec "$TARGET_DIR/release/clientela-sync-bench" "${1:-100000}"
