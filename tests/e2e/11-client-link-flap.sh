#!/usr/bin/env bash
# e2e: the client's own LAN link flaps; the route comes back within 1 s and there is no switch.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
lab_e2e_begin 11-client-link-flap "client's lan0 flaps (link, address, long outage): route back within 1 s, no switch"

CLIENT_ADDR=192.168.56.200/24   # what lab_topology_up gives the client's lan0
gw1=${LAB_GW[isp1]}
no_route_via_isp1() { lab_route_not "$gw1"; }
no_switch() { [[ "$(lab_status_get .switches)" == 0 ]]; }
LINK_GONE="our own link to every ISP router is gone"
link_gone_logged() { grep -c "$LINK_GONE" "$LAB_DIR/failoverd.log" || true; }
link_gone_logged_more_than() { (($(link_gone_logged) > $1)); }

# After a restore command run at T0: waits for failoverd's route via isp1, prints and checks
# the time it took (at most 1 s), that nothing switched and that the client reaches the
# internet. restore_checks WHAT T0
restore_checks() {
  local what=$1 t0=$2 took
  lab_check_within "default route back on isp1 ($gw1) after $what" 10 lab_route_is "$gw1"
  took=$(lab_diff "$t0" "$(lab_now)")
  echo "   route restored ${took} s after $what"
  lab_check "route restored within 1 s of $what (took ${took} s)" lab_le "$took" 1
  lab_check "no switch counted" no_switch
  lab_check "client reaches 198.51.100.8 again" lab_client_reaches
}

lab_check "client reaches 198.51.100.8 via isp1" lab_client_reaches
lab_check "no switch counted at the start" no_switch

echo "-- a. client: ip link set lan0 down for 0.3 s, then up"
lab_in client ip link set lan0 down
lab_check_within "the kernel dropped the route with the link" 2 no_route_via_isp1
sleep 0.3   # the fault's duration, not a wait for a result
t_a=$(lab_now)
lab_in client ip link set lan0 up
restore_checks "link up" "$t_a"

echo "-- b. client: ip addr flush dev lan0, then the address set again (a DHCP renew)"
lab_in client ip addr flush dev lan0
lab_check_within "the kernel dropped the route with the address" 2 no_route_via_isp1
t_b=$(lab_now)
lab_in client ip addr add "$CLIENT_ADDR" brd + dev lan0
restore_checks "the address re-added" "$t_b"

echo "-- c. client: ip link set lan0 down for 3 s (longer than failoverd's stale window), then up"
logged=$(link_gone_logged)
lab_in client ip link set lan0 down
t_c_down=$(lab_now)
lab_check_within "the kernel dropped the route with the link" 2 no_route_via_isp1
lab_check_within "failoverd logs that our own link is gone" 2 link_gone_logged_more_than "$logged"
# The rest of the 3 s outage (the fault's duration, not a wait for a result).
sleep "$(awk -v t="$(lab_diff "$t_c_down" "$(lab_now)")" 'BEGIN { r = 3 - t; printf "%.3f", (r > 0 ? r : 0) }')"
lab_check "no switch counted during the 3 s outage" no_switch
t_c=$(lab_now)
lab_in client ip link set lan0 up
restore_checks "link up after 3 s" "$t_c"

lab_check_within "failoverd status: active isp1" 5 lab_active_is isp1
lab_check "failoverd counted no switch at all" no_switch
lab_check "the route stays on isp1" lab_route_is "$gw1"
# With its own link gone failoverd does not fight the kernel (ENETUNREACH) and says nothing
# at error level: a client's link flap is routine.
lab_check "failoverd logged no error" bash -c "! grep -q 'failoverd error' '$LAB_DIR/failoverd.log'"

lab_finish "$LAB_TEST_NAME"
