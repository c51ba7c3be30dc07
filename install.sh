#!/usr/bin/env bash
# wgpilot installer:
#   curl -fsSL https://github.com/OWNER/wgpilot/releases/latest/download/install.sh | sudo bash
#
#   install.sh                 install, or upgrade in place (config and data are kept)
#   install.sh --uninstall     remove the service and the binary, keep config and data
#   install.sh --uninstall --purge   ... and remove config, data and the wgpilot user
#   install.sh --prefix DIR    install into DIR as if it were / (tests; same steps, but
#                              systemd units are only written, not started)
#
# Where from (GitHub Releases' layout, wgpilot/update/layout.py): the release this
# script came with, <release URL>/download/v<version>/; --version V (or latest) and
# --release-url URL pick another, --base-url DIR names the directory itself. SHA256SUMS
# must carry an Ed25519 signature by the release key below (--public-key pins another)
# and every file must match it. Each flag has an environment twin: WGPILOT_VERSION,
# WGPILOT_RELEASE_URL, WGPILOT_BASE_URL, WGPILOT_PUBLIC_KEY; flags win.
#
# Everything is inside functions and `main "$@"` is the last line, so a download that is
# cut short runs nothing.
set -euo pipefail

# Filled in by `release.py build`.
DEFAULT_RELEASE_URL="@WGPILOT_RELEASE_URL@"
DEFAULT_VERSION="@WGPILOT_VERSION@"
# Ed25519 public key (base64 of the raw 32 bytes) that signs this release's SHA256SUMS;
# it is printed in the release notes for checking out of band.
RELEASE_PUBLIC_KEY="@WGPILOT_PUBLIC_KEY@"

ROOT="/"
ACTION="install"
PURGE=0
WORK=""
BASE=""
KEY=""
OPT_VERSION="${WGPILOT_VERSION:-}"
OPT_RELEASE_URL="${WGPILOT_RELEASE_URL:-}"
OPT_BASE_URL="${WGPILOT_BASE_URL:-}"
OPT_PUBLIC_KEY="${WGPILOT_PUBLIC_KEY:-}"

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

usage() {
    cat <<'USAGE'
usage: install.sh [--version V|latest] [--release-url URL] [--base-url DIR] [--public-key KEY]
                  [--uninstall [--purge]] [--prefix DIR]
  (no option)        install wgpilot, or upgrade it in place keeping config and data
  --version V        install version V, or latest (default: the release this script came with)
  --release-url URL  where releases are, e.g. https://github.com/OWNER/wgpilot/releases
  --base-url DIR     the release directory itself (binary, SHA256SUMS, ...): a mirror
  --public-key KEY   the release key (base64) SHA256SUMS must be signed with
  --uninstall        remove the service and the binary; keep config and data
  --purge            with --uninstall: also remove config, data and the wgpilot user
  --prefix DIR       install into DIR as if it were / (tests); units are not started
environment: WGPILOT_VERSION, WGPILOT_RELEASE_URL, WGPILOT_BASE_URL, WGPILOT_PUBLIC_KEY
USAGE
}

parse_args() {
    local value
    while (($#)); do
        case "$1" in
            --uninstall) ACTION="uninstall" ;;
            --purge) PURGE=1 ;;
            --prefix | --version | --release-url | --base-url | --public-key)
                [[ $# -ge 2 ]] || die "$1 needs a value"
                set_option "$1" "$2"
                shift
                ;;
            --prefix=* | --version=* | --release-url=* | --base-url=* | --public-key=*)
                value="${1#*=}"
                set_option "${1%%=*}" "$value"
                ;;
            -h | --help)
                usage
                exit 0
                ;;
            *) die "unknown option $1 (see --help)" ;;
        esac
        shift
    done
    if [[ "$ROOT" != "/" ]]; then
        mkdir -p "$ROOT"
        ROOT="$(cd "$ROOT" && pwd)"
    fi
    # Paths (SPEC §13), under ROOT.
    local r="${ROOT%/}"
    BIN="$r/usr/local/bin/wgpilot"
    CONF_DIR="$r/etc/wgpilot"
    CONFIG="$CONF_DIR/config.toml"
    DATA_DIR="$r/var/lib/wgpilot"
    CACHE_DIR="$r/var/cache/wgpilot"
    UNIT="$r/etc/systemd/system/wgpilot.service"
    SYSCTL_FILE="$r/etc/sysctl.d/99-wgpilot.conf"
}

set_option() {
    case "$1" in
        --prefix) ROOT="$2" ;;
        --version) OPT_VERSION="$2" ;;
        --release-url) OPT_RELEASE_URL="$2" ;;
        --base-url) OPT_BASE_URL="$2" ;;
        --public-key) OPT_PUBLIC_KEY="$2" ;;
    esac
}

