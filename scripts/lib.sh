# Shared helpers for the scripts in this folder. Source it; do not run it.
# shellcheck shell=bash

# shellcheck disable=SC2034 # used by the scripts that source this file
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Where cargo builds: CARGO_TARGET_DIR when set, else target/ in the repository. Every build
# and every path to a built binary goes through this one folder.
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
export CARGO_TARGET_DIR="$TARGET_DIR"

# Where install-deps.sh puts a Node.js from PyPI when the system has none recent enough.
NODE_FALLBACK_DIR="${XDG_DATA_HOME:-$HOME/.local/share}/clientela/tools/node"

# Puts the tools that cargo and the Node.js fallback installed on PATH. Call it again after
# install-deps.sh, which may have created one of those folders.
add_tool_paths() {
    local dir
    for dir in "${CARGO_HOME:-$HOME/.cargo}/bin" "$NODE_FALLBACK_DIR/bin"; do
        if [[ -d "$dir" && ":$PATH:" != *":$dir:"* ]]; then
            PATH="$dir:$PATH"
        fi
    done
    export PATH
}
add_tool_paths

# Prints a step header and remembers when the step started.
step() {
    STEP_STARTED=$SECONDS
    printf '\n==> %s\n' "$*"
}

# Prints how long the current step took.
step_done() {
    printf '    done in %ss\n' "$((SECONDS - ${STEP_STARTED:-$SECONDS}))"
}

info() {
    printf '    %s\n' "$*"
}

die() {
    printf '\nERROR: %s\n' "$*" >&2
    exit 1
}

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run '$*': run this script as root or install sudo"
    fi
}

# True when the first dotted version is at least the second one.
version_at_least() {
    [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" == "$2" ]]
}
