#!/usr/bin/env bash
# e2e: dual stack: an IPv6 TCP stream opened while IPv6 goes through isp2 survives the failback to
# isp1 (the lab's BCP 38 filters drop it anywhere but isp2), and an IPv6 connection through isp1
# ends when isp1's IPv6 dies while an IPv4 one through isp1, whose IPv4 works, is left alone;
# without --sticky-connections / --reset-connections the same faults break / leave them.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
LAB_DUAL_STACK=1
lab_e2e_begin 27-ipv6-sticky-and-reset "IPv6 connections stick to their ISP and end with its IPv6"
gw1=${LAB_GW6[isp1]} gw2=${LAB_LL6[isp2]} src1=${LAB_CLIENT6[isp1]} src2=${LAB_CLIENT6[isp2]}
failback=$(lab_failback_s)

# The echo servers on the internet host: IPv4 (lab_tcp_serve) and IPv6. IPv6 has no masquerade
# in the lab: the server sees the client's own source, which names the ISP it left through.
lab_tcp_serve
lab_tcp_serve "$LAB_PING_TARGET6" tcp-server6
# An IPv6 client connection in the background: tcp6_start NAME stream|wait [ARGS...]
tcp6_start() { LAB_TCP_TARGET=$LAB_PING_TARGET6 lab_tcp_start "$@"; }
tcp6_peer() { LAB_TCP_TARGET=$LAB_PING_TARGET6 lab_tcp_peer; }
# The first error or closed line of a lab_tcp log at or after FROM (empty: none): ended NAME [FROM]
ended() { (lab_tcp_events "$1" error "${2:-0}"; lab_tcp_events "$1" closed "${2:-0}") | sed -n 1p; }

lab_check_within "IPv6 default route via isp1 $gw1 src $src1" 10 lab_route6_is "$gw1" "$src1"
lab_check_within "a new IPv6 connection goes through isp1 (source $src1)" 5 \
  eval '[[ "$(tcp6_peer)" == "$src1" ]]'

# One phase: isp1 down, an IPv6 stream opened through isp2, isp1 back, the IPv6 failback, 2 s more
# of the stream. Sets PHASE_AFTER (echoes after the failback), PHASE_ENDED (its error or closed
# line) and PHASE_NEW_PEER (the source of a connection opened after the failback).
outage_and_failback6() {
  local name=$1 t_back
  lab_link_down isp1
  lab_wait_until 10 lab_route6_is "$gw2" "$src2" || return 1
  tcp6_start "$name" stream 50
  lab_wait_until 5 lab_tcp_connected_via "$name" "$src2" || return 1
  lab_link_up isp1
  lab_wait_until $((failback + 15)) lab_route6_is "$gw1" "$src1" || return 1
  t_back=$(lab_now)
  # Two seconds of the stream after the failback: 40 echoes if nothing broke.
  lab_wait_until 10 eval '[[ $(lab_tcp_events "$name" echo "$t_back" | wc -l) -ge 40 ||
    -n $(ended "$name") ]]' || true
  PHASE_NEW_PEER=$(tcp6_peer)
  lab_stop "$name"
  PHASE_AFTER=$(lab_tcp_events "$name" echo "$t_back" | wc -l)
  PHASE_ENDED=$(ended "$name")
}

echo "-- IPv6 sticky (the default): isp1 down, an IPv6 stream opened through isp2, isp1 back"
outage_and_failback6 sticky || lab_check "the lab followed the outage and the failback" false
echo "   stream: ${PHASE_AFTER:-0} echoes after the failback${PHASE_ENDED:+, ended: $PHASE_ENDED}"
lab_check "the IPv6 stream was not reset or closed by the failback" test -z "${PHASE_ENDED:-}"
lab_check "... and went on: 40 echoes after the failback (got ${PHASE_AFTER:-0})" \
  test "${PHASE_AFTER:-0}" -ge 40
lab_check "a connection opened after the failback goes through isp1 (server saw ${PHASE_NEW_PEER:-})" \
  test "${PHASE_NEW_PEER:-}" = "$src1"
lab_check "failoverd put isp2's IPv6 route in its table (3152)" \
  eval 'lab_in client ip -6 route show table 3152 | lab_matches "default via $gw2 dev lan0"'
lab_check "and its IPv6 fwmark rule" eval 'lab_in client ip -6 rule | lab_matches "^1501:.*lookup 3152"'
lab_check_within "IPv4 back on isp1 too" 10 lab_route_is "${LAB_GW[isp1]}"