live_root() { [[ "$ROOT" == "/" ]]; }

systemd_running() { live_root && [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; }

check_root() {
    [[ ${EUID:-$(id -u)} -eq 0 ]] || die "run as root: curl -fsSL <url>/install.sh | sudo bash"
}

detect_arch() {
    case "$(uname -m)" in
        x86_64 | amd64) ARCH="amd64" ;;
        aarch64 | arm64) ARCH="arm64" ;;
        armv7l | armv7) ARCH="armv7" ;;
        *) die "unsupported architecture $(uname -m) (wgpilot ships amd64, arm64 and armv7)" ;;
    esac
}

detect_distro() {
    local id="" like=""
    if [[ -r /etc/os-release ]]; then
        # shellcheck disable=SC1091
        id="$(. /etc/os-release && echo "${ID:-}")"
        # shellcheck disable=SC1091
        like="$(. /etc/os-release && echo "${ID_LIKE:-}")"
    fi
    case " $id $like " in
        *" debian "* | *" ubuntu "*) PKG="apt" ;;
        *" fedora "* | *" rhel "* | *" centos "*) PKG="dnf" ;;
        *) die "unsupported distribution '${id:-unknown}' (Debian/Ubuntu with apt, Fedora/RHEL with dnf)" ;;
    esac
}

have_lib() {
    # not `ldconfig -p | grep -q`: grep's early exit makes ldconfig die of SIGPIPE, and
    # pipefail then reports the library as missing
    local cache
    cache="$(ldconfig -p 2>/dev/null || true)"
    [[ "$cache" == *"$1"* ]]
}

kernel_has_wireguard() {
    [[ -d /sys/module/wireguard ]] && return 0
    modprobe -q wireguard 2>/dev/null && return 0
    return 1
}

