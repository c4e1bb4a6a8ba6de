#!/usr/bin/env bash
# e2e with a key: 100 000 datagrams with bad tags, spoofed from isp1's own address at 40 000/s,
# cost failoverd counters only: no false switch, and a real link-down still fails over (0.2 s on
# an idle machine; the check allows 1 s, as a loaded CI machine took 0.229 s once).
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
[[ -x "$LAB_BIN_DIR/udp_flood" ]] || { echo "SKIP: $LAB_BIN_DIR/udp_flood not built" >&2; exit 77; }
LAB_TEST_NAME=16-bad-tag-flood
lab_require_tools jq
lab_require_daemons
lab_trap_cleanup
echo "== $LAB_TEST_NAME: a bad-tag flood from isp1's address during a real failover (logs in $LAB_DIR)"

COUNT=${FLOOD_COUNT:-100000}
RATE=${FLOOD_RATE:-40000}
lab_up_with_key

lab_add_lan_host attacker 192.168.56.66
lab_in attacker sysctl -qw net.ipv4.conf.all.arp_announce=2
unauthenticated() { lab_status_get '.drops.unauthenticated'; }
switches() { lab_status_get .switches; }
counted_more_than() { local n; n=$(unauthenticated); [[ $n =~ ^[0-9]+$ ]] && ((n > $1)); }
before=$(unauthenticated)
overflow_before=$(lab_rcvbuf_errors)
lab_watch_routes_start routes

echo "-- attacker: $COUNT 'isp1 down' datagrams with bad tags from 192.168.56.101 at $RATE/s"
lab_in attacker "$LAB_BIN_DIR/udp_flood" --to 192.168.56.200 --from 192.168.56.101 \
  --count "$COUNT" --rate "$RATE" --kinds badtag --forge-name isp1 --forge-state down \
  >"$LAB_DIR/flood.out" 2>&1 &
flood_pid=$!
lab_check_within "the flood is under way (10 000 counted)" 5 counted_more_than $((before + 10000))
lab_check "no switch while isp1 is healthy under the flood" test "$(switches)" = 0
lab_check "route still via isp1" lab_route_is "${LAB_GW[isp1]}"

echo "-- isp1: ip link set up0 down, in the middle of the flood"
t_fault=$(lab_now)
lab_link_down isp1
lab_check_within "default route moves to isp2 despite the flood" 5 lab_route_is "${LAB_GW[isp2]}"
t_route=$(lab_first_route "${LAB_GW[isp2]}" "$t_fault")
took=$(lab_diff "$t_fault" "$t_route")
echo "   failover ${took} s after the link went down (route event at $t_route)"
lab_check "failover within 1 s under the flood (took ${took} s)" lab_le "$took" 1
flooding=0
kill -0 "$flood_pid" 2>/dev/null && flooding=1
lab_check "the flood was still running when the route moved" test "$flooding" = 1
wait "$flood_pid" || true
echo "   flood: $(cat "$LAB_DIR/flood.out")"
sent=$(lab_flood_sent "$LAB_DIR/flood.out")
lab_check "the flood sent all $COUNT datagrams" test "${sent:-0}" -eq "$COUNT"

lab_check_within "failoverd's counters cover the flood" 10 \
  lab_flood_accounted unauthenticated "$before" "$overflow_before" "${sent:-0}"
counted=$(($(unauthenticated) - before))
overflow=$(($(lab_rcvbuf_errors) - overflow_before))
echo "   failoverd counted $counted unauthenticated; the kernel dropped $overflow for a full buffer"
# The overflow count also holds any of the routers' own reports the full buffer dropped (they
# share the socket), so the sum may pass `sent` by those; the refused ones never do.
lab_check "every bad tag accounted for: unauthenticated + kernel overflow >= sent" \
  test $((counted + overflow)) -ge "${sent:-0}"
lab_check "no more refused than sent" test "$counted" -le "${sent:-0}"
# A CI machine with its 2 cores loaded lost 7.7 % once (ci1 of session 8). The bound
# checks that the buffer is sized for a burst, not how fast a busy machine schedules us.
lab_check "the receive buffer held most of the burst (kernel overflow at most 20 %)" \
  test "$overflow" -le $((COUNT / 5))
lab_check "exactly one switch: the real failover" test "$(switches)" = 1
isp1_refused=$(lab_status_get '.isps[] | select(.name == "isp1") | .refused')
echo "   isp1's refused reports: $isp1_refused"
lab_check "the refusals are counted against isp1" test "${isp1_refused:-0}" -ge "$counted"
lines=$(grep -c "reports are refused" "$LAB_DIR/failoverd.log" || true)
echo "   failoverd logged $lines 'reports are refused' lines for the flood"
lab_check "no log line per datagram (at most 3 in all)" test "$lines" -le 3
lab_check "failoverd is still running" lab_alive failoverd

lab_link_up isp1
lab_check_within "traffic returns to isp1 after failback-after" 15 lab_route_is "${LAB_GW[isp1]}"
lab_watch_routes_stop routes
lab_finish "$LAB_TEST_NAME"
