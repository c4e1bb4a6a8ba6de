#!/usr/bin/env bash
# e2e: 5 % loss on isp1's upstream causes no switch; 20 % causes exactly one, to isp2, and none back.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
seconds=${LAB_LOSS_SECONDS:-60}
lab_e2e_begin 05-lossy-line "${seconds} s of 5 % loss each way: no switch; ${seconds} s of 20 %: one switch to isp2"

# Samples the route and failoverd's view about every second for N seconds: observe N LOG
observe() {
  local end=$((SECONDS + $1))
  while ((SECONDS < end)); do
    echo "$(date +%T) route=$(lab_client_gw) $(lab_status_get '"switches=\(.switches) active=\(.active) " + (.isps[] | select(.name == "isp1") | "isp1=\(.state) isp1_loss=\(.loss_pct)")')" >>"$2"
    sleep 1
  done
}

# isp1's probes sent so far (its metrics file, written at least once a second)
probes_sent() { awk '/^ispfailover_probes_sent_total/ { print $2 }' "$LAB_DIR/isp1.prom"; }

echo "-- inet: 5 % random loss each way on isp1's uplink for ${seconds} s"
lab_loss isp1 5
sent_before=$(probes_sent)
t_before=$(lab_now)
observe "$seconds" "$LAB_DIR/observe-5.log"
# A miss costs a few confirmation rounds; the rate must stay about 7 a second per target.
rate=$(awk -v a="$sent_before" -v b="$(probes_sent)" -v t="$(lab_diff "$t_before" "$(lab_now)")" \
  -v n="${#LAB_TARGETS[@]}" 'BEGIN { printf "%.2f", (b - a) / t / n }')
echo "   probes a second per target during 5 % loss: $rate"
lab_check "probe rate at most 8 a second per target under 5 % loss ($rate)" lab_le "$rate" 8
tail -n 1 "$LAB_DIR/observe-5.log" | sed 's/^/   last sample: /'
lab_check "no switch during 5 % loss (switches=$(lab_status_get .switches))" test "$(lab_status_get .switches)" = 0
# Every sample in LOG from line FIRST on shows the route via GW: samples_on GW LOG [FIRST]
samples_on() { [[ -n "${3-1}" ]] && ! tail -n "+${3-1}" "$2" | grep -v "route=$1 "; }
lab_check "route stayed on isp1 in every sample" samples_on "${LAB_GW[isp1]}" "$LAB_DIR/observe-5.log"

echo "-- inet: 20 % random loss each way on isp1's uplink for ${seconds} s"
lab_loss isp1 20
observe "$seconds" "$LAB_DIR/observe-20.log"
tail -n 1 "$LAB_DIR/observe-20.log" | sed 's/^/   last sample: /'
lab_check "exactly one switch during 20 % loss (switches=$(lab_status_get .switches))" test "$(lab_status_get .switches)" = 1
lab_check "traffic is on isp2 at the end" lab_route_is "${LAB_GW[isp2]}"
lab_check "failoverd status: active isp2" lab_active_is isp2
first=$(grep -n -m 1 "route=${LAB_GW[isp2]} " "$LAB_DIR/observe-20.log" | cut -d: -f1)
echo "   first sample on isp2: ${first:-none} s into the 20 % phase"
lab_check "no sample back on isp1 after the switch" samples_on "${LAB_GW[isp2]}" "$LAB_DIR/observe-20.log" "$first"

lab_finish "$LAB_TEST_NAME"
