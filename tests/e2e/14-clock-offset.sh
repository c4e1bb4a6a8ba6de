#!/usr/bin/env bash
# e2e with a key: isp2's router clock 2 h ahead of the client's; its reports are still accepted,
# a restart of its ispprobed is not refused, and it carries the traffic when isp1 fails.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
LAB_TEST_NAME=14-clock-offset
lab_require_tools jq
lab_require_daemons
lab_require_faketime
lab_trap_cleanup
offset=+2h
offset_ms=7200000
echo "== $LAB_TEST_NAME: isp2's clock $offset off, with a key: accepted, restart accepted, backup works (logs in $LAB_DIR)"

lab_topology_up
key=$LAB_DIR/ispfailover.key
(umask 077 && head -c 32 /dev/urandom | base64 >"$key")
lab_capture_start status client lan0 udp dst port 1500
lab_start_daemon isp1 isp1 ispprobed --key-file "$key" < <(lab_probed_conf isp1 "$LAB_PROFILE")
lab_start_probed_at_offset isp2 "$offset" --key-file "$key"
lab_start_failoverd "$LAB_PROFILE" --key-file "$key"
lab_check_within "signed reports accepted: route via isp1" 15 lab_route_is "${LAB_GW[isp1]}"
lab_check_within "isp2 up in failoverd's view" 10 lab_isp_state_is isp2 up

# The clock isp2's ispprobed sees, from the time_ms of its datagrams (and isp1's for contrast).
clock_offset_ms() {
  local sent
  sent=$(lab_pcap_last_time_ms "$LAB_DIR/status.pcap" "src host ${LAB_GW[$1]} and udp dst port 1500")
  [[ $sent != - ]] || { echo -; return; }
  echo $((sent - $(date +%s%3N)))
}
isp2_clock_shifted() {
  local d
  d=$(clock_offset_ms isp2)
  [[ $d != - ]] && ((d > offset_ms - 5000 && d < offset_ms + 1000))
}
lab_check_within "isp2's datagrams carry a clock $offset ahead (time_ms)" 5 isp2_clock_shifted
isp1_clock_right() {
  local d
  d=$(clock_offset_ms isp1)
  [[ $d != - ]] && ((d > -5000 && d < 1000))
}
lab_check "isp1's datagrams carry the client's clock (time_ms)" isp1_clock_right
echo "   time_ms minus the client's clock: isp1 $(clock_offset_ms isp1) ms, isp2 $(clock_offset_ms isp2) ms;" \
  "isp2's epoch $(cat "$LAB_DIR/state-isp2/isp2.epoch"), client now $(date +%s)"

refused() { lab_status_get ".isps[] | select(.name == \"$1\") | .refused"; }
drops() { lab_status_get '[.drops[]] | add'; }
lab_check "no report refused as stale-time" lab_status_is '.drops["stale-time"]' 0
lab_check "no report of isp2 refused" lab_status_is '.isps[] | select(.name == "isp2") | .refused' 0
echo "   drops: $(lab_status_json 2>/dev/null | jq -c .drops)"

echo "-- isp2: ispprobed restarted (clock still $offset)"
epoch_before=$(cat "$LAB_DIR/state-isp2/isp2.epoch")
drops_before=$(drops)
lab_stop isp2
# Stale first, so that "up" afterwards can only come from the new instance's reports.
lab_check_within "isp2 stale in failoverd's view once its ispprobed stopped" 5 lab_isp_state_is isp2 stale
lab_start_probed_at_offset isp2 "$offset" --key-file "$key"
lab_check_within "the new isp2 instance accepted: isp2 up again" 10 lab_isp_state_is isp2 up
epoch_after=$(cat "$LAB_DIR/state-isp2/isp2.epoch")
echo "   isp2's epoch $epoch_before -> $epoch_after; refused: isp2 $(refused isp2)," \
  "drops $drops_before -> $(drops) ($(lab_status_json 2>/dev/null | jq -c .drops))"
lab_check "isp2's epoch went up with the restart" test "$epoch_after" -gt "$epoch_before"
lab_check "still no report of isp2 refused" lab_status_is '.isps[] | select(.name == "isp2") | .refused' 0
lab_check "no datagram dropped at all since the restart" test "$(drops)" = "$drops_before"
lab_check "still none refused as stale-time" lab_status_is '.drops["stale-time"]' 0

echo "-- isp1: uplink down; isp2 (clock $offset) is the backup"
lab_link_down isp1
lab_check_within "traffic moves to isp2" 10 lab_route_is "${LAB_GW[isp2]}"
lab_check_within "the client reaches the internet via isp2" 10 lab_client_reaches
lab_check "failoverd's active ISP is isp2" lab_active_is isp2
lab_check "still none refused as stale-time" lab_status_is '.drops["stale-time"]' 0
lab_capture_stop status
echo "   wall ${SECONDS}s"
lab_finish "$LAB_TEST_NAME"
