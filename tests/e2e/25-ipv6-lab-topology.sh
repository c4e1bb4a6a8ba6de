#!/usr/bin/env bash
# e2e (no daemons): the lab's IPv6 ground for issue 13. Each ISP routes its own prefix only
# (BCP 38), the client's source address picks the ISP, a link-local gateway works, lab_blackhole6
# silences one family, and lab_ra_route makes the route an RA would have made.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
LAB_TEST_NAME=25-ipv6-lab-topology
lab_require_tools
if [[ ! -x $LAB_BIN_DIR/lab_flows ]]; then
  echo "SKIP: $LAB_BIN_DIR/lab_flows not built (set ISPF_BIN_DIR to the CMake build dir)" >&2
  exit 77
fi
lab_trap_cleanup
echo "== $LAB_TEST_NAME: the lab's IPv6 topology (no daemons; logs in $LAB_DIR)"
t_start=$(lab_now)
lab_topology_up

# The client's only IPv6 default route: via VIA (on lan0), with source SRC if given.
route6() {
  lab_in client ip -6 route flush default
  lab_in client ip -6 route add default via "$1" dev lan0 ${2:+src "$2"}
}
# One of 3 echo requests, 200 ms apart, answered: reaches6 TARGET [ping options...]
reaches6() {
  local target=$1
  shift
  lab_in client ping -6 -n -q -c 3 -i 0.2 -W 1 "$@" "$target" >/dev/null 2>&1
}
reaches4() { lab_in client ping -4 -n -q -c 3 -i 0.2 -W 1 "$1" >/dev/null 2>&1; }
fails() { ! "$@"; }
both_reach() { reaches4 "$LAB_PING_TARGET" && reaches6 "$LAB_PING_TARGET6"; }
neither_reaches() { ! reaches4 "$LAB_PING_TARGET" && ! reaches6 "$LAB_PING_TARGET6"; }
# No IPv6 address of the lab waits for or failed DAD.
all_addresses_usable() {
  local h
  for h in inet isp1 isp2 client; do lab_in "$h" ip -6 addr show; done >"$LAB_DIR/addr6.txt"
  grep -q inet6 "$LAB_DIR/addr6.txt" && ! grep -Eq "tentative|dadfailed" "$LAB_DIR/addr6.txt"
}
# Packets isp's BCP 38 rule has dropped.
bcp38_drops() {
  lab_in "$1" nft list chain ip6 lab_bcp38 forward | awk '/counter/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}
flows_answered_at_least() { (($(lab_flows_answered "$1" "$2") >= $3)); }
flows_lost_any() { [[ -n $(awk '$4 == "lost"' "$LAB_DIR/$1.log") ]]; }
# A flow stream to the first IPv6 target for as long as it takes to get 10 answers, then its
# sources: flows_sources NAME
flows_sources() {
  local t
  t=$(lab_now)
  lab_flows_start "$1" "$LAB_PING_TARGET6" 20
  lab_wait_until 5 flows_answered_at_least "$1" "$t" 10 || true
  lab_flows_stop "$1"
  lab_flows_sources_after "$1" "$t"
}
# Flows were made, and not one was answered.
flows_none_answered() { [[ $(lab_flows_answered "$1") == 0 ]] && flows_lost_any "$1"; }

echo "-- the topology"
lab_check "the client has no IPv6 default route of the topology's making" test -z "$(lab_client_gw6)"
lab_check "the client takes no RAs and makes no SLAAC addresses on lan0" \
  test "$(lab_in client sysctl -n net.ipv6.conf.lan0.accept_ra net.ipv6.conf.lan0.autoconf | tr '\n' ' ')" = "0 0 "
lab_check "no address is tentative or failed DAD anywhere" all_addresses_usable
has_ll() { lab_in "$1" ip -6 addr show dev lan0 | lab_matches "inet6 ${LAB_LL6[$1]}/64"; }
lab_check "isp1 has fe80::1 on the LAN, isp2 fe80::2" eval 'has_ll isp1 && has_ll isp2'

for isp in isp1 isp2; do
  echo "-- the client's IPv6 default route via $isp (${LAB_GW6[$isp]}, src ${LAB_CLIENT6[$isp]})"
  route6 "${LAB_GW6[$isp]}" "${LAB_CLIENT6[$isp]}"
  lab_check "reaches ${LAB_TARGETS6[0]} via $isp" reaches6 "${LAB_TARGETS6[0]}"
  lab_check "reaches ${LAB_TARGETS6[1]} via $isp" reaches6 "${LAB_TARGETS6[1]}"
  sources=$(flows_sources "flows-$isp")
  echo "   new flows' sources: $sources ($(tail -n 1 "$LAB_DIR/flows-$isp.log"))"
  lab_check "new flows are answered from $isp's prefix only" test "$sources" = "${LAB_CLIENT6[$isp]}"
done

echo "-- BCP 38: isp2's source through isp1"
route6 "${LAB_GW6[isp1]}" "${LAB_CLIENT6[isp1]}"
before=$(bcp38_drops isp1)
lab_check "a ping from ${LAB_CLIENT6[isp2]} through isp1 is not answered" \
  fails reaches6 "${LAB_TARGETS6[0]}" -I "${LAB_CLIENT6[isp2]}"
lab_check "isp1's BCP 38 rule dropped it ($before -> $(bcp38_drops isp1) packets)" \
  test "$(bcp38_drops isp1)" -gt "$before"
lab_check "isp1's own source through isp1 still is" reaches6 "${LAB_TARGETS6[0]}" -I "${LAB_CLIENT6[isp1]}"
lab_in isp1 nft flush chain ip6 lab_bcp38 forward
lab_check "without isp1's filter the same ping is answered (so the check above can fail)" \
  reaches6 "${LAB_TARGETS6[0]}" -I "${LAB_CLIENT6[isp2]}"
lab_bcp38 isp1
route6 "${LAB_GW6[isp2]}" "${LAB_CLIENT6[isp2]}"
lab_check "the same ping through isp2 is answered" reaches6 "${LAB_TARGETS6[0]}" -I "${LAB_CLIENT6[isp2]}"
lab_check "isp1's source through isp2 is not" fails reaches6 "${LAB_TARGETS6[0]}" -I "${LAB_CLIENT6[isp1]}"

echo "-- a link-local gateway: fe80::1 dev lan0"
route6 "${LAB_LL6[isp1]}" "${LAB_CLIENT6[isp1]}"
lab_check "reaches ${LAB_TARGETS6[0]} via fe80::1" reaches6 "${LAB_TARGETS6[0]}"
sources=$(flows_sources flows-ll)
lab_check "new flows via fe80::1 come from isp1's prefix ($sources)" test "$sources" = "${LAB_CLIENT6[isp1]}"

echo "-- lab_blackhole6 isp1: IPv6 via isp1 silent, IPv4 via isp1 not"
lab_in client ip -4 route replace default via "${LAB_GW[isp1]}"
route6 "${LAB_GW6[isp1]}" "${LAB_CLIENT6[isp1]}"
lab_check "before: IPv4 and IPv6 via isp1 work" both_reach
lab_blackhole6 isp1
lab_check "IPv6 via isp1 is not answered" fails reaches6 "$LAB_PING_TARGET6"
lab_flows_start flows-bh6 "$LAB_PING_TARGET6" 20
lab_check_within "new IPv6 flows via isp1 are lost" 5 flows_lost_any flows-bh6
lab_flows_stop flows-bh6
lab_check "and none of them was answered" flows_none_answered flows-bh6
lab_check "IPv4 via isp1 still is" reaches4 "$LAB_PING_TARGET"
lab_check "isp1's IPv4 uplink route is untouched" test "$(lab_in isp1 ip -4 route show default | awk '{ print $3 }')" = "${LAB_INET_ADDR[isp1]}"
lab_blackhole isp1
lab_check "lab_blackhole isp1 silences both families" neither_reaches
lab_fault_clear isp1
lab_check "after lab_fault_clear both work again" both_reach
lab_in client ip -4 route replace default via "$LAB_NAT_GW" dev nat0

echo "-- lab_ra_route isp1: the route an RA would have installed"
lab_in client ip -6 route flush default
lab_ra_route isp1
lab_check "lab_client_gw6 shows it ($(lab_client_gw6))" test "$(lab_client_gw6)" = "${LAB_LL6[isp1]}"
ra_route_shown() { lab_in client ip -6 route show default | lab_matches "via fe80::1 dev lan0 proto ra metric 1024"; }
lab_check "proto ra metric 1024 in the client's table" ra_route_shown
lab_ra_route isp2 1025
lab_check "with isp2's at metric 1025 beside it, lab_client_gw6 shows both ($(lab_client_gw6))" \
  test "$(lab_client_gw6)" = "${LAB_LL6[isp1]} ${LAB_LL6[isp2]}"
lab_in client ip -6 route show default | sed 's/^/   /'

took=$(lab_diff "$t_start" "$(lab_now)")
echo "   (the checks took $took s)"
lab_finish "$LAB_TEST_NAME"
