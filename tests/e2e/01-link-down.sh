#!/usr/bin/env bash
# e2e: isp1's uplink goes down -> traffic moves to isp2; back up -> returns after failback-after.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
lab_e2e_begin 01-link-down "uplink link down moves traffic to isp2, link up brings it back"

lab_ping_start ping
lab_check "client reaches 198.51.100.8 via isp1" lab_client_reaches

t_fault=$(lab_now)
echo "-- isp1: ip link set up0 down"
lab_link_down isp1
lab_check_within "default route moves to isp2 (${LAB_GW[isp2]})" 10 lab_route_is "${LAB_GW[isp2]}"
lab_check "client reaches 198.51.100.8 via isp2" lab_client_reaches
lab_check_within "failoverd status: active isp2" 5 lab_active_is isp2
read -r gap _ _ < <(lab_ping_gap "$LAB_DIR/ping.log" "$t_fault" "$(lab_now)")
echo "   ping outage (largest gap of the 10 ms ping): $gap s"
lab_check "ping outage below 5 s" lab_le "$gap" 5

failback=$(lab_failback_s)
t_repair=$(lab_now)
echo "-- isp1: ip link set up0 up (failback-after ${failback}s)"
lab_link_up isp1
lab_check_within "default route back on isp1 (${LAB_GW[isp1]})" $((failback + 15)) lab_route_is "${LAB_GW[isp1]}"
took=$(lab_diff "$t_repair" "$(lab_now)")
lab_check "failback not before failback-after (${failback}s; took ${took}s)" lab_ge "$took" "$failback"
lab_check "client reaches 198.51.100.8 via isp1 again" lab_client_reaches
lab_check_within "failoverd status: active isp1" 5 lab_active_is isp1
lab_check "failoverd counted 2 switches" test "$(lab_status_get .switches)" = 2
lab_ping_stop ping
read -r gap _ n < <(lab_ping_gap "$LAB_DIR/ping.log" "$t_repair" "$(lab_now)")
echo "   largest ping gap during failback: $gap s ($n replies)"
lab_check "no outage during failback (gap below 1 s)" lab_le "$gap" 1

lab_finish "$LAB_TEST_NAME"
