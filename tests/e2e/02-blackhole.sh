#!/usr/bin/env bash
# e2e: a silent blackhole of isp1's upstream (link stays up) moves traffic to isp2; lifted, it returns.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
lab_e2e_begin 02-blackhole "nftables drop of all isp1 upstream traffic moves to isp2, lifted returns"

lab_ping_start ping
lab_check "client reaches 198.51.100.8 via isp1" lab_client_reaches

t_fault=$(lab_now)
echo "-- inet: drop everything from and to isp1's uplink"
lab_blackhole isp1
lab_check "isp1's uplink is still up (silent fault)" lab_in isp1 ip link show up0 up
lab_check_within "default route moves to isp2 (${LAB_GW[isp2]})" 10 lab_route_is "${LAB_GW[isp2]}"
lab_check "client reaches 198.51.100.8 via isp2" lab_client_reaches
lab_check_within "failoverd status: isp1 down" 5 lab_isp_state_is isp1 down
read -r gap _ _ < <(lab_ping_gap "$LAB_DIR/ping.log" "$t_fault" "$(lab_now)")
echo "   ping outage (largest gap of the 10 ms ping): $gap s"
lab_check "ping outage below 5 s" lab_le "$gap" 5

failback=$(lab_failback_s)
t_repair=$(lab_now)
echo "-- inet: blackhole lifted (failback-after ${failback}s)"
lab_fault_clear isp1
lab_check_within "default route back on isp1 (${LAB_GW[isp1]})" $((failback + 15)) lab_route_is "${LAB_GW[isp1]}"
took=$(lab_diff "$t_repair" "$(lab_now)")
lab_check "failback not before failback-after (${failback}s; took ${took}s)" lab_ge "$took" "$failback"
lab_check "client reaches 198.51.100.8 via isp1 again" lab_client_reaches
lab_check "failoverd counted 2 switches" test "$(lab_status_get .switches)" = 2
lab_ping_stop ping

lab_finish "$LAB_TEST_NAME"
