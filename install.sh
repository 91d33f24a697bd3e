#!/usr/bin/env bash
# Install Parley on a Debian/Ubuntu machine.
#
# Builds a fully static binary (x86_64-unknown-linux-musl) from this source
# tree, or installs a prebuilt one with --binary, then sets up the config, the
# data directory, the `parley` system user and a hardened systemd unit.
# Safe to run more than once: an existing config is never overwritten.
set -euo pipefail

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MUSL_TARGET="x86_64-unknown-linux-musl"
SERVICE_USER="parley"
UNIT_DEST="/etc/systemd/system/parley.service"

PREFIX="/usr/local"
USE_SYSTEMD=1
USE_MUSL=1
CONFIG_DIR=""
DATA_DIR=""
PREBUILT=""

usage() {
    cat <<EOF
Usage: $(basename "$0") [options]

Install Parley (binary, config, data directory and systemd service).

Options:
  --prefix DIR       install the binary to DIR/bin/parley (default: /usr/local)
  --no-systemd       non-root install: no system user, no systemd unit;
                     config defaults to PREFIX/etc/parley/config.toml and
                     data to PREFIX/var/lib/parley
  --config-dir DIR   directory for config.toml (default: /etc/parley)
  --data-dir DIR     data directory (default: /var/lib/parley)
  --binary FILE      install this prebuilt binary instead of building
  --no-musl          build for the host target instead of static musl
  -h, --help         show this help and exit

Examples:
  sudo ./install.sh
  ./install.sh --no-systemd --prefix "\$HOME/.local"
  sudo ./install.sh --binary ./parley
EOF
}

say() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
usage_error() {
    printf 'error: %s\n' "$*" >&2
    printf "Run '%s --help' for the list of options.\n" "$(basename "$0")" >&2
    exit 2
}

# ---------------------------------------------------------------- options --
need_value() {
    # $1 = option name, $2 = number of remaining args (incl. the option)
    if [[ "$2" -lt 2 ]]; then
        usage_error "option $1 needs a value"
    fi
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) need_value "$1" $#; PREFIX="$2"; shift 2 ;;
        --prefix=*) PREFIX="${1#*=}"; shift ;;
        --config-dir) need_value "$1" $#; CONFIG_DIR="$2"; shift 2 ;;
        --config-dir=*) CONFIG_DIR="${1#*=}"; shift ;;
        --data-dir) need_value "$1" $#; DATA_DIR="$2"; shift 2 ;;
        --data-dir=*) DATA_DIR="${1#*=}"; shift ;;
        --binary) need_value "$1" $#; PREBUILT="$2"; shift 2 ;;
        --binary=*) PREBUILT="${1#*=}"; shift ;;
        --no-systemd) USE_SYSTEMD=0; shift ;;
        --no-musl) USE_MUSL=0; shift ;;
        -h | --help) usage; exit 0 ;;
        --) shift; break ;;
        *) usage_error "unknown option: $1" ;;
    esac
