#!/usr/bin/env bash
# e2e: a TCP connection opened while isp1 is down keeps going through isp2 after the failback,
# while new connections go through isp1; without --sticky-connections the failback breaks it.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
lab_e2e_begin 23-sticky-failback "a connection opened during an outage survives the failback"
lab_tcp_serve
lab_watch_routes_start

peer_is() { [[ "$(lab_tcp_peer)" == "${LAB_UP_ADDR[$1]}" ]]; }
lab_check "a new connection goes through isp1" peer_is isp1

# One phase: isp1 down, a stream opened through isp2, isp1 back, the failback, 2 s more of the
# stream. Prints the stream's largest gap after the repair, its echoes after the failback and
# whether it ended (error or closed lines).
outage_and_failback() {
  local name=$1 t_repair t_back
  lab_link_down isp1
  lab_wait_until 10 lab_route_is "${LAB_GW[isp2]}" || return 1
  lab_tcp_start "$name" stream 50
  lab_wait_until 5 grep -q "connected peer=${LAB_UP_ADDR[isp2]}" "$LAB_DIR/$name.log" || return 1
  t_repair=$(lab_now)
  lab_link_up isp1
  lab_wait_until $(($(lab_failback_s) + 15)) lab_route_is "${LAB_GW[isp1]}" || return 1
  t_back=$(lab_first_route "${LAB_GW[isp1]}" "$t_repair")
  # Two seconds of the stream after the failback: 40 echoes if nothing broke.
  lab_wait_until 10 eval '[[ $(lab_tcp_events "$name" echo "$t_back" | wc -l) -ge 40 ]] ||
    [[ -n $(lab_tcp_events "$name" error; lab_tcp_events "$name" closed) ]]'
  PHASE_NEW_PEER=$(lab_tcp_peer)
  lab_stop "$name"
  read -r PHASE_GAP _ < <(lab_tcp_gap "$name" "$t_repair" "$(lab_now)")
  PHASE_AFTER=$(lab_tcp_events "$name" echo "$t_back" | wc -l)
  PHASE_ENDED=$( (lab_tcp_events "$name" error; lab_tcp_events "$name" closed) | head -n 1)
}

echo "-- sticky (the default): isp1 down, a stream opened through isp2, isp1 back"
outage_and_failback sticky || lab_check "the lab followed the outage and the failback" false
echo "   stream: largest gap ${PHASE_GAP} s from the repair on, ${PHASE_AFTER} echoes after the failback${PHASE_ENDED:+, ended: $PHASE_ENDED}"
lab_check "the stream was not reset or closed by the failback" test -z "$PHASE_ENDED"
lab_check "... and went on: 40 echoes after the failback (got $PHASE_AFTER)" test "$PHASE_AFTER" -ge 40
lab_check "... with no gap over 0.3 s (largest $PHASE_GAP s)" lab_le "$PHASE_GAP" 0.3
lab_check "a connection opened after the failback goes through isp1 (server saw $PHASE_NEW_PEER)" \
  test "$PHASE_NEW_PEER" = "${LAB_UP_ADDR[isp1]}"

echo "-- the status: a connection opened through isp2 during an outage, after the failback"
lab_link_down isp1
lab_wait_until 10 lab_route_is "${LAB_GW[isp2]}"
lab_tcp_start sticky2 stream 200
lab_link_up isp1
lab_wait_until 20 lab_route_is "${LAB_GW[isp1]}"
lab_check_within "failoverd status counts isp2's sticky connection" 5 \
  eval '[[ $(lab_status_get ".connections.per_isp.isp2") -ge 1 ]]'
lab_check "failoverd status shows it" eval 'lab_status_text | grep -Eq "connections:.*isp2 [0-9]+ sticky"'
lab_stop sticky2
lab_status_text | sed -n '/^connections/p;/^last reset/p' | sed 's/^/   /'

echo "-- nft flush ruleset (Debian's nftables service on every reload) deletes everyone's tables"
lab_in client nft flush ruleset
t_flush=$(lab_now)
table_back() { lab_in client nft list table inet failoverd 2>/dev/null | lab_matches "rt ip nexthop"; }
lab_check_within "failoverd put its table back" 5 table_back
echo "   back $(lab_diff "$t_flush" "$(lab_now)") s after the flush (upper bound: the polling adds to it)"
lab_check "and said so in the log" grep -q "put back what someone else changed or removed: nftables table inet failoverd" \
  "$LAB_DIR/failoverd.log"
lab_in client ip rule del pref 1500
lab_check_within "... and its fwmark rule, deleted by hand" 5 \
  eval 'lab_in client ip rule | lab_matches "^1500:.*lookup 3151"'

echo "-- not sticky (--sticky-connections no): the same failback breaks the stream"
lab_stop failoverd
lab_start_failoverd "$LAB_PROFILE" --sticky-connections no
lab_check_within "failoverd back, route via isp1" 15 lab_route_is "${LAB_GW[isp1]}"
lab_check "failoverd removed its fwmark rules at start" eval '! lab_in client ip rule | lab_matches fwmark'
outage_and_failback plain || lab_check "the lab followed the outage and the failback" false
echo "   stream: largest gap ${PHASE_GAP} s from the repair on, ${PHASE_AFTER} echoes after the failback${PHASE_ENDED:+, ended: $PHASE_ENDED}"
lab_check "without stickiness the failback broke the stream (so the check above can fail)" \
  eval '[[ -n "$PHASE_ENDED" || $PHASE_AFTER -lt 40 ]]'

lab_finish "$LAB_TEST_NAME"
