#!/usr/bin/env bash
# e2e with a key: signed datagrams recorded before failoverd restarted are refused as replays after
# it (by the replay floors kept in its --state-dir, then by the live reports), and move nothing.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
[[ -x "$LAB_BIN_DIR/udp_flood" ]] || { echo "SKIP: $LAB_BIN_DIR/udp_flood not built" >&2; exit 77; }
LAB_TEST_NAME=13-replay-after-restart
lab_require_tools jq
lab_require_daemons
# While the routers' datagrams are held back below, no ISP is up: failoverd must keep the route.
LAB_WHEN_ALL_DOWN=keep
lab_trap_cleanup
echo "== $LAB_TEST_NAME: recorded signed datagrams replayed after failoverd restarted are refused (logs in $LAB_DIR)"

lab_up_with_key
key=$LAB_KEY
both_up() { lab_isp_state_is isp1 up && lab_isp_state_is isp2 up; }
lab_check_within "signed reports accepted: route via isp1" 15 lab_route_is "${LAB_GW[isp1]}"
lab_check_within "failoverd: isp1 and isp2 up" 10 both_up

isp1=${LAB_GW[isp1]}
isp1_filter="src host $isp1 and udp dst port 1500"
attacker=192.168.56.66
lab_add_lan_host attacker "$attacker"
lab_in attacker sysctl -qw net.ipv4.conf.all.arp_announce=2

echo "-- attacker $attacker records the LAN's status datagrams; isp1's uplink goes down and up"
lab_capture_start recording attacker lan0 udp dst port 1500
lab_link_down isp1
lab_check_within "failoverd sees isp1 down" 10 lab_isp_state_is isp1 down
lab_check_within "traffic moved to isp2" 10 lab_route_is "${LAB_GW[isp2]}"
lab_link_up isp1
back_on_isp1() { lab_route_is "$isp1" && lab_client_reaches; }
lab_check_within "traffic back on isp1" 30 back_on_isp1
lab_capture_stop recording
pcap=$LAB_DIR/recording.pcap
recorded=$(lab_pcap_count "$pcap" "$isp1_filter")
recorded_down=$(lab_pcap_count_line "$pcap" "$isp1_filter" state=down)
recorded_signed=$(lab_pcap_count_line "$pcap" "$isp1_filter" 'hmac=[0-9a-f]\{64\}')
echo "   recorded: $recorded datagrams of isp1 ($recorded_down state=down, $recorded_signed signed)," \
  "$(lab_pcap_count "$pcap" "udp dst port 1500") in all"
lab_check "the recording holds isp1 state=down datagrams" test "$recorded_down" -ge 1
lab_check "every recorded datagram of isp1 is signed" test "$recorded_signed" -eq "$recorded"

# Replays the recording's isp1 datagrams from isp1's address at the client; prints how many.
replay_isp1() {
  local out
  out=$(lab_in attacker "$LAB_BIN_DIR/udp_flood" --to 192.168.56.200 --from "$isp1" \
    --replay-pcap "$pcap" --replay-source "$isp1" --rate 200) || lab_die "udp_flood: $out"
  echo "   udp_flood: $out" >&2
  sed -n 's/.* sent=\([0-9]*\) .*/\1/p' <<<"$out"
}
drops_replay() { lab_status_get '.drops.replay'; }
drops_replay_at_least() { lab_ge "$(drops_replay)" "$1"; }
status_fresh() {
  local now_ms
  now_ms=$(date +%s%3N)
  lab_status_json 2>/dev/null | jq -e --argjson now "$now_ms" '(.updated_unix_ms > $now - 2500)
    and ([.isps[] | select(.name == "isp1") | .last_seen_ms_ago] | .[0] | type == "number" and . < 1000)' \
    >/dev/null
}

