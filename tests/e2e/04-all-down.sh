#!/usr/bin/env bash
# e2e: both uplinks down -> the route is kept and status says NO ISP UP; one returns -> traffic flows.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
lab_e2e_begin 04-all-down "both uplinks down keeps the route (when-all-down keep); the one back carries traffic"

lab_check "client reaches 198.51.100.8 via isp1" lab_client_reaches
echo "-- isp1 and isp2: ip link set up0 down"
lab_link_down isp1
lab_link_down isp2
lab_check_within "failoverd status: all_down" 10 lab_status_is .all_down true
summary=$(lab_status_get .summary)
echo "   summary: $summary"
lab_check "summary says NO ISP UP" grep -q "NO ISP UP" <<<"$summary"
lab_check "failoverd status text says NO ISP UP" grep -q "NO ISP UP" < <(lab_status_text)
kept_for_a_while() {
  local i gw
  for ((i = 0; i < 20; i++)); do
    gw=$(lab_client_gw)
    [[ $gw == "${LAB_GW[isp1]}" || $gw == "${LAB_GW[isp2]}" ]] || { echo "   route now: '$gw'"; return 1; }
    sleep 0.15
  done
  echo "   route kept: default via $gw"
}
lab_check "one default route via an ISP is kept for 3 s" kept_for_a_while
lab_check "it is failoverd's (proto 150)" grep -q "proto 150" < <(lab_in client ip route show default)

# The ISP that returns is the one the kept route does not use, so the traffic has to move.
back=isp1
[[ "$(lab_client_gw)" == "${LAB_GW[isp1]}" ]] && back=isp2
echo "-- $back: ip link set up0 up (the kept route is not via $back)"
lab_link_up "$back"
lab_check_within "failoverd status: $back up" 15 lab_isp_state_is "$back" up
lab_check_within "default route moves to $back (${LAB_GW[$back]})" 15 lab_route_is "${LAB_GW[$back]}"
lab_check_within "client reaches 198.51.100.8 via $back" 10 lab_client_reaches
lab_check_within "failoverd status: active $back" 5 lab_active_is "$back"
not_all_down() { lab_status_is .all_down false && ! grep -q "NO ISP UP" <<<"$(lab_status_get .summary)"; }
lab_check_within "status no longer all down, summary without NO ISP UP" 5 not_all_down
echo "   summary: $(lab_status_get .summary)"

lab_finish "$LAB_TEST_NAME"
