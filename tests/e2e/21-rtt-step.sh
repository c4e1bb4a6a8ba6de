#!/usr/bin/env bash
# e2e: isp1's RTT steps from ~1 ms to 150 ms and stays there (issue 16): no switch, and the RTT
# ispprobed reports follows the step.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
seconds=${LAB_STEP_SECONDS:-20} before_ms=1 after_ms=150
lab_e2e_begin 21-rtt-step "isp1's RTT steps from ${before_ms} ms to ${after_ms} ms for ${seconds} s: no switch, reported RTT follows"
[[ -x $LAB_BIN_DIR/lab_delayline ]] || { echo "SKIP: $LAB_BIN_DIR/lab_delayline not built" >&2; exit 77; }

# The client's mean ping RTT to the target, ms, over 5 pings.
ping_avg() {
  lab_in client ping -n -q -c 5 -i 0.2 -W 1 "$LAB_PING_TARGET" | awk -F/ '/^rtt/ { print $5 }'
}
# The median of the RTTs (ms) in ISP's datagrams from FROM on: reported_ms ISP FROM
reported_ms() {
  lab_datagram_rtts "$1" "$2" | awk '$2 != "-" { print $2 / 1000 }' | sort -n |
    awk '{ v[n++] = $1 } END { if (n) printf "%.1f\n", v[int(n / 2)]; else print "-" }'
}
isp1_rtt_json() { lab_status_get '.isps[] | select(.name == "isp1") | .rtt_ms'; }

lab_watch_datagrams_start
lab_watch_routes_start
echo "-- inet: isp1's uplink through a delay line of ${before_ms} ms"
t_start=$(lab_now)
lab_delayline_start isp1 --delay-ms "$before_ms" --step-delay-ms "$after_ms"
lab_check_within "ispprobed reports isp1's RTT through the delay line" 5 \
  lab_datagram_rtt_reached isp1 "$(lab_now)" 0
# A few reports to take the median of.
rtt_reports() { (($(lab_datagram_rtts isp1 "$1" | grep -vc ' - ') >= $2)); }
lab_wait_until 5 rtt_reports "$t_start" 5 || true
ping_before=$(ping_avg)
t_step=$(lab_now)
rtt_before=$(reported_ms isp1 "$t_start")
json_before=$(isp1_rtt_json)
echo "   before: client ping ${ping_before} ms; ispprobed rtt_last median ${rtt_before} ms; failoverd rtt_ms (window mean) ${json_before}"

echo "-- inet: isp1's delay steps to ${after_ms} ms for ${seconds} s"
lab_delayline_signal isp1 USR1
lab_check_within "ispprobed reports isp1's RTT >= 100 ms" 5 lab_datagram_rtt_reached isp1 "$t_step" 100000
lab_observe "$seconds" "$LAB_DIR/observe.log"
rtt_after=$(reported_ms isp1 "$(awk -v t="$t_step" 'BEGIN { printf "%.3f", t + 2 }')")
json_after=$(isp1_rtt_json)
ping_after=$(ping_avg)
echo "   after: client ping ${ping_after} ms; ispprobed rtt_last median ${rtt_after} ms; failoverd rtt_ms (window mean) ${json_after}"
tail -n 1 "$LAB_DIR/observe.log" | sed 's/^/   last sample: /'
ping_stepped() { lab_le "$ping_before" 20 && lab_ge "$ping_after" 140; }
lab_check "client ping RTT went from below 20 ms to about 150 ms (${ping_before} -> ${ping_after} ms)" \
  ping_stepped
lab_check "ispprobed's reported RTT stays >= 100 ms after the step (median ${rtt_after} ms)" \
  lab_ge "$rtt_after" 100
lab_check "failoverd's isp1 rtt_ms (a 30 s window mean) rose to 50 ms or more (${json_before} -> ${json_after} ms)" \
  lab_ge "$json_after" 50
lab_check "no switch after the step (switches=$(lab_status_get .switches))" \
  test "$(lab_status_get .switches)" = 0
events=$(lab_route_event_count "$t_start")
lab_check "no default-route change on the client ($events events)" test "$events" = 0
lab_check "route stayed on isp1 in every sample" lab_samples_on "${LAB_GW[isp1]}" "$LAB_DIR/observe.log"
counters=$(lab_delayline_stop isp1)
echo "   delay line: ${counters#lab_delayline: }"
lab_watch_routes_stop
lab_watch_datagrams_stop

lab_finish "$LAB_TEST_NAME"
