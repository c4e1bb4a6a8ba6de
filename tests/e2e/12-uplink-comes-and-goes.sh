#!/usr/bin/env bash
# e2e: isp1's uplink loses its route, is deleted and made anew, renamed away and back, and is
# missing when ispprobed starts; its LAN interface is made anew: down at once (no-route,
# no-uplink), up again when it works, and ispprobed keeps running throughout.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
lab_e2e_begin 12-uplink-comes-and-goes "uplink unrouted, deleted, made anew, renamed, missing at start"

isp1_reason_is() { lab_status_is '.isps[] | select(.name == "isp1") | .reason' "$1"; }
isp1_down_datagram_after() { [[ "$(lab_first_datagram isp1 down "$1")" != - ]]; }
ispprobed_alive() { lab_alive isp1; }

lab_watch_datagrams_start
lab_ping_start ping

echo "-- a. isp1: ip route del default (the lease or PPP session ends; up0 stays up)"
t_a=$(lab_now)
lab_uplink_unroute isp1
# Judged from the end of the command, the latest the route can have gone: a reading before it
# would count the time a loaded machine took to run the command as ispprobed's.
t_gone=$(lab_now)
lab_check_within "isp1 sends state=down" 5 isp1_down_datagram_after "$t_a"
t_down=$(lab_first_datagram isp1 down "$t_a")
took=$(lab_diff "$t_gone" "$t_down")
lab_ge "$took" 0 || took=0
echo "   state=down datagram ${took}-$(lab_diff "$t_a" "$t_down") s after the route went (between the" \
  "command's end and its start)"
lab_check "state=down within 0.5 s of the route going (took ${took} s)" lab_le "$took" 0.5
lab_check_within "failoverd shows isp1 down with reason no-route" 5 isp1_reason_is no-route
lab_check_within "default route moves to isp2" 5 lab_route_is "${LAB_GW[isp2]}"
lab_uplink_reroute isp1
lab_check_within "isp1 up again in failoverd's view" 10 lab_isp_state_is isp1 up
lab_check_within "traffic back on isp1 (failback-after $(lab_failback_s) s)" 20 lab_route_is "${LAB_GW[isp1]}"

echo "-- b. isp1: ip link del up0 (the PPP interface goes), then made anew with a new ifindex"
old_index=$(lab_in isp1 cat /sys/class/net/up0/ifindex)
lab_uplink_delete isp1
lab_check_within "failoverd shows isp1 down with reason no-uplink" 5 isp1_reason_is no-uplink
lab_check_within "default route moves to isp2" 5 lab_route_is "${LAB_GW[isp2]}"
lab_check "ispprobed on isp1 keeps running" ispprobed_alive
lab_uplink_make isp1
new_index=$(lab_in isp1 cat /sys/class/net/up0/ifindex)
echo "   up0 was ifindex $old_index, is now $new_index"
lab_check "up0 came back as another link (ifindex $old_index -> $new_index)" test "$old_index" != "$new_index"
lab_check_within "isp1 up again through the new up0" 10 lab_isp_state_is isp1 up
lab_check "ispprobed logged that it probes through the new up0" \
  grep -q "probing through up0 (ifindex $new_index)" "$LAB_DIR/isp1.log"

echo "-- c. isp1: up0 renamed away (wan7) and back"
lab_in isp1 ip link set up0 down
lab_in isp1 ip link set up0 name wan7
lab_check_within "failoverd shows isp1 down with reason no-uplink" 5 isp1_reason_is no-uplink
lab_in isp1 ip link set wan7 name up0
lab_in isp1 ip link set up0 up
lab_uplink_reroute isp1
lab_check_within "isp1 up again after the rename back" 10 lab_isp_state_is isp1 up

echo "-- d. ispprobed on isp1 starts while up0 does not exist"
lab_stop isp1
lab_uplink_delete isp1
lab_start_probed isp1
lab_check_within "the new ispprobed reports down with reason no-uplink" 10 isp1_reason_is no-uplink
lab_check "ispprobed on isp1 keeps running without its uplink" ispprobed_alive
lab_uplink_make isp1
lab_check_within "isp1 up once up0 appears" 10 lab_isp_state_is isp1 up
lab_check "ispprobed on isp1 is still running" ispprobed_alive
lab_check_within "failoverd status: active isp1 again (damped failback)" 120 lab_active_is isp1
lab_check "the client reaches 198.51.100.8" lab_client_reaches

echo "-- e. isp1: its LAN interface lan0 deleted and made anew (address set after the link)"
lab_in isp1 ip link del lan0
lab_check_within "failoverd finds isp1 silent (stale)" 5 lab_isp_state_is isp1 stale
lab_check "ispprobed on isp1 keeps running without its LAN interface" ispprobed_alive
lab_lan_port isp1 lan0 "${LAB_GW[isp1]}/24"
lab_check_within "isp1 heard again through the new lan0" 10 lab_isp_state_is isp1 up
lab_check "ispprobed logged that it sends on lan0 again" \
  grep -q "sending the status datagrams on lan0" "$LAB_DIR/isp1.log"

lab_ping_stop ping
lab_watch_datagrams_stop
lab_finish "$LAB_TEST_NAME"
