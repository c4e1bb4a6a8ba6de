#!/usr/bin/env bash
# e2e without a key: one datagram spoofed from isp1's address with isp1's instance, the largest
# seq and an hour-long heartbeat neither locks isp1's genuine reports out nor outlives the cap.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
[[ -x "$LAB_BIN_DIR/udp_flood" ]] || { echo "SKIP: $LAB_BIN_DIR/udp_flood not built" >&2; exit 77; }
lab_e2e_begin 17-spoofed-max-seq "a spoofed max-seq, hour-heartbeat datagram of isp1, unsigned"

MAX_SEQ=18446744073709551615
lab_add_lan_host attacker 192.168.56.66
lab_in attacker sysctl -qw net.ipv4.conf.all.arp_announce=2

# The attacker reads isp1's instance off the LAN, as anyone there can.
instance=$(lab_in attacker timeout 5 tcpdump -l -c 1 -A -n -i lan0 \
  "udp port 1500 and src ${LAB_GW[isp1]}" 2>/dev/null | sed -n 's/^.*instance=\([0-9a-f]\{16\}\).*$/\1/p' | head -1)
echo "   isp1's instance, from a capture: ${instance:-none}"
lab_check "the attacker captured isp1's instance" test -n "$instance"
[[ -n $instance ]] || lab_finish "$LAB_TEST_NAME"

# forge KIND STATE: one datagram claiming isp1, its instance, seq 2^64-1, a 1 h heartbeat.
forge() {
  lab_in attacker "$LAB_BIN_DIR/udp_flood" --to 192.168.56.200 --from "${LAB_GW[isp1]}" \
    --count 1 --rate 1 --kinds forged --forge-name isp1 --forge-state "$1" \
    --forge-instance "$instance" --forge-seq "$MAX_SEQ" --forge-heartbeat 3600000 >/dev/null
}
# When failoverd last accepted a report of isp1 (Unix ms), from its status file.
isp1_heard_at_ms() {
  lab_status_get '.updated_unix_ms - (.isps[] | select(.name == "isp1") | .last_seen_ms_ago)'
}
# A report of isp1 accepted at least 0.5 s after MS: a genuine one (the forged one arrives at
# once, isp1's heartbeat every 100 ms).
isp1_heard_after() { local at; at=$(isp1_heard_at_ms); [[ $at =~ ^[0-9]+$ ]] && ((at > $1 + 500)); }

echo "-- attacker: 'isp1 up, seq $MAX_SEQ, heartbeat 1 h' from 192.168.56.101"
t_forge_ms=$(date +%s%3N)
forge up
lab_check_within "isp1's genuine reports are accepted after the forged one" 5 isp1_heard_after "$t_forge_ms"
lab_check "none of isp1's genuine reports was refused (as a replay)" \
  test "$(lab_status_get '.isps[] | select(.name == "isp1") | .refused')" = 0

echo "-- isp1: ip link set up0 down"
t_fault=$(lab_now)
lab_link_down isp1
lab_check_within "isp1's genuine 'down' is believed: route moves to isp2" 5 lab_route_is "${LAB_GW[isp2]}"
echo "   failover $(lab_diff "$t_fault" "$(lab_now)") s after the link went down"
lab_link_up isp1
lab_check_within "isp1 up again" 10 lab_isp_state_is isp1 up

echo "-- isp1's ispprobed stops; then the attacker sends the same datagram (silence behind a 1 h promise)"
lab_stop isp1
# The forged promise must be the last word on isp1: sent after the router's last heartbeat.
forge up
t_silent=$(lab_now)
lab_check_within "isp1 stale within the 10 s heartbeat cap x 4.5, not after 4.5 h" 55 lab_isp_state_is isp1 stale
took=$(lab_diff "$t_silent" "$(lab_now)")
echo "   isp1 called stale ${took} s after the forged promise"
lab_check "stale within 46 s (took ${took} s)" lab_le "$took" 46
# Sooner would mean the forged promise was not what governed, and the cap untested.
lab_check "the forged promise held for the capped 45 s, not the router's 0.45 s" lab_ge "$took" 30
lab_finish "$LAB_TEST_NAME"
