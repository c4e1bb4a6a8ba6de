#!/usr/bin/env bash
# e2e: status datagrams forged from a LAN host that is no configured gateway are ignored and counted.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
lab_e2e_begin 08-forged-status "forged 'isp1 down / isp2 up' datagrams from 192.168.56.66 are dropped"

lab_add_lan_host forger 192.168.56.66
lab_check "forger is on the LAN" lab_in forger ping -c 1 -W 1 -q 192.168.56.200 >/dev/null

# A well-formed datagram: forge NAME STATE REASON SEQ (bash's /dev/udp, unicast to the client;
# cat sends it in one write, where printf would write, and so send, line by line).
forge() {
  local msg
  msg=$(printf 'ISPF 1\nname=%s\ninstance=00000000deadbeef\nseq=%s\ntime_ms=%s\nstate=%s\nreason=%s\nheartbeat_ms=50\ntargets_up=%s\ntargets=2\nrtt_last_us=100\nrtt_avg_us=100\nloss_pct=%s\nwindow_ms=30000\n' \
    "$1" "$4" "$(date +%s%3N)" "$2" "$3" "$([[ $2 == up ]] && echo 2 || echo 0)" "$([[ $2 == up ]] && echo 0 || echo 100)")
  # shellcheck disable=SC2016  # $1 is the inner shell's
  lab_in forger bash -c 'exec 3>/dev/udp/192.168.56.200/1500 && cat <<<"$1" >&3' _ "$msg"
}

echo "-- forger: 3 s of 'isp1 down', 'isp2 up' and 'isp9 up' datagrams at 20 per second"
for ((seq = 1000; seq < 1060; seq++)); do
  forge isp1 down link-down "$seq"
  forge isp2 up probe-ok "$seq"
  forge isp9 up probe-ok "$seq"
  lab_route_is "${LAB_GW[isp1]}" || echo "   route moved: $(lab_client_gw)"
  sleep 0.05
done
lab_check "route stays on isp1" lab_route_is "${LAB_GW[isp1]}"
lab_check "failoverd status: active isp1, no switch" test "$(lab_status_get '.active + " " + (.switches | tostring)')" = "isp1 0"
# The status file is published once a second: wait for the last forged datagrams to show.
drops_at_least() { test "$(lab_status_get "$1")" -ge "$2"; }
lab_check_within "drops wrong-source grew (forged isp1/isp2)" 5 drops_at_least '.drops["wrong-source"]' 100
lab_check_within "drops of the forged isp9 counted (unknown-name or wrong-source)" 5 drops_at_least '.drops["wrong-source"] + .drops["unknown-name"]' 150
drops=$(lab_status_get '.drops | to_entries | map("\(.key)=\(.value)") | join(" ")')
echo "   drops: $drops"
lab_check "isp1 still up in failoverd's view" lab_isp_state_is isp1 up
lab_check "client reaches 198.51.100.8" lab_client_reaches

lab_finish "$LAB_TEST_NAME"
