#!/usr/bin/env bash
# e2e: restarting failoverd while traffic flows changes no route and loses at most one ping.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
lab_e2e_begin 06-failoverd-restart "failoverd SIGTERM + start under a 10 ms ping: no route change"

lab_watch_routes_start routes
lab_ping_start ping
sleep 1
t0=$(lab_now)
echo "-- client: SIGTERM failoverd"
lab_stop failoverd TERM
lab_check "the route stays in place after SIGTERM" lab_route_is "${LAB_GW[isp1]}"
echo "-- client: failoverd started again"
lab_start_failoverd "$LAB_PROFILE"
sleep 4  # past the startup grace (1.5 s) and a few heartbeats
lab_check "failoverd is running" lab_alive failoverd
lab_check_within "failoverd status: active isp1" 5 lab_active_is isp1
lab_ping_stop ping
lab_watch_routes_stop routes
lab_check "still exactly one default route, via isp1" lab_route_is "${LAB_GW[isp1]}"
events=$(lab_route_events routes | awk -v t="$t0" '$1 >= t')
echo "   default-route events since the restart: $(grep -c . <<<"$events" || true)"
[[ -z "$events" ]] || printf '     %s\n' "$events"
# Every event (if any) re-adds the same route via isp1: nothing deleted, nothing moved.
no_move() {
  [[ -z "$events" ]] || awk -v gw="${LAB_GW[isp1]}" '$2 != "default" || $3 != "via" || $4 != gw { bad = 1 }
    END { exit bad }' <<<"$events"
}
lab_check "no route deleted or moved (ip monitor route)" no_move
lab_check "no route event at all (not even an identical re-add)" test -z "$events"
lost=$(lab_ping_lost "$LAB_DIR/ping.log")
read -r gap _ n < <(lab_ping_gap "$LAB_DIR/ping.log" "$t0" "$(lab_now)")
echo "   10 ms ping: $lost lost, largest gap $gap s, $n replies since the restart"
lab_check "at most one ping lost" test "$lost" -le 1

lab_finish "$LAB_TEST_NAME"