done
if [[ $# -gt 0 ]]; then
    usage_error "unexpected argument: $1"
fi

for v in "$PREFIX" "$CONFIG_DIR" "$DATA_DIR" "$PREBUILT"; do
    if [[ "$v" == *$'\n'* ]]; then
        usage_error "paths must not contain newlines"
    fi
done
if [[ -z "$PREFIX" ]]; then
    usage_error "--prefix must not be empty"
fi

if [[ "$USE_SYSTEMD" -eq 1 ]]; then
    CONFIG_DIR="${CONFIG_DIR:-/etc/parley}"
    DATA_DIR="${DATA_DIR:-/var/lib/parley}"
else
    CONFIG_DIR="${CONFIG_DIR:-$PREFIX/etc/parley}"
    DATA_DIR="${DATA_DIR:-$PREFIX/var/lib/parley}"
fi

# Make every path absolute (systemd requires it; relative paths would also
# break once we cd into the source tree).
PREFIX="$(realpath -m -- "$PREFIX")"
CONFIG_DIR="$(realpath -m -- "$CONFIG_DIR")"
DATA_DIR="$(realpath -m -- "$DATA_DIR")"
if [[ -n "$PREBUILT" ]]; then
    PREBUILT="$(realpath -m -- "$PREBUILT")"
fi

BIN_DEST="$PREFIX/bin/parley"
CONFIG_FILE="$CONFIG_DIR/config.toml"

IS_ROOT=0
if [[ "$(id -u)" -eq 0 ]]; then
    IS_ROOT=1
fi

if [[ "$USE_SYSTEMD" -eq 1 ]]; then
    if [[ "$IS_ROOT" -ne 1 ]]; then
        die "a system install needs root: run it with sudo, or use --no-systemd for a per-user install"
    fi
    # These paths go into the systemd unit and through sed; keep them simple.
    for p in "$BIN_DEST" "$CONFIG_FILE" "$DATA_DIR"; do
        if [[ ! "$p" =~ ^/[A-Za-z0-9._/+@:-]*$ ]]; then
            die "path '$p' contains characters not supported in the systemd unit (use letters, digits and . _ / + @ : -)"
        fi
    done
fi

# ------------------------------------------------------------------- build --
print_link_check() {
    # $1 = binary, $2 = 1 if it must be static
    local bin="$1" must_be_static="$2" out static=0
    if command -v file >/dev/null 2>&1; then
        out="$(file -L -- "$bin")"
        if [[ "$out" == *"statically linked"* || "$out" == *"static-pie linked"* ]]; then
            static=1
        fi
    else
        out="ldd: $(ldd "$bin" 2>&1 || true)"
        if [[ "$out" == *"not a dynamic executable"* || "$out" == *"statically linked"* ]]; then
            static=1
        fi
    fi
    say "link check: $out"
    if [[ "$static" -eq 1 ]]; then
        say "binary is statically linked"
    elif [[ "$must_be_static" -eq 1 ]]; then
        die "expected a statically linked binary but $bin is dynamically linked"
    else
        say "binary is not statically linked (it needs the host's libc at runtime)"
    fi
}

ensure_cargo() {
    if [[ -d "${HOME:-/nonexistent}/.cargo/bin" ]]; then
        PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        die "cargo not found. Install Rust with rustup (https://rustup.rs) for this user, or build as your own user and pass the result with --binary"
    fi
}

ensure_musl_toolchain() {
    if ! command -v rustup >/dev/null 2>&1; then
        die "rustup not found; it is needed to add the $MUSL_TARGET target. Install rustup or use --no-musl"
    fi
    # Run rustup from the source tree so a rust-toolchain.toml there is honoured.
    if (cd "$SRC_DIR" && rustup target list --installed) | grep -qx "$MUSL_TARGET"; then
        say "rustup target $MUSL_TARGET already installed"
    else
        (cd "$SRC_DIR" && rustup target add "$MUSL_TARGET")
        say "added rustup target $MUSL_TARGET"
    fi

    if command -v musl-gcc >/dev/null 2>&1; then
        say "musl-gcc found at $(command -v musl-gcc)"
    elif [[ "$IS_ROOT" -eq 1 ]]; then
        say "musl-gcc not found; installing musl-tools"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y musl-tools
        say "installed musl-tools"
    else
        printf 'error: musl-gcc is missing (needed to compile the C parts of aws-lc-sys and mimalloc).\n' >&2
        printf 'Install it with:\n\n    sudo apt-get update && sudo apt-get install -y musl-tools\n\n' >&2
        printf 'then run this script again (or use --no-musl for a dynamically linked build).\n' >&2
        exit 1
    fi
}

build_binary() {
    ensure_cargo
    local target_dir="${CARGO_TARGET_DIR:-$SRC_DIR/target}"
    if [[ "$target_dir" != /* ]]; then
        target_dir="$SRC_DIR/$target_dir"
    fi
    if [[ "$USE_MUSL" -eq 1 ]]; then
        if [[ "$(uname -m)" != "x86_64" ]]; then
            die "static builds are only set up for x86_64 (this is $(uname -m)); use --no-musl"
        fi
        ensure_musl_toolchain
        say "building parley for $MUSL_TARGET (this takes a few minutes)"
        (
            cd "$SRC_DIR"
            export CC_x86_64_unknown_linux_musl=musl-gcc
            cargo build --release --locked --target "$MUSL_TARGET"
        )
        BUILT_BIN="$target_dir/$MUSL_TARGET/release/parley"
    else
        say "building parley for the host target (this takes a few minutes)"
        (cd "$SRC_DIR" && cargo build --release --locked)
        BUILT_BIN="$target_dir/release/parley"
    fi
    [[ -x "$BUILT_BIN" ]] || die "build finished but $BUILT_BIN does not exist"
    say "built $BUILT_BIN"
    print_link_check "$BUILT_BIN" "$USE_MUSL"
}

BUILT_BIN=""
if [[ -n "$PREBUILT" ]]; then
    [[ -f "$PREBUILT" ]] || die "--binary: $PREBUILT does not exist"
    [[ -x "$PREBUILT" ]] || die "--binary: $PREBUILT is not executable"
    BUILT_BIN="$PREBUILT"
    say "using prebuilt binary $PREBUILT (not building)"
    print_link_check "$BUILT_BIN" 0
else
    build_binary
fi

# ----------------------------------------------------------------- install --
TMP_FILES=()
cleanup() {
    if [[ ${#TMP_FILES[@]} -gt 0 ]]; then
        rm -f -- "${TMP_FILES[@]}"
    fi
}
trap cleanup EXIT

# Binary: copy next to the destination, then rename over it. The rename is
# atomic, so a running parley keeps its old inode and never sees a half file.
mkdir -p -- "$PREFIX/bin"
tmp_bin="$PREFIX/bin/.parley.new.$$"
TMP_FILES+=("$tmp_bin")
install -m 0755 -- "$BUILT_BIN" "$tmp_bin"
mv -f -- "$tmp_bin" "$BIN_DEST"
say "installed binary to $BIN_DEST"

# System user.
if [[ "$USE_SYSTEMD" -eq 1 ]]; then
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
        say "user $SERVICE_USER already exists"
    else
        if getent group "$SERVICE_USER" >/dev/null 2>&1; then
            group_opt=(--gid "$SERVICE_USER")
        else
            group_opt=(--user-group)
        fi
        useradd --system "${group_opt[@]}" --home-dir "$DATA_DIR" \
            --shell /usr/sbin/nologin "$SERVICE_USER"
        say "created user $SERVICE_USER"
    fi
fi

# Directories.
mkdir -p -- "$CONFIG_DIR"
say "config dir $CONFIG_DIR"
mkdir -p -- "$DATA_DIR"
if [[ "$USE_SYSTEMD" -eq 1 ]]; then
    chown "$SERVICE_USER:$SERVICE_USER" "$DATA_DIR"
fi
chmod 0700 "$DATA_DIR"
if [[ "$USE_SYSTEMD" -eq 1 ]]; then
    say "data dir $DATA_DIR (owner $SERVICE_USER:$SERVICE_USER, mode 0700)"
else
    say "data dir $DATA_DIR (mode 0700)"
fi

# Config: only written if missing, never overwritten.
if [[ -e "$CONFIG_FILE" ]]; then
    say "kept existing config $CONFIG_FILE"
else
    example="$SRC_DIR/config.example.toml"
    [[ -f "$example" ]] || die "$example not found (it must sit next to install.sh)"
    tmp_cfg="$CONFIG_DIR/.config.toml.new.$$"
    TMP_FILES+=("$tmp_cfg")
    if [[ "$USE_SYSTEMD" -eq 1 ]]; then
        install -m 0640 -o root -g "$SERVICE_USER" -- "$example" "$tmp_cfg"
    else
        install -m 0640 -- "$example" "$tmp_cfg"
    fi
    # Point data_dir in [server] at the data directory, if the example has
    # such a line (commented or not). The systemd unit passes --data-dir too.
    if sed -n '/^\[server\]/,/^\[/p' "$tmp_cfg" | grep -Eq '^[#[:space:]]*data_dir[[:space:]]*='; then
        toml_dir="${DATA_DIR//\\/\\\\}"
        toml_dir="${toml_dir//\"/\\\"}"
        sed_dir="$(printf '%s' "$toml_dir" | sed -e 's/[\\&|]/\\&/g')"
        sed -i -E "/^\[server\]/,/^\[/ s|^[#[:space:]]*data_dir[[:space:]]*=.*|data_dir = \"$sed_dir\"|" "$tmp_cfg"
    fi
    mv -f -- "$tmp_cfg" "$CONFIG_FILE"
    say "wrote config $CONFIG_FILE (from config.example.toml; edit it to taste)"
fi

say "checking config with: $BIN_DEST check-config --config $CONFIG_FILE"
if ! "$BIN_DEST" check-config --config "$CONFIG_FILE"; then
    die "config check FAILED for $CONFIG_FILE; fix it and run this script again"
fi
say "config $CONFIG_FILE is valid"

# ----------------------------------------------------------------- systemd --
SERVICE_STATUS="not installed (--no-systemd)"
if [[ "$USE_SYSTEMD" -eq 1 ]]; then
    if ! command -v systemctl >/dev/null 2>&1; then
        SERVICE_STATUS="not installed (systemctl not found)"
        say "systemctl not found; skipping the systemd unit"
    elif [[ ! -d /run/systemd/system ]]; then
        SERVICE_STATUS="not installed (systemd is not running as PID 1)"
        say "systemd is not the init system here; skipping the systemd unit"
    else
        unit_src="$SRC_DIR/assets/parley.service"
        [[ -f "$unit_src" ]] || die "$unit_src not found"
        for p in "$BIN_DEST" "$CONFIG_FILE" "$DATA_DIR"; do
            case "$p" in
                /home/* | /root/* | /run/user/*)
                    warn "$p is under a home directory, which the unit hides (ProtectHome=yes); the service may fail" ;;
            esac
        done
        tmp_unit="$(mktemp)"
        TMP_FILES+=("$tmp_unit")
        sed -e "s|@BINARY@|$BIN_DEST|g" \
            -e "s|@CONFIG@|$CONFIG_FILE|g" \
            -e "s|@DATA_DIR@|$DATA_DIR|g" \
            "$unit_src" >"$tmp_unit"
        install -m 0644 -- "$tmp_unit" "$UNIT_DEST"
        say "installed systemd unit $UNIT_DEST"
        systemctl daemon-reload
        systemctl enable parley
        say "enabled parley.service"
        if systemctl is-active --quiet parley; then
            action=restart
        else
            action=start
        fi
        if ! systemctl "$action" parley; then
            printf 'error: systemctl %s parley failed. See:\n    systemctl status parley\n    journalctl -u parley -e\n' "$action" >&2
            exit 1
        fi
        say "${action}ed parley.service"
        SERVICE_STATUS="parley.service (enabled, ${action}ed)"
        say "the first admin password is printed in the log on first start:"
        printf '    journalctl -u parley | grep -i password\n'
    fi
fi

# ----------------------------------------------------------------- summary --
host="$(hostname -f 2>/dev/null || hostname 2>/dev/null || echo localhost)"
[[ -n "$host" ]] || host=localhost
echo
echo "Parley is installed."
echo "  binary:   $BIN_DEST"
echo "  config:   $CONFIG_FILE"
echo "  data dir: $DATA_DIR"
echo "  service:  $SERVICE_STATUS"
if [[ "$SERVICE_STATUS" != parley.service* ]]; then
    printf '  run it:   %q serve --config %q --data-dir %q\n' "$BIN_DEST" "$CONFIG_FILE" "$DATA_DIR"
fi
echo
echo "open https://$host:8443/"
