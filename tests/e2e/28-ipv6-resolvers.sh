#!/usr/bin/env bash
# e2e: IPv6 resolvers (ispprobed --dns with an IPv6 address, dns6=) follow the IPv6 route: isp1's
# IPv6 dying while its IPv4 works puts isp2's IPv6 resolver in the client's resolv.conf beside
# isp1's IPv4 one, and a lookup over IPv6 alone works through it.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
LAB_DUAL_STACK=1
LAB_TEST_NAME=28-ipv6-resolvers
lab_require_tools jq dnsmasq getent unshare
lab_require_daemons
lab_trap_cleanup
echo "== $LAB_TEST_NAME: IPv6 resolvers follow the IPv6 route (profile $LAB_PROFILE, logs in $LAB_DIR)"

# The internet's resolver listens on IPv6 too; each router's IPv6 forwarder (on its global LAN
# address) asks it over IPv6 through the router's uplink, so that isp1's IPv6 blackhole takes
# isp1's IPv6 forwarder down with it while its IPv4 one keeps working.
dns6_server=2001:db8:100::53
resolv=$LAB_DIR/resolv.conf
lab_topology_up
lab_in inet ip -6 addr add "$dns6_server/128" dev lo nodad
lab_dns_up
lab_dnsmasq dns6-inet inet --listen-address="$dns6_server" \
  --address="/example.test/$LAB_DNS_ANSWER" --log-queries
for isp in isp1 isp2; do
  lab_dnsmasq "dns6-$isp" "$isp" --listen-address="${LAB_GW6[$isp]}" \
    --server="$dns6_server" --cache-size=0 --log-queries
  lab_start_daemon "$isp" "$isp" ispprobed --dns "${LAB_GW[$isp]}" --dns "${LAB_GW6[$isp]}" \
    < <(lab_probed_conf "$isp")
done
lab_start_failoverd "$LAB_PROFILE" --dns-manager file --resolv-conf "$resolv"
lab_check_within "route via isp1" 15 lab_route_is "${LAB_GW[isp1]}"
lab_check_within "IPv6 route via isp1" 10 lab_route6_is "${LAB_GW6[isp1]}" "${LAB_CLIENT6[isp1]}"

# The file's nameserver lines, space-separated.
nameservers() { awk '/^nameserver / { printf "%s%s", sep, $2; sep = " " }' "$resolv" 2>/dev/null; }
names_are() { [[ "$(nameservers)" == "$1" ]]; }
# A resolv.conf with only NAMESERVER, for a lookup through that one server.
only() {
  printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$1" >"$LAB_DIR/resolv-$2.conf"
  echo "$LAB_DIR/resolv-$2.conf"
}
resolves_via() { lab_client_resolves "$(only "$1" "$2")"; }
fails_via() { ! resolves_via "$@"; }

lab_check_within "resolv.conf: isp1's IPv4 and IPv6 resolvers" 5 \
  names_are "${LAB_GW[isp1]} ${LAB_GW6[isp1]}"
echo "   $(nameservers)"
lab_check "failoverd status lists both" \
  lab_status_is '.dns.servers | join(" ")' "${LAB_GW[isp1]} ${LAB_GW6[isp1]}"
lab_check_within "a lookup through isp1's IPv6 forwarder alone works" 5 \
  resolves_via "${LAB_GW6[isp1]}" isp1-v6

t_fault=$(lab_now)
echo "-- lab_blackhole6 isp1: isp1's IPv6 silent upstream, its IPv4 working"
lab_blackhole6 isp1
lab_check_within "IPv6 route moves to isp2" 10 lab_route6_is "${LAB_LL6[isp2]}" "${LAB_CLIENT6[isp2]}"
lab_check_within "resolv.conf: isp1's IPv4 resolver, isp2's IPv6 one" 5 \
  names_are "${LAB_GW[isp1]} ${LAB_GW6[isp2]}"
echo "   $(nameservers), $(lab_diff "$t_fault" "$(stat -c %.9Y "$resolv")") s after the fault"
lab_check "the file says whose IPv6 resolvers they are" grep -q '^# Written by failoverd.*isp1 (IPv6: isp2)' "$resolv"
lab_check "IPv4 stays on isp1" lab_route_is "${LAB_GW[isp1]}"
lab_check "a lookup through the file's IPv6 resolver alone works (isp2's)" \
  resolves_via "$(nameservers | awk '{ print $2 }')" new-v6
# What makes the rewrite matter: isp1's IPv6 forwarder asks upstream through the dead path.
lab_check "isp1's IPv6 forwarder no longer resolves" fails_via "${LAB_GW6[isp1]}" isp1-v6-dead
lab_check "isp1's IPv4 forwarder still does" resolves_via "${LAB_GW[isp1]}" isp1-v4

echo "-- lab_fault_clear isp1"
lab_fault_clear isp1
lab_check_within "after the failback: isp1's resolvers of both families again" 15 \
  names_are "${LAB_GW[isp1]} ${LAB_GW6[isp1]}"
lab_finish "$LAB_TEST_NAME"
