#!/usr/bin/env bash
# Runs as root inside the systemd guest (tests/vm/test_systemd.py, tests/vm/systemd.py):
# install.sh from the host's release server, the hardened unit, the setup API creating a
# kernel WireGuard interface, `systemctl restart`, `wgpilot update` (the server exits with
# 75 and the unit restarts it) and its rollback.
# Environment: BASE = the release URL as the guest sees it (http://10.0.2.2:PORT), laid out
# as GitHub Releases (download/v<version>/, latest/download/). The releases were built
# for the host's 127.0.0.1:PORT, so the guest names BASE as the documented overrides do:
# WGPILOT_RELEASE_URL for install.sh, WGPILOT_UPDATE_RELEASE_URL (update.release_url).
set -euo pipefail

API=https://127.0.0.1
PASSWORD="vm-test-password-$RANDOM$RANDOM"
UNIT=wgpilot.service
CAPS=0000000000001400 # CAP_NET_ADMIN (12) | CAP_NET_BIND_SERVICE (10)
t0=$SECONDS

step() { printf '\n== %s (t=%ss)\n' "$*" "$((SECONDS - t0))"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() {
    printf 'FAILED: %s\n' "$*"
    systemctl status "$UNIT" --no-pager -n 0 2>&1 | head -12 || true
    journalctl -u "$UNIT" --no-pager -n 60 -o cat || true
    exit 1
}
trap 'fail "line $LINENO: $BASH_COMMAND"' ERR

# api METHOD PATH [JSON]: prints the HTTP status; the body is in /tmp/body (cookies kept).
api() {
    local data=()
    [[ $# -ge 3 ]] && data=(--data "$3")
    curl -sk -o /tmp/body -w '%{http_code}' -c /tmp/jar -b /tmp/jar -H "Origin: $API" \
        -H 'Content-Type: application/json' -X "$1" "${data[@]}" "$API$2"
}
expect() { # STATUS METHOD PATH [JSON]
    local want="$1" got
    shift
    got="$(api "$@")"
    [[ "$got" == "$want" ]] || fail "$1 $2 answered $got, expected $want: $(head -c 600 /tmp/body)"
}
health_version() { curl -sk --max-time 5 "$API/health" 2>/dev/null | jq -r '.version // empty' 2>/dev/null || true; }
wait_healthy() { # VERSION [SECONDS]
    local deadline=$((SECONDS + ${2:-180}))
    until [[ "$(health_version)" == "$1" ]]; do
        ((SECONDS < deadline)) || fail "no healthy /health reporting $1 within ${2:-180}s"
        sleep 1
    done
}
main_pid() { systemctl show -p MainPID --value "$UNIT"; }
state() { systemctl show -p ActiveState,SubState --value "$UNIT" | paste -sd/; }
kernel_interface() { # NAME PORT PUBKEY...: a kernel WireGuard link with that port and peers
    local name="$1" port="$2" dump
    shift 2
    ip -d -o link show "$name" | grep -q ' wireguard ' || fail "$name is not a kernel WireGuard link"
    dump="$(wg show "$name" dump)"
    [[ "$(head -1 <<<"$dump" | cut -f3)" == "$port" ]] || fail "$name does not listen on $port"
    local key
    for key in "$@"; do
        grep -q "^$key"$'\t' <<<"$dump" || fail "$name has no peer $key"
    done
    ip -o addr show dev "$name" | grep -q ' 10.81.0.1/24 ' || fail "$name lost its address"
}

step "waiting for the host's release server at $BASE"
for _ in $(seq 60); do
    curl -fsS -o /dev/null "$BASE/download/v1.0.0/SHA256SUMS" && break
    sleep 1
done
curl -fsS -o /dev/null "$BASE/download/v1.0.0/SHA256SUMS" || fail "cannot reach $BASE from the guest"
ok "systemd $(systemctl --version | head -1 | cut -d' ' -f2) is PID 1: $(ps -o comm= -p 1)"

step "install.sh 1.0.0 (curl | bash, as documented)"
curl -fsSL "$BASE/download/v1.0.0/install.sh" | WGPILOT_RELEASE_URL="$BASE" bash 2>&1 | tee /tmp/install.log
grep -q "downloading from $BASE/download/v1.0.0\$" /tmp/install.log || fail "install.sh did not pick its own release"
grep -q 'SHA256SUMS signature verified' /tmp/install.log || fail "install.sh did not verify the signature"
grep -q 'wgpilot.service is running' /tmp/install.log || fail "install.sh did not start the service"
TOKEN="$(sed -n 's/.*one-time install token: //p' /tmp/install.log | tr -d '[:space:]')"
[[ -n "$TOKEN" ]] || fail "no install token in the installer's output"
wait_healthy 1.0.0
[[ "$(state)" == active/running ]] || fail "service is $(state)"
ok "wgpilot.service: $(systemctl status "$UNIT" --no-pager | sed -n 's/^ *Active: //p')"

step "hardened unit: user wgpilot, only CAP_NET_ADMIN + CAP_NET_BIND_SERVICE"
systemctl show "$UNIT" -p User -p NoNewPrivileges -p ProtectSystem -p CapabilityBoundingSet -p AmbientCapabilities
cgroup="/sys/fs/cgroup/system.slice/$UNIT/cgroup.procs"
pids="$(cat "$cgroup")"
[[ -n "$pids" ]] || fail "no process in $cgroup"
for pid in $pids; do
    user="$(ps -o user= -p "$pid" | tr -d ' ')"
    st="/proc/$pid/status"
    caps="$(grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' "$st" | tr -s '\t ' ' ' | paste -sd' ')"
    echo "pid $pid ($(ps -o args= -p "$pid" | cut -c1-60)) user=$user $caps"
    [[ "$user" == wgpilot ]] || fail "pid $pid runs as $user"
    for field in CapPrm CapEff CapBnd CapAmb; do
        [[ "$(awk -v f="$field:" '$1 == f { print $2 }' "$st")" == "$CAPS" ]] || fail "pid $pid: $field is not $CAPS"
    done
    [[ "$(awk '$1 == "NoNewPrivs:" { print $2 }' "$st")" == 1 ]] || fail "pid $pid: NoNewPrivs is off"
    [[ "$(awk '$1 == "Seccomp:" { print $2 }' "$st")" == 2 ]] || fail "pid $pid: no seccomp filter"
done
ok "every process of the service runs as wgpilot with caps $CAPS, no_new_privs and seccomp"

step "setup API: admin, server, first network on kernel WireGuard, first peer"
expect 200 GET /api/setup/status
jq -cM . /tmp/body
[[ "$(jq -r .driver /tmp/body)" == netlink ]] || fail "the service did not pick the netlink driver"
expect 201 POST /api/setup/admin "{\"install_token\": \"$TOKEN\", \"username\": \"admin\", \"password\": \"$PASSWORD\"}"
expect 200 PUT /api/setup/server '{"public_ip": "10.0.2.15"}'
expect 201 POST /api/setup/network '{"name": "office", "subnet": "10.81.0.0/24", "listen_port": 51881, "interface": "wgsd0"}'
expect 201 POST /api/setup/peer '{"name": "laptop"}'
LAPTOP="$(jq -r .peer.public_key /tmp/body)"
kernel_interface wgsd0 51881 "$LAPTOP"
nft list table inet wgpilot >/dev/null || fail "no nftables table inet wgpilot"
ok "wgsd0 is kernel WireGuard on 51881 with peer $LAPTOP, made by the service"
ip -d link show wgsd0 | sed -n 1,3p
wg show wgsd0 | cat

step "systemctl restart"
before="$(main_pid)"
systemctl restart "$UNIT"
wait_healthy 1.0.0
after="$(main_pid)"
[[ "$(state)" == active/running && "$after" != "$before" ]] || fail "after restart: $(state), pid $before -> $after"
kernel_interface wgsd0 51881 "$LAPTOP"
expect 200 GET /api/networks
ok "restarted (main pid $before -> $after): still active, wgsd0 and its peer intact, session still valid"

step "wgpilot update 1.0.0 -> 1.0.1 (latest) under systemd"
before="$(main_pid)"
restarts="$(systemctl show -p NRestarts --value "$UNIT")"
out="$(WGPILOT_UPDATE_RELEASE_URL="$BASE" wgpilot update 2>&1)" || fail "wgpilot update failed: $out"
echo "$out"
grep -q 'updated 1.0.0 → 1.0.1' <<<"$out" || fail "update did not report 1.0.0 -> 1.0.1"
grep -q 'restarting (signal)' <<<"$out" || fail "the updater did not ask the server to restart"
wait_healthy 1.0.1
[[ "$(wgpilot version | cut -d' ' -f2)" == 1.0.1 ]] || fail "the installed binary is not 1.0.1"
[[ -x /usr/local/bin/wgpilot.prev ]] || fail "no wgpilot.prev kept"
[[ "$(state)" == active/running && "$(main_pid)" != "$before" ]] || fail "after update: $(state)"
# systemd restarted it on exit code 75 (RestartForceExitStatus) and did not count a failure
# (SuccessExitStatus): no systemctl involved
[[ "$(systemctl show -p NRestarts --value "$UNIT")" -gt "$restarts" ]] || fail "the unit did not restart it itself"
[[ "$(systemctl show -p Result --value "$UNIT")" == success ]] || fail "result after update: $(systemctl show -p Result --value "$UNIT")"
journalctl -u "$UNIT" --no-pager -o cat | grep -q 'restart requested' || fail "1.0.0 did not log the restart request"
ok "1.0.0 exited with 75 on the updater's request; systemd started 1.0.1 (NRestarts $restarts -> $(systemctl show -p NRestarts --value "$UNIT"))"
kernel_interface wgsd0 51881 "$LAPTOP"
# The service (user wgpilot) can still write its database after root ran the updater.
expect 201 POST /api/networks/1/peers '{"name": "phone"}'
PHONE="$(jq -r .public_key /tmp/body)"
[[ "$PHONE" != null && -n "$PHONE" ]] || PHONE="$(jq -r .peer.public_key /tmp/body)"
kernel_interface wgsd0 51881 "$LAPTOP" "$PHONE"
ok "1.0.1 running under systemd, wrote a new peer to the kernel"

step "wgpilot update --version 1.0.3, a release that dies at start: rolled back"
# (an && || list: neither errexit nor the ERR trap fire on the expected failure)
out="$(WGPILOT_UPDATE_RELEASE_URL="$BASE" wgpilot update --version 1.0.3 --health-timeout 45 2>&1)" && rc=0 || rc=$?
echo "$out"
[[ $rc -ne 0 ]] || fail "the update to a crashing 1.0.3 reported success"
grep -q 'rolled back, 1.0.1 running again' <<<"$out" || fail "no rollback reported"
wait_healthy 1.0.1 60
[[ "$(state)" == active/running ]] || fail "after rollback: $(state)"
[[ "$(wgpilot version | cut -d' ' -f2)" == 1.0.1 ]] || fail "the binary in place is not 1.0.1"
kernel_interface wgsd0 51881 "$LAPTOP" "$PHONE"
ok "rolled back to 1.0.1: $(systemctl status "$UNIT" --no-pager | sed -n 's/^ *Active: //p')"
journalctl -u "$UNIT" --no-pager -o cat | grep -c 'fatal error at start' | xargs printf 'ok: 1.0.3 was started %s time(s) by systemd before the rollback\n'

step "all checks passed"
