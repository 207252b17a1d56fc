#!/usr/bin/env bash
# Regenerates ui/src/lib/bindings.ts from the Rust commands (the test that checks it is
# `committed_bindings_match_the_commands`).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d ui/dist ] || { mkdir -p ui/dist && echo '<!doctype html>' > ui/dist/index.html; }
UPDATE_BINDINGS=1 cargo test --lib -p clientela committed_bindings_match_the_commands -- --quiet
echo "ui/src/lib/bindings.ts updated"
