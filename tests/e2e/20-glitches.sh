#!/usr/bin/env bash
# e2e: 120 ms outages of isp1's upstream every 1.5 s for 60 s (issue 16) cause no switch.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
seconds=${LAB_GLITCH_SECONDS:-60} glitch_ms=120 every_ms=1500
lab_e2e_begin 20-glitches "${seconds} s of ${glitch_ms} ms glitches every ${every_ms} ms on isp1: no switch"
[[ -x $LAB_BIN_DIR/lab_delayline ]] || { echo "SKIP: $LAB_BIN_DIR/lab_delayline not built" >&2; exit 77; }


lab_watch_routes_start
lab_ping_start ping
lab_check "client reaches 198.51.100.8 via isp1" lab_client_reaches

echo "-- inet: isp1's uplink through a delay line that drops ${glitch_ms} ms of every ${every_ms} ms"
t_start=$(lab_now)
lab_delayline_start isp1 --glitch-ms "$glitch_ms" --glitch-every-ms "$every_ms"
lab_observe "$seconds" "$LAB_DIR/observe.log"
t_end=$(lab_now)
counters=$(lab_delayline_stop isp1)
echo "   delay line: ${counters#lab_delayline: }"
tail -n 1 "$LAB_DIR/observe.log" | sed 's/^/   last sample: /'
downs=$(grep -c "isp1=down" "$LAB_DIR/observe.log" || true)
echo "   samples with isp1 down in failoverd's view: $downs of $(wc -l <"$LAB_DIR/observe.log")"

read -r gap _ replies < <(lab_ping_gap "$LAB_DIR/ping.log" "$t_start" "$t_end")
echo "   largest ping gap during the glitches: $gap s ($replies replies, $(lab_ping_lost "$LAB_DIR/ping.log") lost in all)"
dropped=$(sed -n 's/.*glitch_dropped=\([0-9]*\).*/\1/p' <<<"$counters")
glitches_seen() { ((${dropped:-0} > 0)) && lab_ge "$gap" 0.1; }
lab_check "the glitches happened (delay line dropped ${dropped:-0} packets; gap ${gap} s >= 0.1 s)" \
  glitches_seen
lab_check "no switch during the glitches (switches=$(lab_status_get .switches))" \
  test "$(lab_status_get .switches)" = 0
events=$(lab_route_event_count "$t_start")
lab_check "no default-route change on the client ($events events)" test "$events" = 0
lab_check "route stayed on isp1 in every sample" lab_samples_on "${LAB_GW[isp1]}" "$LAB_DIR/observe.log"
lab_check "route on isp1 at the end" lab_route_is "${LAB_GW[isp1]}"
lab_check "client reaches 198.51.100.8 after the glitches" lab_client_reaches
lab_ping_stop ping
lab_watch_routes_stop

lab_finish "$LAB_TEST_NAME"
