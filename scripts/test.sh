#!/usr/bin/env bash
# The one test command: installs what is missing, then runs every check and test that CI runs,
# ending with the end-to-end test that drives the real window under Xvfb through tauri-driver.
#
# Usage: scripts/test.sh            everything, as CI runs it
#        scripts/test.sh --e2e-only build the UI and the app, then only the end-to-end test
#
# Environment:
#   CLIENTELA_CORPUS  folder of corpus files (default: shared/corpus beside the repository)
# Leaves screenshots in tests/e2e/screenshots/ and the drivers' logs in target/e2e/
# (or $CARGO_TARGET_DIR/e2e).
set -euo pipefail

# shellcheck source=scripts/lib.sh source-path=SCRIPTDIR/..
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

E2E_LOG_DIR="$TARGET_DIR/e2e"
E2E_MANIFEST=tests/e2e/Cargo.toml
# Bounds for waiting on the drivers; each is polled, never slept through.
XVFB_READY_SECONDS=20
DRIVER_READY_SECONDS=30

XVFB_PID=""
# One tauri-driver per app window (head office, then a branch), each with its own data.
DRIVER_PIDS=()
APP_DATA_DIRS=()
PG_DIR=""

# Polls a command every tenth of a second until it succeeds or the seconds run out.
wait_until() {
    local seconds=$1
    shift
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

process_alive() {
    kill -0 "$1" 2>/dev/null
}

leads_own_group() {
    [[ "$(ps -o pgid= -p "$1" | tr -d ' ')" == "$1" ]]
}

process_group_gone() {
    ! kill -0 -- "-$1" 2>/dev/null
}

stop_drivers() {
    local pid
    for pid in "${DRIVER_PIDS[@]}"; do
        # tauri-driver leads its own process group, which holds WebKitWebDriver and the app.
        kill -TERM -- "-$pid" 2>/dev/null || true
        if ! wait_until 10 process_group_gone "$pid"; then
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    DRIVER_PIDS=()
    if [[ -n "$XVFB_PID" ]]; then
        kill -TERM "$XVFB_PID" 2>/dev/null || true
        wait "$XVFB_PID" 2>/dev/null || true
        XVFB_PID=""
    fi
}

cleanup() {
    local status=$?
    stop_drivers
    stop_postgres
    local dir
    for dir in "${APP_DATA_DIRS[@]}"; do
        if ((status == 0)); then
            rm -rf "$dir"
        else
            printf 'The app data of the end-to-end run is kept in %s\n' "$dir" >&2
        fi
    done
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Exports CLIENTELA_CORPUS, the corpus that the Rust tests and the end-to-end test read.
find_corpus() {
    if [[ -n "${CLIENTELA_CORPUS:-}" ]]; then
        [[ -d "$CLIENTELA_CORPUS" ]] ||
            die "CLIENTELA_CORPUS is set to $CLIENTELA_CORPUS, which is not a folder"
    elif [[ -d "$REPO_ROOT/../shared/corpus" ]]; then
        CLIENTELA_CORPUS="$(cd "$REPO_ROOT/../shared/corpus" && pwd)"
    else
        die "the test corpus was not found: expected a shared/corpus folder beside the \
repository ($REPO_ROOT/../shared/corpus), or set CLIENTELA_CORPUS to its path"
    fi
    export CLIENTELA_CORPUS
    info "CLIENTELA_CORPUS=$CLIENTELA_CORPUS"
}

# Runs a PostgreSQL program as the postgres user when we are root (PostgreSQL refuses to
# run as root), else as ourselves.
as_pg_user() {
    if [[ "$(id -u)" -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Starts a private PostgreSQL cluster listening only on a Unix socket in a temporary folder,
# and exports CLIENTELA_TEST_PG_URL for the server's tests. pg_ctl -w returns once the
# server accepts connections.
start_postgres() {
    local bin
    bin="$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null |
        sort -V | tail -n 1)"
    [[ -x "$bin/initdb" ]] || die "PostgreSQL was not found in /usr/lib/postgresql: run \
scripts/install-deps.sh"
    PG_DIR="$(mktemp -d -t clientela-pg.XXXXXX)"
    [[ "$(id -u)" -eq 0 ]] && chown postgres "$PG_DIR"
    as_pg_user "$bin/initdb" --pgdata="$PG_DIR/data" --username=clientela --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
        die "initdb failed: $(tail -n 20 "$PG_DIR/initdb.log")"
    as_pg_user "$bin/pg_ctl" --pgdata="$PG_DIR/data" --log="$PG_DIR/server.log" --wait \
        --options="-c listen_addresses='' -k $PG_DIR" start >/dev/null ||
        die "PostgreSQL did not start: $(tail -n 20 "$PG_DIR/server.log")"
    PG_BIN="$bin"
    export CLIENTELA_TEST_PG_URL="postgres://clientela@localhost/postgres?host=$PG_DIR"
    info "PostgreSQL ready on the socket in $PG_DIR"
}

stop_postgres() {
    if [[ -n "$PG_DIR" ]]; then
        as_pg_user "$PG_BIN/pg_ctl" --pgdata="$PG_DIR/data" --mode=fast --wait stop \
            >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
        PG_DIR=""
    fi
}

# Prints the display number that Xvfb wrote to the given file once it was ready to accept
# clients (-displayfd), or nothing while it has not.
xvfb_display_number() {
    local number
    number="$(cat "$1" 2>/dev/null || true)"
    [[ "$number" =~ ^[0-9]+$ ]] && [[ -S "/tmp/.X11-unix/X$number" ]] && printf '%s' "$number"
}

xvfb_ready_or_dead() {
    [[ -n "$(xvfb_display_number "$1")" ]] || ! process_alive "$XVFB_PID"
}

# Starts Xvfb on the first free display from :99 on and exports DISPLAY once it is ready.
start_xvfb() {
    local number display_file="$E2E_LOG_DIR/xvfb-display"
    for number in $(seq 99 199); do
        [[ -e "/tmp/.X$number-lock" || -e "/tmp/.X11-unix/X$number" ]] && continue

        : >"$display_file"
        Xvfb ":$number" -screen 0 1280x800x24 -nolisten tcp -displayfd 3 \
            3>"$display_file" >"$E2E_LOG_DIR/xvfb.log" 2>&1 &
        XVFB_PID=$!
        wait_until "$XVFB_READY_SECONDS" xvfb_ready_or_dead "$display_file" ||
            die "Xvfb :$number was not ready after ${XVFB_READY_SECONDS}s \
(see $E2E_LOG_DIR/xvfb.log)"
        if [[ -n "$(xvfb_display_number "$display_file")" ]]; then
            export DISPLAY=":$number"
            info "Xvfb ready on DISPLAY=$DISPLAY (pid $XVFB_PID)"
            return
        fi
        # Another server took this display between our check and its start: try the next.
        wait "$XVFB_PID" 2>/dev/null || true
        XVFB_PID=""
    done
    die "no free X display between :99 and :199 (see $E2E_LOG_DIR/xvfb.log)"
}

# Prints two free TCP ports on 127.0.0.1, one a line.
free_ports() {
    python3 - <<'PY'
import socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
for s in sockets:
    print(s.getsockname()[1])
PY
}

# True once tauri-driver answers and its WebKitWebDriver behind it too (it proxies /status).
driver_ready_or_dead() {
    curl --silent --fail --max-time 2 "http://127.0.0.1:$1/status" >/dev/null ||
        ! process_alive "$2"
}

# Starts a tauri-driver for one app window under Xvfb, with a data folder of its own, and
# prints its URL once it answers. Usage: start_tauri_driver <name for its log>
start_tauri_driver() {
    local name=$1 port native_port data pid log="$E2E_LOG_DIR/tauri-driver-$1.log"
    { read -r port && read -r native_port; } < <(free_ports)
    data="$(mktemp -d -t "clientela-e2e-$name.XXXXXX")"
    APP_DATA_DIRS+=("$data")

    # setsid: tauri-driver leads a new process group, so that stop_drivers ends the
    # WebKitWebDriver and app processes it starts too, and nothing else.
    # WEBKIT_DISABLE_COMPOSITING_MODE=1 would save about 70 MB, but with it WebKitWebDriver's
    # Take Screenshot never answers (WebKitGTK 2.50 under Xvfb), so it stays unset.
    CLIENTELA_DATA_DIR="$data" \
        setsid tauri-driver --port "$port" --native-port "$native_port" >"$log" 2>&1 &
    pid=$!
    DRIVER_PIDS+=("$pid")
    # setsid runs in the child after the fork: wait until it has.
    wait_until 5 leads_own_group "$pid" ||
        die "tauri-driver did not start in a process group of its own (see $log)"

    wait_until "$DRIVER_READY_SECONDS" driver_ready_or_dead "$port" "$pid" ||
        die "tauri-driver was not ready after ${DRIVER_READY_SECONDS}s (see $log)"
    process_alive "$pid" || die "tauri-driver stopped at start-up: $(tail -n 20 "$log")"
    info "tauri-driver ($name) ready at http://127.0.0.1:$port, data in $data" >&2
    printf 'http://127.0.0.1:%s' "$port"
}

run_e2e_test() {
    export CLIENTELA_APP="$TARGET_DIR/debug/clientela"
    # One window at a time; --nocapture shows the test's progress lines as they happen.
    if ! cargo test --manifest-path "$E2E_MANIFEST" --target-dir "$TARGET_DIR" -- \
        --test-threads=1 --nocapture; then
        local log
        for log in "$E2E_LOG_DIR"/tauri-driver-*.log; do
            printf '\nLast lines of %s:\n' "$log" >&2
            tail -n 40 "$log" >&2 || true
        done
        die "the end-to-end test failed; screenshots are in tests/e2e/screenshots/"
    fi
}

run_end_to_end() {
    step "End-to-end: build the test"
    cargo test --manifest-path "$E2E_MANIFEST" --target-dir "$TARGET_DIR" --no-run
    step_done

    step "End-to-end: start Xvfb and tauri-driver"
    mkdir -p "$E2E_LOG_DIR"
    start_xvfb
    # Not in $(...): the driver must stay a child of this shell, to be stopped at the end.
    start_tauri_driver head-office >"$E2E_LOG_DIR/driver-url-1"
    start_tauri_driver branch >"$E2E_LOG_DIR/driver-url-2"
    CLIENTELA_E2E_DRIVER="$(cat "$E2E_LOG_DIR/driver-url-1")"
    CLIENTELA_E2E_DRIVER_2="$(cat "$E2E_LOG_DIR/driver-url-2")"
    export CLIENTELA_E2E_DRIVER CLIENTELA_E2E_DRIVER_2
    step_done

    step "End-to-end: drive the app"
    run_e2e_test
    step_done

    stop_drivers
}

main() {
    local e2e_only=0
    case "${1:-}" in
        "") ;;
        --e2e-only) e2e_only=1 ;;
        *) die "unknown argument '$1' (usage: scripts/test.sh [--e2e-only])" ;;
    esac

    step "Dependencies"
    "$REPO_ROOT/scripts/install-deps.sh"
    add_tool_paths

    step "Test corpus"
    find_corpus

    step "UI: build (npm --prefix ui run build)"
    npm --prefix ui run build
    step_done

    if ((e2e_only)); then
        step "Rust: build the app and every test (cargo build --workspace --all-targets)"
        cargo build --workspace --all-targets
        step_done
        run_end_to_end
        printf '\nThe end-to-end test passed in %ss.\n' "$SECONDS"
        return
    fi

    step "UI: type check (npm --prefix ui run check)"
    npm --prefix ui run check
    step_done

    step "UI: formatting (npm --prefix ui run format:check)"
    npm --prefix ui run format:check
    step_done

    step "UI: unit tests (npm --prefix ui test)"
    npm --prefix ui test
    step_done

    step "Rust: formatting (cargo fmt --check)"
    cargo fmt --all -- --check
    cargo fmt --manifest-path "$E2E_MANIFEST" -- --check
    step_done

    # One dev-profile build in the target folder, shared by the lints, the tests and the e2e test.
    step "Rust: build the app and every test (cargo build --workspace --all-targets)"
    cargo build --workspace --all-targets
    step_done

    step "Rust: lints (cargo clippy -D warnings)"
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy --manifest-path "$E2E_MANIFEST" --target-dir "$TARGET_DIR" --all-targets -- -D warnings
    step_done

    step "Rust: tests (cargo test --workspace), the server's on SQLite and PostgreSQL"
    start_postgres
    cargo test --workspace
    stop_postgres
    step_done

    run_end_to_end
    printf '\nAll checks passed in %ss.\n' "$SECONDS"
}

# Sourcing this file (to try one function) defines the functions without running them.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
