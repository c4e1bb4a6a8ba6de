#!/usr/bin/env bash
# e2e with a shared key: a datagram forged from a gateway's own address is dropped, and a key
# on one side only shows up loudly in failoverd's status instead of as a silent outage.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
[[ -x "$LAB_BIN_DIR/udp_flood" ]] || { echo "SKIP: $LAB_BIN_DIR/udp_flood not built" >&2; exit 77; }
LAB_TEST_NAME=10-forged-with-key
lab_require_tools jq
lab_require_daemons
lab_trap_cleanup
echo "== $LAB_TEST_NAME: signed status; forgeries from isp1's own address are refused (logs in $LAB_DIR)"

lab_up_with_key

lab_add_lan_host forger 192.168.56.66
lab_in forger sysctl -qw net.ipv4.conf.all.arp_announce=2
echo "-- forger: 2000 unsigned 'isp1 down' datagrams with isp1's own source address 192.168.56.101"
lab_in forger "$LAB_BIN_DIR/udp_flood" --to 192.168.56.200 --from 192.168.56.101 --count 2000 \
  --rate 1000 --kinds forged --forge-name isp1 --forge-state down
sleep 1.5
lab_check "route stays on isp1" lab_route_is "${LAB_GW[isp1]}"
lab_check "no switch" test "$(lab_status_get .switches)" = 0
lab_check "all 2000 counted as unauthenticated" test "$(lab_status_get '.drops.unauthenticated')" -ge 2000
lab_check "isp1 still up in failoverd's view" lab_isp_state_is isp1 up

echo "-- isp2's ispprobed restarted without --key-file (a key on one side only)"
lab_stop isp2
lab_start_probed isp2
lab_check_within "failoverd shows isp2's datagrams refused as unauthenticated" 10 \
  lab_status_is '.isps[] | select(.name == "isp2") | .rejected' unauthenticated
summary=$(lab_status_get .summary)
echo "   status: $summary"
lab_check "the status line says why isp2 is stale" grep -q "refused: unauthenticated" <<<"$summary"
lab_check "failoverd logged it at warning" grep -q "unauthenticated.*is --key-file set on that ISP router too" "$LAB_DIR/failoverd.log"

echo "-- refusals are shown: failoverd status, its JSON and its log name isp2"
# isp1 has refusals of its own (the forgeries above), so isp2 may come second on the line.
isp2_refused_shown() {
  local text
  text=$(lab_status_text 2>/dev/null) || return 1
  grep -Eq '^refused reports: (.*, )?isp2 [1-9][0-9]* \(last: unauthenticated\)(,|$)' <<<"$text"
}
isp2_refused_json() {
  lab_status_json 2>/dev/null | jq -e '.isps[] | select(.name == "isp2")
    | (.refused | type == "number" and . >= 1) and .last_refused == "unauthenticated"' >/dev/null
}
lab_check_within "failoverd status: 'refused reports: isp2 N (last: unauthenticated)', N >= 1" 10 \
  isp2_refused_shown
echo "   $(lab_status_text 2>/dev/null | grep '^refused reports:' || echo 'no refused reports line')"
lab_check_within "status JSON: isp2 refused >= 1, last_refused unauthenticated" 5 isp2_refused_json
echo "   isp2: refused $(lab_status_get '.isps[] | select(.name == "isp2") | .refused')," \
  "last_refused $(lab_status_get '.isps[] | select(.name == "isp2") | .last_refused')"
lab_check_within "failoverd warned: isp2's reports are refused: unauthenticated" 5 \
  grep -q "failoverd warning: isp2's reports are refused: unauthenticated" "$LAB_DIR/failoverd.log"
lab_finish "$LAB_TEST_NAME"