echo "-- client: failoverd stopped (SIGTERM); the routers' own datagrams held back from the client"
lab_stop failoverd TERM
floors=$LAB_DIR/state-client/replay-floors
lab_check "failoverd kept its replay floors ($floors)" test "$(head -n 1 "$floors" 2>/dev/null)" = "ispf-replay-floors 1"
lab_check "the floors have a line for isp1" grep -Eq '^isp1 [0-9]+ [0-9]+$' "$floors"
echo "   floors: $(tail -n +2 "$floors" 2>/dev/null | paste -sd ';')"
# Without live reports failoverd has only the floors from its file to go by. Held back by the
# routers' MAC addresses: the attacker's replays (same source IP, its own MAC) still pass.
declare -A mac
for isp in isp1 isp2; do mac[$isp]=$(lab_in "$isp" ip -br link show lan0 | awk '{ print $3 }'); done
lab_in client nft -f - <<EOF
table inet ispf_hold {
  set routers { type ether_addr; elements = { ${mac[isp1]}, ${mac[isp2]} }; }
  chain input {
    type filter hook input priority -300; policy accept;
    ether saddr @routers udp dport 1500 drop
  }
}
EOF
lab_watch_routes_start routes
t_restart=$(lab_now)
lab_start_failoverd "$LAB_PROFILE" --key-file "$key"
restarted() { (($(grep -c "listening on UDP" "$LAB_DIR/failoverd.log") >= 2)) && lab_status_is .accepted 0; }
lab_check_within "failoverd started again, nothing accepted yet" 5 restarted

echo "-- attacker: the recording replayed from isp1's address, before failoverd hears isp1 again"
drops0=$(drops_replay)
sent1=$(replay_isp1)
lab_check "every recorded isp1 datagram replayed ($sent1 of $recorded)" test "$sent1" -eq "$recorded"
lab_check_within "all $sent1 refused as replay (drops.replay $drops0 -> >= $((drops0 + sent1)))" 5 \
  drops_replay_at_least $((drops0 + sent1))
drops1=$(drops_replay)
echo "   drops.replay $drops0 -> $drops1 for $sent1 replayed; accepted $(lab_status_get .accepted)," \
  "isp1 refused $(lab_status_get '.isps[] | select(.name == "isp1") | .refused')" \
  "(last: $(lab_status_get '.isps[] | select(.name == "isp1") | .last_refused'))"
lab_check "failoverd accepted none of them" lab_status_is .accepted 0
lab_check "route stays on isp1" lab_route_is "$isp1"
lab_check "no switch" lab_status_is .switches 0

# isp1 first: were isp2 heard first, failoverd (its startup grace over, isp1 unheard) would
# rightly move the route to isp2 and fail back later.
echo "-- client: isp1's own datagrams let through again, then isp2's"
lab_in client nft delete element inet ispf_hold routers "{ ${mac[isp1]} }"
lab_check_within "isp1 up in failoverd's view" 10 lab_isp_state_is isp1 up
lab_in client nft delete table inet ispf_hold
lab_check_within "isp1 and isp2 up in failoverd's view" 10 both_up
lab_check_within "failoverd's status is fresh (isp1 heard < 1 s ago)" 5 status_fresh
lab_check "route on isp1" lab_route_is "$isp1"
switches=$(lab_status_get .switches)

echo "-- attacker: the recording replayed again, now that failoverd hears isp1"
drops2=$(drops_replay)
sent2=$(replay_isp1)
lab_check "every recorded isp1 datagram replayed ($sent2 of $recorded)" test "$sent2" -eq "$recorded"
lab_check_within "all $sent2 refused as replay (drops.replay $drops2 -> >= $((drops2 + sent2)))" 5 \
  drops_replay_at_least $((drops2 + sent2))
echo "   drops.replay $drops2 -> $(drops_replay) for $sent2 replayed"
lab_check "route stays on isp1" lab_route_is "$isp1"
lab_check "the switch count does not change ($switches)" lab_status_is .switches "$switches"
lab_check "isp1 still up in failoverd's view" lab_isp_state_is isp1 up
lab_watch_routes_stop routes
events=$(lab_route_events routes | awk -v t="$t_restart" '$1 >= t')
lab_check "no default-route event since the restart" test -z "$events"
[[ -z "$events" ]] || printf '     %s\n' "$events"
# isp1 never looked anything but up (or unheard while held back) to the restarted failoverd.
since_restart() { awk '/listening on UDP/ { n++ } n >= 2' "$LAB_DIR/failoverd.log"; }
isp1_never_down() { ! since_restart | grep -Eq 'isp1[^,;]* (down|stale)'; }
lab_check "failoverd logged no isp1 down or stale since the restart" isp1_never_down
echo "   figures: recorded $recorded (down $recorded_down); replayed $sent1 + $sent2;" \
  "drops.replay $drops0 -> $drops1, $drops2 -> $(drops_replay); wall ${SECONDS}s"
lab_finish "$LAB_TEST_NAME"
