#!/usr/bin/env bash
# e2e: a foreign default route via 10.0.2.2 re-added on the client is removed again within a second.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
lab_e2e_begin 07-foreign-route "foreign default routes via 10.0.2.2 (--replace-gateway) are removed, traffic unaffected"

no_foreign() { [[ "$(lab_client_gw)" != *"$LAB_NAT_GW"* ]]; }

lab_ping_start ping
sleep 0.5
t0=$(lab_now)
echo "-- client: ip route add default via $LAB_NAT_GW metric 100"
lab_in client ip route add default via "$LAB_NAT_GW" dev nat0 metric 100
lab_check_within "the foreign route is gone within 1 s" 1 no_foreign
lab_check "failoverd's route via isp1 is untouched" lab_route_is "${LAB_GW[isp1]}"
sleep 0.5
read -r gap _ _ < <(lab_ping_gap "$LAB_DIR/ping.log" "$t0" "$(lab_now)")
echo "   largest gap of the 10 ms ping: $gap s"
lab_check "traffic unaffected (gap below 0.2 s)" lab_le "$gap" 0.2

t1=$(lab_now)
echo "-- client: ip route replace default via $LAB_NAT_GW (overwrites failoverd's metric-0 route)"
lab_in client ip route replace default via "$LAB_NAT_GW" dev nat0
lab_check_within "the foreign route is gone within 1 s" 1 no_foreign
lab_check_within "failoverd's route via isp1 is back" 1 lab_route_is "${LAB_GW[isp1]}"
sleep 0.5
lab_ping_stop ping
read -r gap _ _ < <(lab_ping_gap "$LAB_DIR/ping.log" "$t1" "$(lab_now)")
echo "   largest gap of the 10 ms ping: $gap s"
lab_check "traffic back within 1 s" lab_le "$gap" 1
lab_check "client reaches 198.51.100.8" lab_client_reaches
lab_check "no switch counted" test "$(lab_status_get .switches)" = 0

lab_finish "$LAB_TEST_NAME"
