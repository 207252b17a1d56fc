#!/usr/bin/env bash
# Installs what is missing, builds the UI and starts Clientela (release build: the
# app as people use it; the first build takes about six minutes on two cores).
#
# Environment:
#   CLIENTELA_DATA_DIR  where the app keeps its database (default: the OS user data folder)
#   CLIENTELA_HEADLESS  set to 1 to run under Xvfb when there is no display
# Arguments after the script name are passed to the app.
set -euo pipefail

# shellcheck source=scripts/lib.sh source-path=SCRIPTDIR/..
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

headless=0
if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
    if [[ "${CLIENTELA_HEADLESS:-}" == 1 ]]; then
        headless=1
    else
        die "no display: neither DISPLAY nor WAYLAND_DISPLAY is set, so the window has nowhere \
to open. Run this from a desktop session, or set CLIENTELA_HEADLESS=1 to start the app under \
Xvfb (nothing is visible then)."
    fi
fi

step "Dependencies"
"$REPO_ROOT/scripts/install-deps.sh"
add_tool_paths

# The app embeds ui/dist: rebuilding it when nothing changed would recompile the app too.
step "Build the UI (npm --prefix ui run build)"
if [[ -f ui/dist/index.html ]] &&
    [[ -z "$(find ui/src ui/index.html ui/package-lock.json ui/vite.config.ts \
        -newer ui/dist/index.html -print -quit)" ]]; then
    info "up to date"
else
    npm --prefix ui run build
    step_done
fi

step "Build in release and start Clientela (cargo run --release --bin clientela)"
if [[ -n "${CLIENTELA_DATA_DIR:-}" ]]; then
    info "data folder: $CLIENTELA_DATA_DIR (CLIENTELA_DATA_DIR)"
else
    info "data folder: the OS user data folder (set CLIENTELA_DATA_DIR to use another)"
fi
if ((headless)); then
    info "no display: running under Xvfb (xvfb-run)"
    exec xvfb-run --auto-servernum --server-args="-screen 0 1280x800x24 -nolisten tcp" \
        cargo run --release --bin clientela -- "$@"
fi
exec cargo run --release --bin clientela -- "$@"
