#!/usr/bin/env bash
# e2e: isp1's ispprobed killed and isp1 no longer forwarding -> the client notices the silence and moves.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
lab_e2e_begin 03-router-death "a dead isp1 (no datagrams, no forwarding) moves traffic; restarted, it returns"

lab_ping_start ping
lab_check "client reaches 198.51.100.8 via isp1" lab_client_reaches

t_fault=$(lab_now)
echo "-- isp1: SIGKILL ispprobed, ip_forward=0"
lab_stop isp1 KILL
lab_in isp1 sysctl -qw net.ipv4.ip_forward=0
lab_check_within "default route moves to isp2 (${LAB_GW[isp2]})" 10 lab_route_is "${LAB_GW[isp2]}"
lab_check "client reaches 198.51.100.8 via isp2" lab_client_reaches
lab_check_within "failoverd status: isp1 stale" 5 lab_isp_state_is isp1 stale
read -r gap _ _ < <(lab_ping_gap "$LAB_DIR/ping.log" "$t_fault" "$(lab_now)")
echo "   ping outage (largest gap of the 10 ms ping): $gap s"
lab_check "ping outage below 5 s" lab_le "$gap" 5

failback=$(lab_failback_s)
echo "-- isp1: ip_forward=1, ispprobed started again (failback-after ${failback}s)"
lab_in isp1 sysctl -qw net.ipv4.ip_forward=1
lab_start_probed isp1
lab_check_within "default route back on isp1 (${LAB_GW[isp1]})" $((failback + 15)) lab_route_is "${LAB_GW[isp1]}"
lab_check "client reaches 198.51.100.8 via isp1 again" lab_client_reaches
lab_check_within "failoverd status: isp1 up" 5 lab_isp_state_is isp1 up
lab_check "failoverd counted 2 switches" test "$(lab_status_get .switches)" = 2
lab_ping_stop ping

lab_finish "$LAB_TEST_NAME"
