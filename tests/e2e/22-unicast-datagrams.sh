#!/usr/bin/env bash
# e2e: isp1's ispprobed sends to the client's own address instead of the LAN broadcast (for Wi-Fi
# clients, whose access point holds broadcasts back); failoverd trusts it and fails over by it.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
lab_e2e_begin 22-unicast-datagrams "isp1 sends unicast to the client: kept fresh, and a blackhole still moves traffic"
client_addr=192.168.56.200

echo "-- isp1: ispprobed restarted with broadcast=$client_addr and no lan="
lab_stop isp1 TERM
lab_start_daemon isp1 isp1 ispprobed < <(lab_probed_conf isp1 | sed "s/^lan=lan0\$/broadcast=$client_addr/")
lab_watch_datagrams_start
# Unicast datagrams from isp1, and none of its to the broadcast address.
unicast_seen() { grep -Eq "^[0-9.]+ IP ${LAB_GW[isp1]}\.[0-9]+ > $client_addr\.1500:" "$LAB_DIR/datagrams.raw"; }
lab_check_within "isp1's datagrams reach the client's own address" 5 unicast_seen
lab_check_within "failoverd status: isp1 up" 10 lab_isp_state_is isp1 up
# Fresh for 3 s in a row: a silence of 450 ms would make it stale.
fresh_for() {
  local end=$((SECONDS + $1))
  while ((SECONDS < end)); do
    lab_isp_state_is isp1 up || return 1
    sleep 0.1
  done
}
lab_check "isp1 stays up (fresh) for 3 s on unicast datagrams alone" fresh_for 3
# The restart itself must not move traffic: a restarted ispprobed speaks within ~0.1 s of
# starting, before the client's 450 ms silence limit.
lab_check "route still on isp1" lab_route_is "${LAB_GW[isp1]}"
lab_check "no switch during ispprobed's restart (switches=$(lab_status_get .switches))" \
  test "$(lab_status_get .switches)" = 0
lab_check "no isp1 datagram went to the broadcast address" \
  bash -c "! grep -Eq '^[0-9.]+ IP ${LAB_GW[isp1]}\.[0-9]+ > 192\.168\.56\.255\.1500:' '$LAB_DIR/datagrams.raw'"

lab_ping_start ping
t_fault=$(lab_now)
echo "-- inet: blackhole isp1's uplink"
lab_blackhole isp1
lab_check_within "default route moves to isp2 (${LAB_GW[isp2]})" 10 lab_route_is "${LAB_GW[isp2]}"
lab_check_within "failoverd status: isp1 down (by its unicast report, not stale)" 5 lab_isp_state_is isp1 down
read -r gap _ _ < <(lab_ping_gap "$LAB_DIR/ping.log" "$t_fault" "$(lab_now)")
echo "   ping outage (largest gap of the 10 ms ping): $gap s"
lab_check "ping outage below 5 s" lab_le "$gap" 5
lab_ping_stop ping
lab_watch_datagrams_stop

lab_finish "$LAB_TEST_NAME"