pkg_install() {
    (($#)) || return 0
    say "installing packages: $*"
    if [[ "$PKG" == "apt" ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    else
        dnf install -y -q "$@"
    fi
}

install_packages() {
    local missing=()
    command -v nft >/dev/null 2>&1 || missing+=(nftables)
    if ! have_lib libnftables.so.1; then
        if [[ "$PKG" == "apt" ]]; then missing+=(libnftables1); else missing+=(nftables); fi
    fi
    command -v wg >/dev/null 2>&1 || missing+=(wireguard-tools)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl) # checks the release signature
    if ! kernel_has_wireguard && ! command -v wireguard-go >/dev/null 2>&1; then
        say "this kernel has no WireGuard module: adding wireguard-go (userspace)"
        missing+=(wireguard-go)
    fi
    # de-duplicate (nftables may be listed twice on dnf)
    local unique=() p
    for p in "${missing[@]}"; do
        [[ " ${unique[*]} " == *" $p "* ]] || unique+=("$p")
    done
    pkg_install "${unique[@]}"
    have_lib libnftables.so.1 || die "libnftables.so.1 is still missing after installing packages"
}

enable_forwarding() {
    say "enabling IP forwarding persistently ($SYSCTL_FILE)"
    mkdir -p "$(dirname "$SYSCTL_FILE")"
    printf '%s\n' "# wgpilot: route between WireGuard peers and the network" \
        "net.ipv4.ip_forward = 1" "net.ipv6.conf.all.forwarding = 1" >"$SYSCTL_FILE"
    if live_root; then
        sysctl -q -p "$SYSCTL_FILE" >/dev/null || warn "could not apply $SYSCTL_FILE now (applies at boot)"
    fi
}

ensure_user() {
    local prefix=()
    if ! live_root; then
        prefix=(--prefix "$ROOT")
        mkdir -p "$ROOT/etc"
        local f
        for f in passwd group shadow gshadow; do [[ -e "$ROOT/etc/$f" ]] || : >"$ROOT/etc/$f"; done
    fi
    if ! user_uid >/dev/null; then
        say "creating system user wgpilot"
        useradd "${prefix[@]}" --system --user-group --home-dir /var/lib/wgpilot --no-create-home \
            --shell /usr/sbin/nologin --comment "wgpilot WireGuard manager" wgpilot
    fi
    WG_UID="$(user_uid)"
    WG_GID="$(awk -F: '$1 == "wgpilot" { print $3 }' "${ROOT%/}/etc/group")"
    [[ -n "$WG_GID" ]] || die "group wgpilot is missing from ${ROOT%/}/etc/group"
}

user_uid() {
    local uid
    uid="$(awk -F: '$1 == "wgpilot" { print $3 }' "${ROOT%/}/etc/passwd" 2>/dev/null)"
    [[ -n "$uid" ]] || return 1
    echo "$uid"
}

make_dirs() {
    mkdir -p "$(dirname "$BIN")" "$CONF_DIR" "$DATA_DIR" "$CACHE_DIR" "$(dirname "$UNIT")"
    chown "0:$WG_GID" "$CONF_DIR"
    chmod 0750 "$CONF_DIR"
    chown "$WG_UID:$WG_GID" "$DATA_DIR" "$CACHE_DIR"
    chmod 0700 "$DATA_DIR" "$CACHE_DIR"
}

# (a value still starting with "@WGPILOT_" is a placeholder release.py did not fill in:
# this script came from a source checkout, not from a release)
filled() { [[ -n "$1" && "$1" != "@WGPILOT_"* ]]; }

release_dir() {
    if [[ -n "$OPT_BASE_URL" ]]; then
        echo "${OPT_BASE_URL%/}"
        return
    fi
    local root="${OPT_RELEASE_URL:-$DEFAULT_RELEASE_URL}" version="${OPT_VERSION:-$DEFAULT_VERSION}"
    filled "$root" || die "no release URL: pass --release-url URL (e.g. https://github.com/OWNER/wgpilot/releases) or --base-url DIR"
    root="${root%/}"
    if [[ "$version" == latest ]]; then
        echo "$root/latest/download"
        return
    fi
    filled "$version" || die "no version to install: pass --version V (or latest)"
    version="${version#v}"
    [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] || die "--version $version is not a version (MAJOR.MINOR.PATCH[-pre])"
    echo "$root/download/v$version"
}

release_key() {
    local key="${OPT_PUBLIC_KEY:-$RELEASE_PUBLIC_KEY}"
    filled "$key" || die "no release key to check the download with: pass --public-key KEY (from the release notes)"
    [[ "$(printf '%s' "$key" | base64 -d 2>/dev/null | wc -c)" -eq 32 ]] || die "release key '$key' is not base64 of a 32-byte Ed25519 key"
    echo "$key"
}

fetch() {
    curl -fsSL --proto '=https,http' --retry 3 --max-time 600 -o "$2" "$1" || die "download failed: $1"
}

resolve_source() {
    # before anything is changed: a release to install and a key to check it with
    BASE="$(release_dir)"
    KEY="$(release_key)"
}

verify_signature() {
    local sums="$1" sig="$2" key="$KEY" help
    command -v openssl >/dev/null 2>&1 || die "openssl is needed to check the release signature"
    help="$(openssl pkeyutl -help 2>&1 || true)"
    [[ "$help" == *-rawin* ]] || die "OpenSSL 3 is needed to check the Ed25519 signature ($(openssl version) cannot)"
    # SubjectPublicKeyInfo for Ed25519 = fixed 12-byte prefix + the raw 32-byte key.
    {
        echo "-----BEGIN PUBLIC KEY-----"
        { printf '\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00' && printf '%s' "$key" | base64 -d; } | base64 -w0
        echo
        echo "-----END PUBLIC KEY-----"
    } >"$WORK/release.pub"
    base64 -d <"$sig" >"$WORK/sums.sig.bin" 2>/dev/null || die "SHA256SUMS.sig is not base64"
    openssl pkeyutl -verify -pubin -inkey "$WORK/release.pub" -rawin -in "$sums" \
        -sigfile "$WORK/sums.sig.bin" >/dev/null 2>&1 || die "SHA256SUMS signature is NOT valid: refusing to install"
    say "SHA256SUMS signature verified (release key $key)"
}

check_sum() {
    local file="$1" name="$2" expected actual
    expected="$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1 }' "$WORK/SHA256SUMS")"
    [[ -n "$expected" ]] || die "$name is not listed in SHA256SUMS"
    actual="$(sha256sum "$file" | cut -d' ' -f1)"
    [[ "$expected" == "$actual" ]] || die "$name: SHA-256 mismatch (expected $expected, got $actual): refusing to install"
}

download_release() {
    local base="$BASE" name
    say "downloading from $base"
    fetch "$base/SHA256SUMS" "$WORK/SHA256SUMS"
    fetch "$base/SHA256SUMS.sig" "$WORK/SHA256SUMS.sig"
    verify_signature "$WORK/SHA256SUMS" "$WORK/SHA256SUMS.sig"
    name="$(awk -v a="_linux_$ARCH" '$2 ~ "^wgpilot_[0-9][0-9A-Za-z.-]*" a "$" { print $2 }' "$WORK/SHA256SUMS" | head -n1)"
    [[ -n "$name" ]] || die "the release at $base has no binary for $ARCH"
    fetch "$base/$name" "$WORK/wgpilot"
    check_sum "$WORK/wgpilot" "$name"
    fetch "$base/wgpilot.service" "$WORK/wgpilot.service"
    check_sum "$WORK/wgpilot.service" "wgpilot.service"
    say "verified $name (SHA-256)"
    chmod 0755 "$WORK/wgpilot"
    "$WORK/wgpilot" version >/dev/null || die "the downloaded binary does not run on this host"
}

install_binary() {
    local tmp
    tmp="$(dirname "$BIN")/.wgpilot.install.$$"
    install -m 0755 -o 0 -g 0 "$WORK/wgpilot" "$tmp"
    if [[ -e "$BIN" ]]; then
        cp -p "$BIN" "$BIN.prev.tmp" && mv -f "$BIN.prev.tmp" "$BIN.prev"
    fi
    mv -f "$tmp" "$BIN"
    say "installed $("$BIN" version)"
}

write_config() {
    if [[ -e "$CONFIG" ]]; then
        say "keeping existing $CONFIG"
    else
        "$BIN" config default >"$CONFIG.tmp"
        mv -f "$CONFIG.tmp" "$CONFIG"
        say "wrote default $CONFIG"
    fi
    chown "0:$WG_GID" "$CONFIG"
    chmod 0640 "$CONFIG"
    "$BIN" config check --config "$CONFIG" >/dev/null || die "$CONFIG is not valid (wgpilot config check --config $CONFIG)"
}

init_database() {
    # As root (the user may not exist on the host in --prefix mode), then handed over.
    INIT_OUT="$("$BIN" init --config "$CONFIG" --data-dir "$DATA_DIR")" || die "wgpilot init failed"
    chown -R "$WG_UID:$WG_GID" "$DATA_DIR"
}

install_unit() {
    install -m 0644 -o 0 -g 0 "$WORK/wgpilot.service" "$UNIT.tmp"
    mv -f "$UNIT.tmp" "$UNIT"
    if systemd_running; then
        systemctl daemon-reload
        systemctl enable --quiet wgpilot.service
        if systemctl is-active --quiet wgpilot.service; then
            say "restarting wgpilot (upgrade)"
            systemctl restart wgpilot.service
        else
            systemctl start wgpilot.service
        fi
        systemctl is-active --quiet wgpilot.service || die "wgpilot did not start: journalctl -u wgpilot"
        say "wgpilot.service is running"
    else
        say "systemd is not running here${ROOT:+ (root $ROOT)}: unit written to $UNIT, not started"
    fi
}

print_summary() {
    local address port token
    address="$(hostname -I 2>/dev/null | awk '{ print $1 }')"
    port="443"
    token="$(printf '%s\n' "$INIT_OUT" | sed -n 's/^one-time install token: //p')"
    echo
    say "wgpilot is installed"
    echo "    URL:   https://${address:-<this server>}:${port}/   (falls back to :8443 when 443 is taken)"
    if [[ -n "$token" ]]; then
        echo "    one-time install token: $token"
    else
        echo "    already set up: log in with your admin account"
    fi
}

do_install() {
    resolve_source
    detect_arch
    detect_distro
    install_packages
    ensure_user
    make_dirs
    download_release
    install_binary
    write_config
    enable_forwarding
    init_database
    install_unit
    print_summary
}

do_uninstall() {
    if systemd_running; then
        systemctl disable --now --quiet wgpilot.service 2>/dev/null || true
    fi
    rm -f "$UNIT" "$BIN" "$BIN.prev"
    systemd_running && systemctl daemon-reload
    say "removed the wgpilot service and binary"
    if ((PURGE)); then
        rm -rf "$CONF_DIR" "$DATA_DIR" "$CACHE_DIR" "$SYSCTL_FILE"
        if user_uid >/dev/null; then
            local prefix=()
            live_root || prefix=(--prefix "$ROOT")
            userdel "${prefix[@]}" wgpilot 2>/dev/null || warn "could not remove the wgpilot user"
        fi
        say "purged configuration, data and the wgpilot user"
    else
        say "kept $CONF_DIR and $DATA_DIR (use --uninstall --purge to remove them)"
    fi
}

cleanup() {
    [[ -n "$WORK" ]] && rm -rf "$WORK"
    return 0
}

main() {
    parse_args "$@"
    check_root
    WORK="$(mktemp -d)"
    trap cleanup EXIT
    if [[ "$ACTION" == "uninstall" ]]; then
        do_uninstall
    else
        do_install
    fi
}

main "$@"