echo "-- isp1's IPv6 silent (lab_blackhole6), its IPv4 working: IPv6 connections end, IPv4 stay"
tcp6_start waiter6 wait
lab_tcp_start stream4 stream 100
lab_check_within "an IPv6 application waits on a connection through isp1" 5 \
  lab_tcp_connected_via waiter6 "$src1"
lab_check_within "an IPv4 stream goes through isp1" 5 lab_tcp_connected_via stream4 "${LAB_UP_ADDR[isp1]}"
t_fault=$(lab_now)
lab_blackhole6 isp1
lab_check_within "the IPv6 application's read fails (generous bound)" 20 \
  eval '[[ -n $(lab_tcp_events waiter6 error "$t_fault") ]]'
t_error='' error_name=''
read -r t_error error_name _ < <(lab_tcp_events waiter6 error "$t_fault" | awk '{ print $1, $3 }') ||
  true
echo "   IPv6 read failed with ${error_name:-?} $(lab_diff "$t_fault" "${t_error:-$(lab_now)}") s after the fault"
lab_check "the error is ECONNABORTED (the socket was destroyed)" test "${error_name:-}" = ECONNABORTED
lab_check_within "it reconnects through isp2 (source $src2)" 10 \
  lab_tcp_connected_via waiter6 "$src2" "${t_error:-$t_fault}"
lab_check "IPv4 stays on isp1" lab_route_is "${LAB_GW[isp1]}"
t_now=$(lab_now)
lab_wait_until 10 eval '[[ $(lab_tcp_events stream4 echo "$t_now" | wc -l) -ge 20 || -n $(ended stream4) ]]' ||
  true
ended4=$(ended stream4)
lab_check "the IPv4 stream through isp1 was not reset or closed${ended4:+ (ended: $ended4)}" \
  test -z "$ended4"
lab_check "... and goes on: 20 echoes since the IPv6 reset" \
  eval '[[ $(lab_tcp_events stream4 echo "$t_now" | wc -l) -ge 20 ]]'
lab_check "the log tells of the IPv6 reset" grep -q "ended 1 IPv6 TCP connection(s) of isp1" \
  "$LAB_DIR/failoverd.log"
lab_stop waiter6
lab_stop stream4
lab_fault_clear isp1
lab_check_within "IPv6 back on isp1 once its IPv6 answers" $((failback + 15)) lab_route6_is "$gw1" "$src1"

echo "-- not sticky (--sticky-connections no): the same IPv6 failback breaks the stream"
lab_stop failoverd
lab_start_failoverd "$LAB_PROFILE" --sticky-connections no
lab_check_within "failoverd back, IPv6 route via isp1" 15 lab_route6_is "$gw1" "$src1"
lab_check "failoverd removed its IPv6 fwmark rules at start" \
  eval '! lab_in client ip -6 rule | lab_matches fwmark'
PHASE_AFTER=0 PHASE_ENDED=
outage_and_failback6 plain || lab_check "the lab followed the outage and the failback" false
echo "   stream: ${PHASE_AFTER:-0} echoes after the failback${PHASE_ENDED:+, ended: $PHASE_ENDED}"
lab_check "without stickiness the failback broke the IPv6 stream (so the check above can fail)" \
  eval '[[ -n "${PHASE_ENDED:-}" || ${PHASE_AFTER:-0} -lt 40 ]]'

echo "-- with --reset-connections no, isp1's IPv6 dying leaves the IPv6 application waiting"
lab_stop failoverd
lab_start_failoverd "$LAB_PROFILE" --reset-connections no
lab_check_within "failoverd back, IPv6 route via isp1" 15 lab_route6_is "$gw1" "$src1"
tcp6_start waiter6b wait
lab_check_within "a new IPv6 application is connected through isp1" 5 lab_tcp_connected_via waiter6b "$src1"
t_fault=$(lab_now)
lab_blackhole6 isp1
lab_check_within "IPv6 moves to isp2" 20 lab_route6_is "$gw2" "$src2"
# A stretch of quiet to observe, not a wait for something to happen: no error must come (a
# reset would come with the route's move, so the look starts at the fault).
sleep 2
lab_check "no error reached it in 2 s after the move (so the check above can fail)" \
  eval '[[ -z $(lab_tcp_events waiter6b error "$t_fault") ]]'
lab_stop waiter6b
lab_fault_clear isp1

lab_finish "$LAB_TEST_NAME"
