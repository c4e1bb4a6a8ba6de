#!/usr/bin/env bash
# e2e: dual stack: IPv6 fails over with its own verdict and the new ISP's source prefix, apart
# from IPv4, and a router advertisement's default route is taken over and kept away.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
LAB_DUAL_STACK=1
lab_e2e_begin 26-ipv6-failover "IPv6 failover with the ISP's source prefix, families apart"
gw1=${LAB_GW6[isp1]} gw2=${LAB_LL6[isp2]} src1=${LAB_CLIENT6[isp1]} src2=${LAB_CLIENT6[isp2]}

# More than N flows of the stream answered since FROM: flows_answered_over N [FROM]
flows_answered_over() { (($(lab_flows_answered flows "${2:-0}") > $1)); }
# Our IPv6 route carries our protocol and a metric below 1024 (the RA routes' 1024).
own_route6_slot() {
  local line
  line=$(lab_in client ip -6 route show default proto 150)
  echo "   $line"
  [[ $line == *" metric 1 "* || $line == *" metric 1" ]]
}
# No RA default route in the client's table.
no_ra_route() { [[ -z "$(lab_in client ip -6 route show default proto ra)" ]]; }

lab_check_within "IPv6 default route via isp1 $gw1 src $src1" 10 lab_route6_is "$gw1" "$src1"
lab_check "our IPv6 route: proto 150, metric 1 (below 1024)" own_route6_slot
lab_check_within "failoverd status: IPv6 via isp1" 5 lab_status_is .ipv6.active isp1

echo "-- a router advertisement's default route appears (fe80::2, proto ra, metric 1024)"
lab_ra_route isp2
lab_check_within "the RA route is taken over (deleted)" 5 no_ra_route
lab_check "our IPv6 route untouched" lab_route6_is "$gw1" "$src1"

lab_flows_start flows "${LAB_TARGETS6[0]}" 10
lab_check_within "new IPv6 flows answered via isp1" 5 flows_answered_over 5

t_fault=$(lab_now)
echo "-- isp1: ip link set up0 down (both families)"
lab_link_down isp1
lab_check_within "IPv6 default route moves to isp2 ($gw2 src $src2)" 10 lab_route6_is "$gw2" "$src2"
lab_check_within "IPv4 default route moves to isp2 too" 10 lab_route_is "${LAB_GW[isp2]}"
t_after=$(lab_now)
lab_check_within "new IPv6 flows answered again" 5 flows_answered_over 20 "$t_after"
read -r gap _ n < <(lab_flows_gap flows "$t_fault" "$(lab_now)")
echo "   IPv6 outage (largest gap between answered new flows, one every 10 ms): $gap s ($n answered)"
lab_check "IPv6 outage below 5 s" lab_le "$gap" 5
sources=$(lab_flows_sources_after flows "$t_after")
echo "   sources of the flows answered after the switch: $sources"
lab_check "after the switch every answered flow left with isp2's prefix" test "$sources" = "$src2"

echo "-- isp1: ip link set up0 up"
lab_link_up isp1
failback=$(lab_failback_s)
lab_check_within "IPv6 back on isp1 (failback)" $((failback + 15)) lab_route6_is "$gw1" "$src1"
lab_check_within "IPv4 back on isp1" $((failback + 15)) lab_route_is "${LAB_GW[isp1]}"

echo "-- isp1: IPv6 silent upstream, IPv4 working (lab_blackhole6)"
t_six=$(lab_now)
lab_blackhole6 isp1
lab_check_within "IPv6 moves to isp2" 10 lab_route6_is "$gw2" "$src2"
lab_check_within "failoverd status: isp1's IPv6 down, IPv6 via isp2" 5 \
  lab_status_is '.ipv6.isps[] | select(.name == "isp1") | .state' down
lab_check "IPv4 stays on isp1" lab_route_is "${LAB_GW[isp1]}"
lab_check "failoverd status: IPv4 active isp1" lab_active_is isp1
lab_check "client reaches 198.51.100.8 via isp1" lab_client_reaches
took=$(lab_diff "$t_six" "$(lab_now)")
echo "   IPv6 moved within ${took}s of the IPv6-only blackhole"
lab_check "the journal tells the IPv6 switch" grep -q "IPv6: switch isp1 -> isp2" "$LAB_DIR/failoverd.log"
lab_fault_clear isp1
lab_check_within "IPv6 back on isp1 once its IPv6 answers" $((failback + 15)) lab_route6_is "$gw1" "$src1"
lab_flows_stop flows
lab_status_text >"$LAB_DIR/status.txt"
lab_check "failoverd status shows the IPv6 line" grep -q '^ipv6: via isp1' "$LAB_DIR/status.txt"

lab_finish "$LAB_TEST_NAME"
