#!/usr/bin/env bash
# e2e: names resolve across a failover: the client's resolv.conf follows the active ISP's resolver.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
LAB_TEST_NAME=19-dns-follows-isp
lab_require_tools jq dnsmasq getent unshare
lab_require_daemons
lab_trap_cleanup
echo "== $LAB_TEST_NAME: a name lookup on the client succeeds within 1 s of isp1's uplink going down (profile $LAB_PROFILE, logs in $LAB_DIR)"

# Each ISP router announces its own forwarder (its LAN address); failoverd writes the active
# ISP's into a resolv.conf of its own, which the lookups below use as /etc/resolv.conf.
resolv=$LAB_DIR/resolv.conf
lab_up_with_dns "$resolv"
lab_check_within "route via isp1" 15 lab_route_is "${LAB_GW[isp1]}"

names() { grep -q "^nameserver $1\$" "$resolv" 2>/dev/null && [[ $(grep -c '^nameserver' "$resolv") == 1 ]]; }
lab_check_within "failoverd wrote $resolv with isp1's resolver" 5 names "${LAB_GW[isp1]}"
lab_check "the file says who wrote it and for which ISP" grep -q '^# Written by failoverd.*isp1' "$resolv"
lab_check "the file makes a dead resolver cheap" grep -qx 'options timeout:1 attempts:2' "$resolv"
lab_check_within "$LAB_DNS_NAME resolves on the client through isp1's forwarder" 5 \
  lab_client_resolves "$resolv"
lab_check "failoverd status shows the resolvers in use" \
  test "$(lab_status_get '.dns.servers | join(",")')" = "${LAB_GW[isp1]}"

# Nothing changes, so nothing is written: the file keeps its inode (a rewrite is a rename).
inode=$(stat -c %i "$resolv")
sleep 2  # a stretch of quiet to observe, not a wait for something to happen
lab_check "not rewritten while nothing changes (2 s, ~20 reports)" test "$(stat -c %i "$resolv")" = "$inode"

t_fault=$(lab_now)
echo "-- isp1: ip link set up0 down"
lab_link_down isp1
# Lookups one after another from the moment of the fault, as an application retrying would.
ok=0 failed=0
until lab_client_resolves "$resolv"; do
  failed=$((failed + 1))
  if lab_ge "$(lab_diff "$t_fault" "$(lab_now)")" 10; then break; fi
done
took=$(lab_diff "$t_fault" "$(lab_now)")
lab_client_resolves "$resolv" && ok=1
echo "   first successful lookup after the fault: $took s ($failed failed before it)"
lab_check "a lookup succeeds after the fault" test "$ok" = 1
lab_check "... within 1 s of the fault (took $took s)" lab_le "$took" 1
lab_check "the file now names isp2's resolver" names "${LAB_GW[isp2]}"
echo "   failoverd rewrote the file $(lab_diff "$t_fault" "$(stat -c %.9Y "$resolv")") s after the fault"
lab_check "... and says so" grep -q '^# Written by failoverd.*isp2' "$resolv"
lab_check_within "failoverd status: active isp2, resolvers isp2's" 5 \
  lab_status_is '.dns.isp + " " + (.dns.servers | join(","))' "isp2 ${LAB_GW[isp2]}"
# The old file would not do: isp1's forwarder fails with its uplink, so the rewrite is what helps.
printf 'nameserver %s\noptions timeout:1 attempts:1\n' "${LAB_GW[isp1]}" >"$LAB_DIR/resolv-isp1.conf"
fails() { ! lab_client_resolves "$@"; }
lab_check "isp1's forwarder no longer resolves (its uplink is down)" fails "$LAB_DIR/resolv-isp1.conf"
lab_finish "$LAB_TEST_NAME"
