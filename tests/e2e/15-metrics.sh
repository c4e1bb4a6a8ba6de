#!/usr/bin/env bash
# e2e: both daemons' metrics files pass promtool, follow a switch within 2 s, and the real
# node_exporter serves them through its textfile collector.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
# promtool (Debian's prometheus), prometheus-node-exporter and curl: provision/install-build-deps.sh
lab_require_tools promtool prometheus-node-exporter curl
lab_e2e_begin 15-metrics "metrics files: promtool, a switch within 2 s, node_exporter serves them"

# The value of one sample: metric_value FILE 'NAME{LABELS}' (empty if absent).
metric_value() { awk -v series="$2" '$1 == series { print $2 }' "$1" 2>/dev/null; }
# The check promtool makes of a file node_exporter would read (lint included).
promtool_ok() { promtool check metrics <"$1"; }
active_is() {
  [[ "$(metric_value "$LAB_DIR/failoverd.prom" "ispfailover_isp_active{isp=\"$1\",family=\"ipv4\"}")" == 1 ]]
}
switches() { metric_value "$LAB_DIR/failoverd.prom" ispfailover_switches_total; }
switches_above() { [[ "$(switches)" -gt "$1" ]]; }
# After the fault: isp2 carries the route and the counter grew past $before.
moved_to_isp2() { active_is isp2 && switches_above "$before"; }
probe_up_is() { [[ "$(metric_value "$LAB_DIR/$1.prom" ispfailover_probe_up)" == "$2" ]]; }

lab_check_within "failoverd.prom, isp1.prom and isp2.prom written" 3 \
  test -s "$LAB_DIR/failoverd.prom" -a -s "$LAB_DIR/isp1.prom" -a -s "$LAB_DIR/isp2.prom"
for file in failoverd isp1 isp2; do
  lab_check "promtool check metrics: $file.prom" promtool_ok "$LAB_DIR/$file.prom"
done
lab_check_within "failoverd.prom: isp1 active" 2 active_is isp1
lab_check_within "isp1.prom: probe up" 2 probe_up_is isp1 1
before=$(switches)
echo "   switches_total before the fault: $before"

echo "-- isp1: ip link set up0 down"
lab_link_down isp1
lab_check_within "failoverd.prom: isp2 active and switches_total above $before within 2 s" 2 \
  moved_to_isp2
lab_check "failoverd.prom: isp1 not active" test "$(metric_value "$LAB_DIR/failoverd.prom" \
  'ispfailover_isp_active{isp="isp1",family="ipv4"}')" = 0
lab_check_within "isp1.prom: probe down" 2 probe_up_is isp1 0
lab_check "failoverd.prom: the switch isp1 -> isp2 counted with reason link-down" test \
  "$(metric_value "$LAB_DIR/failoverd.prom" \
    'ispfailover_switch_transitions_total{from="isp1",to="isp2",reason="link-down"}')" = 1
lab_check "failoverd.prom: switches_total agrees with the status file" \
  test "$(switches)" = "$(lab_status_get .switches)"
for file in failoverd isp1 isp2; do
  lab_check "promtool check metrics after the switch: $file.prom" promtool_ok "$LAB_DIR/$file.prom"
done
echo "   failoverd.prom now:"
grep -v '^#' "$LAB_DIR/failoverd.prom" | sed 's/^/     /'

# node_exporter as Debian packages it, in the client's namespace only, reading a textfile
# directory that links to the files as the packaged units do on a host when they start.
textfile_dir="$LAB_DIR/node-exporter-textfile"
mkdir -p "$textfile_dir"
ln -sf "$LAB_DIR/failoverd.prom" "$textfile_dir/ispfailover-failoverd.prom"
ln -sf "$LAB_DIR/isp2.prom" "$textfile_dir/ispfailover-ispprobed.prom"
port=19115
lab_spawn node-exporter client prometheus-node-exporter --collector.disable-defaults \
  --collector.textfile --collector.textfile.directory="$textfile_dir" \
  --web.listen-address="127.0.0.1:$port"
page() { lab_in client curl -fsS --max-time 2 "http://127.0.0.1:$port/metrics"; }
serves() { page 2>/dev/null | lab_matches "^$1"; }
lab_check_within "node_exporter serves ispfailover_isp_active" 10 \
  serves 'ispfailover_isp_active{family="ipv4",isp="isp2"} 1'
lab_check "node_exporter serves ispfailover_probe_up" serves 'ispfailover_probe_up 1'
lab_check "node_exporter: no textfile scrape error" serves 'node_textfile_scrape_error 0'
page 2>/dev/null | grep '^ispfailover_isp_active' | sed 's/^/     /' || true
lab_stop node-exporter

lab_finish "$LAB_TEST_NAME"
