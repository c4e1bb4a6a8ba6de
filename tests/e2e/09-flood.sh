#!/usr/bin/env bash
# e2e: 100 000 junk and forged datagrams at the client during a real failover: the failover
# still happens, failoverd's memory does not grow, and its drop counters account for them all.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
[[ -x "$LAB_BIN_DIR/udp_flood" ]] || { echo "SKIP: $LAB_BIN_DIR/udp_flood not built" >&2; exit 77; }
lab_e2e_begin 09-flood "a flood of junk and forged datagrams during a failover"

COUNT=${FLOOD_COUNT:-100000}
lab_add_lan_host attacker 192.168.56.66
# Its ARP must not claim a forged source address (the victim's neighbour table stays right).
lab_in attacker sysctl -qw net.ipv4.conf.all.arp_announce=2

fd_pid=$(lab_pid failoverd)
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$fd_pid/status"; }
drops_total() {
  lab_status_get '[.drops[]] | add'
}
rss_before=$(rss_kib)
drops_before=$(drops_total)
overflow_before=$(lab_rcvbuf_errors)

echo "-- attacker 192.168.56.66: $COUNT datagrams (junk, oversize, truncated, unknown names, forged isp2) at 20 000/s"
lab_in attacker "$LAB_BIN_DIR/udp_flood" --to 192.168.56.200 --count "$COUNT" --rate 20000 \
  >"$LAB_DIR/flood.out" 2>&1 &
flood_pid=$!
# The fault comes in the middle of the flood (5 s long at 20 000/s): 1.5 s in.
sleep 1.5
echo "-- isp1: ip link set up0 down, in the middle of the flood"
lab_link_down isp1
lab_check_within "default route moves to isp2 despite the flood" 1.5 lab_route_is "${LAB_GW[isp2]}"
lab_check "client reaches 198.51.100.8 via isp2" lab_client_reaches
wait "$flood_pid" || true
echo "   flood: $(cat "$LAB_DIR/flood.out")"
sent=$(lab_flood_sent "$LAB_DIR/flood.out")
lab_check "the flood sent all $COUNT datagrams" test "${sent:-0}" -eq "$COUNT"

# failoverd drains its socket and publishes its counters once a second: wait for the count.
lab_check_within "failoverd's counters cover the flood" 10 \
  lab_flood_accounted drops_total "$drops_before" "$overflow_before" "${sent:-0}"
drops_after=$(drops_total)
overflow_after=$(lab_rcvbuf_errors)
counted=$((drops_after - drops_before))
overflow=$((overflow_after - overflow_before))
echo "   failoverd counted $counted dropped datagrams; the kernel dropped $overflow for a full socket buffer"
lab_check "every datagram accounted for: counted + kernel overflow = sent" test $((counted + overflow)) -eq "${sent:-0}"
lab_check "failoverd counted at least 95 % itself" test "$counted" -ge $((COUNT * 95 / 100))
rss_after=$(rss_kib)
echo "   failoverd RSS: ${rss_before} KiB before, ${rss_after} KiB after"
lab_check "failoverd's memory did not grow by more than 1 MiB" test "$rss_after" -le $((rss_before + 1024))
lab_check "failoverd is still running" lab_alive failoverd

lab_link_up isp1
lab_check_within "traffic returns to isp1 after failback-after" 15 lab_route_is "${LAB_GW[isp1]}"
lab_finish "$LAB_TEST_NAME"
