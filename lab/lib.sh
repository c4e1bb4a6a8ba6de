# Shared lab functions (topology, daemons, faults, measurements) for lab.sh, tests/e2e and bench.
# shellcheck shell=bash
# shellcheck disable=SC2034,SC2120  # variables and optional arguments used by the scripts that source this
#
# Source it from a bash script running as root inside tests/support/netns-sandbox (call
# lab_enter_sandbox "$0" "$@" first thing to re-execute there). Every namespace is named
# "$LAB_PREFIX-HOST"; nothing is ever linked to the namespace the script runs in.
#
#   inet    internet: 198.51.100.8/32 and 198.51.100.9/32 on lo; veth "isp1" 203.0.113.2/30 and
#           "isp2" 203.0.113.6/30; nftables table "inet lab" with per-ISP fault chains
#   isp1/2  routers: up0 203.0.113.1/30 (.5/30), lan0 192.168.56.101/24 (.102/24), forwarding,
#           masquerade out of up0, default via the inet side of up0
#   lan     bridge br0 joining the lan0 veths of isp1, isp2, client and any extra LAN host
#   client  lan0 192.168.56.200/24; nat0 10.0.2.15/24 to vnat (10.0.2.2, forwards nothing);
#           default via 10.0.2.2 like a Vagrant box, for failoverd to take over
#
# IPv6 (issue 13), always on beside it; no NAT, so the source address picks the ISP:
#   inet    2001:db8:100::1/128 and 2001:db8:100::2/128 on lo; veth "isp1" 2001:db8:f1::1/64,
#           "isp2" 2001:db8:f2::1/64; 2001:db8:1::/48 routed back via isp1 only, 2001:db8:2::/48
#           via isp2 only
#   isp1/2  up0 2001:db8:f1::2/64 (f2::2), default via 2001:db8:f1::1 (f2::1); lan0
#           2001:db8:1:1::1/64 and fe80::1 (isp2: 2001:db8:2:1::1/64, fe80::2); forwarding; BCP 38:
#           forwards from the LAN only what comes from its own /48 (nft table "ip6 lab_bcp38")
#   client  lan0 2001:db8:1:1::10/64 and 2001:db8:2:1::10/64; NO IPv6 default route (failoverd's
#           to add; tests add one with lab_ra_route or ip -6 route); extra LAN hosts ::11, ::12...
# No router advertisements, SLAAC or DAD anywhere (accept_ra=0, autoconf=0, accept_dad=0, nodad):
# only the lab and the daemons under test write the IPv6 tables.

LAB_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
LAB_BIN_DIR=${ISPF_BIN_DIR:-$LAB_SOURCE_DIR/build}
# Inside the sandbox $$ is 1 in every lab, so the id is drawn from the clock and $RANDOM.
LAB_ID=${LAB_ID:-$(printf '%x%04x' "$(date +%s)" "$RANDOM" | tail -c 8)}
LAB_PREFIX=${LAB_PREFIX:-ispf-$LAB_ID}
LAB_DIR=${LAB_DIR:-/tmp/ispf-lab-$LAB_ID}
LAB_PROFILE=${LAB_PROFILE:-default}    # default | fast: the daemons' timing profile
# 1: the daemons run dual stack (IPv6 targets and prefix6 on the routers, gateway6 on the client:
# isp1's global, isp2's link-local); 0 keeps the IPv4-only configuration the older tests pin.
LAB_DUAL_STACK=${LAB_DUAL_STACK:-0}
LAB_CONFIG_MODE=${LAB_CONFIG_MODE:-file}  # file: --config FILE; cli: the same as options
LAB_SANDBOX=$LAB_SOURCE_DIR/tests/support/netns-sandbox
LAB_TARGETS=(198.51.100.8 198.51.100.9)
LAB_PING_TARGET=198.51.100.8
LAB_NAT_GW=10.0.2.2
LAB_VIP=192.168.56.1
declare -A LAB_GW=([isp1]=192.168.56.101 [isp2]=192.168.56.102)
declare -A LAB_UP_ADDR=([isp1]=203.0.113.1 [isp2]=203.0.113.5)
declare -A LAB_INET_ADDR=([isp1]=203.0.113.2 [isp2]=203.0.113.6)
LAB_TARGETS6=(2001:db8:100::1 2001:db8:100::2)
LAB_PING_TARGET6=2001:db8:100::1
declare -A LAB_GW6=([isp1]=2001:db8:1:1::1 [isp2]=2001:db8:2:1::1)     # router on the LAN
declare -A LAB_LL6=([isp1]=fe80::1 [isp2]=fe80::2)                     # its link-local there
declare -A LAB_PREFIX6=([isp1]=2001:db8:1:1:: [isp2]=2001:db8:2:1::)   # the LAN /64s
declare -A LAB_SITE6=([isp1]=2001:db8:1::/48 [isp2]=2001:db8:2::/48)   # each ISP's allocation
declare -A LAB_CLIENT6=([isp1]=2001:db8:1:1::10 [isp2]=2001:db8:2:1::10)
declare -A LAB_UP_ADDR6=([isp1]=2001:db8:f1::2 [isp2]=2001:db8:f2::2)
declare -A LAB_INET_ADDR6=([isp1]=2001:db8:f1::1 [isp2]=2001:db8:f2::1)
LAB_LAN_HOST6=17           # the next extra LAN host's IPv6 interface id (::11, ::12, ...)
declare -A LAB_PIDS=()     # name -> PID of what lab_spawn started
LAB_HOSTS=()               # namespaces made, in order
LAB_FAILURES=0

# ---------------------------------------------------------------------------------------------
# Generic helpers

lab_now() { date +%s.%N; }

lab_log() { printf '[lab %s] %s\n' "$(date +%T.%3N)" "$*" >&2; }

lab_die() {
  printf '[lab %s] ERROR: %s\n' "$(date +%T.%3N)" "$*" >&2
  exit 1
}

# Seconds between two epoch timestamps (b - a), 3 decimals; "-" if either is missing.
lab_diff() {
  if [[ -z "${1:-}" || -z "${2:-}" || "$1" == - || "$2" == - ]]; then
    echo -
    return
  fi
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'
}

# Like grep -q on a pipe, but reads all of its input first: under pipefail, grep -q exiting at the
# first match kills the writer with SIGPIPE and fails the pipeline at random (e2e 25 did, once).
lab_matches() {
  local rc=0
  grep -q "$@" || rc=$?
  cat >/dev/null
  return "$rc"
}

# Polls "$@" every 50 ms until it succeeds; fails after TIMEOUT seconds.
lab_wait_until() {
  local timeout=$1
  shift
  local deadline
  deadline=$(awk -v n="$(lab_now)" -v t="$timeout" 'BEGIN { printf "%.3f", n + t }')
  until "$@"; do
    if awk -v n="$(lab_now)" -v d="$deadline" 'BEGIN { exit !(n > d) }'; then return 1; fi
    sleep 0.05
  done
}

# Re-executes the calling script inside tests/support/netns-sandbox unless already there.
lab_enter_sandbox() {
  [[ $EUID -eq 0 ]] || { echo "the lab needs root (network namespaces, nftables)" >&2; exit 77; }
  if [[ "${ISPF_IN_SANDBOX:-}" != 1 ]]; then
    exec "$LAB_SANDBOX" bash "$@"
  fi
}

# Skips (77) when a tool the lab needs is missing.
lab_require_tools() {
  local tool missing=()
  for tool in ip nft ping tcpdump awk "$@"; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if ((${#missing[@]})); then
    echo "SKIP: missing tools: ${missing[*]}" >&2
    exit 77
  fi
}

# Skips (77) when the daemon binaries are not built.
lab_require_daemons() {
  local bin
  for bin in ispprobed failoverd; do
    if [[ ! -x "$LAB_BIN_DIR/$bin" ]]; then
      echo "SKIP: $LAB_BIN_DIR/$bin not built (set ISPF_BIN_DIR to the CMake build dir)" >&2
      exit 77
    fi
  done
}

lab_ns() { echo "$LAB_PREFIX-$1"; }

# Runs a command in a lab host's network namespace.
lab_in() {
  local host=$1
  shift
  ip netns exec "$LAB_PREFIX-$host" "$@"
}

# Starts a command in the background in a host's namespace, output to $LAB_DIR/NAME.log.
lab_spawn() {
  local name=$1 host=$2
  shift 2
  ip netns exec "$LAB_PREFIX-$host" "$@" >>"$LAB_DIR/$name.log" 2>&1 </dev/null &
  LAB_PIDS[$name]=$!
  echo "$!" >"$LAB_DIR/$name.pid"
}

lab_pid() { echo "${LAB_PIDS[$1]:-}"; }

lab_alive() {
  local pid=${LAB_PIDS[$1]:-}
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# Stops what lab_spawn started under NAME: SIG (default TERM), then KILL after 3 s.
lab_stop() {
  local name=$1 sig=${2:-TERM} pid=${LAB_PIDS[$1]:-} i
  [[ -n "$pid" ]] || return 0
  {
    # stderr off: bash reports jobs that die of a signal ("Killed") when it reaps them.
    kill -s "$sig" "$pid" || true
    for ((i = 0; i < 60; i++)); do
      kill -0 "$pid" || break
      sleep 0.05
    done
    kill -KILL "$pid" || true
    wait "$pid" || true
  } 2>/dev/null
  unset "LAB_PIDS[$name]"
  rm -f "$LAB_DIR/$name.pid"
}

# ---------------------------------------------------------------------------------------------
# Topology

lab_add_host() {
  local host=$1 conf
  ip netns add "$LAB_PREFIX-$host"
  LAB_HOSTS+=("$host")
  # IPv6 that only the lab drives, set on "default" before any interface exists (each inherits
  # it) and on "all": no RAs taken, no SLAAC, no DAD (an address is usable at once, so no test
  # waits for it), and addresses kept across link down/up as a static configuration would be
  # restored (the kernel flushes them otherwise, which IPv4 never does).
  for conf in all default; do
    lab_in "$host" sysctl -qw "net.ipv6.conf.$conf.disable_ipv6=0" "net.ipv6.conf.$conf.accept_ra=0" \
      "net.ipv6.conf.$conf.autoconf=0" "net.ipv6.conf.$conf.accept_dad=0" \
      "net.ipv6.conf.$conf.keep_addr_on_down=1" "net.ipv6.conf.$conf.forwarding=0"
  done
  lab_in "$host" ip link set lo up
  lab_in "$host" sysctl -qw net.ipv4.ip_forward=0
}

# A veth between two lab hosts: lab_veth HOST_A IF_A HOST_B IF_B
lab_veth() {
  lab_in "$1" ip link add "$2" type veth peer name "$4" netns "$LAB_PREFIX-$3"
  lab_in "$1" ip link set "$2" up
  lab_in "$3" ip link set "$4" up
}

# Plugs a new interface of HOST into the LAN bridge: lab_lan_port HOST IFACE ADDR/PREFIX
lab_lan_port() {
  local host=$1 ifname=$2 addr=$3
  lab_veth "$host" "$ifname" lan "$host"
  lab_in lan ip link set "$host" master br0
  # brd +: as DHCP and every network manager set it (ispprobed sends to the broadcast address).
  lab_in "$host" ip addr add "$addr" brd + dev "$ifname"
}

lab_topology_up() {
  local isp
  mkdir -p "$LAB_DIR"
  lab_log "building the lab ($LAB_PREFIX-*, logs in $LAB_DIR)"
  for host in inet isp1 isp2 lan client vnat; do lab_add_host "$host"; done

  # The internet: the probe targets, and routes back to the ISPs' /30s only.
  lab_in inet ip addr add "${LAB_TARGETS[0]}/32" dev lo
  lab_in inet ip addr add "${LAB_TARGETS[1]}/32" dev lo
  # Answer ARP only for addresses of the asking link, like a real upstream: an ISP router
  # without a default route must not reach the targets just by ARPing for them.
  lab_in inet sysctl -qw net.ipv4.conf.all.arp_ignore=1
  lab_in inet nft -f - <<'EOF'
table inet lab {
  chain isp1_in {}
  chain isp1_out {}
  chain isp2_in {}
  chain isp2_out {}
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    iifname "isp1" jump isp1_in
    iifname "isp2" jump isp2_in
  }
  chain out {
    type filter hook output priority -300; policy accept;
    oifname "isp1" jump isp1_out
    oifname "isp2" jump isp2_out
  }
}
EOF

  # The internet's IPv6 targets beside the IPv4 ones.
  lab_in inet ip -6 addr add "${LAB_TARGETS6[0]}/128" dev lo nodad
  lab_in inet ip -6 addr add "${LAB_TARGETS6[1]}/128" dev lo nodad

  # The LAN bridge, a switch and nothing else: no IPv6 of its own (lan and vnat carry none), and
  # no MLD snooping, so neighbour discovery is flooded as by a plain switch whatever MLD reports
  # the bridge has or has not seen.
  for host in lan vnat; do lab_in "$host" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done
  lab_in lan ip link add br0 type bridge forward_delay 0 stp_state 0 mcast_snooping 0
  lab_in lan ip link set br0 up

  for isp in isp1 isp2; do
    lab_uplink_make "$isp"
    lab_lan_port "$isp" lan0 "${LAB_GW[$isp]}/24"
    lab_in "$isp" sysctl -qw net.ipv4.ip_forward=1
    # The ISP's LAN prefix and a link-local address a test can name (fe80::1, fe80::2) beside the
    # kernel's EUI-64 one; forwarding (all: every interface, and with it no RAs accepted).
    lab_in "$isp" ip -6 addr add "${LAB_GW6[$isp]}/64" dev lan0 nodad
    lab_in "$isp" ip -6 addr add "${LAB_LL6[$isp]}/64" dev lan0 nodad
    lab_in "$isp" sysctl -qw net.ipv6.conf.all.forwarding=1
    lab_bcp38 "$isp"
    lab_in "$isp" nft -f - <<'EOF'
table ip nat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "up0" masquerade
  }
}
EOF
  done

  # The client, with a Vagrant-like NAT interface whose far end forwards nothing.
  lab_lan_port client lan0 192.168.56.200/24
  lab_in client ip -6 addr add "${LAB_CLIENT6[isp1]}/64" dev lan0 nodad
  lab_in client ip -6 addr add "${LAB_CLIENT6[isp2]}/64" dev lan0 nodad
  lab_veth client nat0 vnat nat0
  lab_in vnat ip addr add "$LAB_NAT_GW/24" dev nat0
  lab_in client ip addr add 10.0.2.15/24 dev nat0
  lab_in client ip route add default via "$LAB_NAT_GW" dev nat0
}

# The ISP router's uplink up0 to the internet, its /30 and its default route, as a PPP or DHCP
# client would set them up (again, after lab_uplink_delete): lab_uplink_make ISP
# With IPv6 the same: up0's /64, the internet's route back to the ISP's /48 through it (it goes
# with the veth), the router's IPv6 default route.
lab_uplink_make() {
  local isp=$1
  lab_veth "$isp" up0 inet "$isp"
  lab_in "$isp" ip addr add "${LAB_UP_ADDR[$isp]}/30" dev up0
  lab_in inet ip addr add "${LAB_INET_ADDR[$isp]}/30" dev "$isp"
  lab_in "$isp" ip route add default via "${LAB_INET_ADDR[$isp]}" dev up0
  lab_in "$isp" ip -6 addr add "${LAB_UP_ADDR6[$isp]}/64" dev up0 nodad
  lab_in inet ip -6 addr add "${LAB_INET_ADDR6[$isp]}/64" dev "$isp" nodad
  lab_in inet ip -6 route add "${LAB_SITE6[$isp]}" via "${LAB_UP_ADDR6[$isp]}" dev "$isp"
  lab_in "$isp" ip -6 route add default via "${LAB_INET_ADDR6[$isp]}" dev up0
}

# The uplink disappears, as ppp0 does when the session ends (both ends of the veth go).
lab_uplink_delete() { lab_in "$1" ip link del up0; }

# The uplink's route to the internet ends (lease or session over); the link stays up. Both
# families: the session carried both.
lab_uplink_unroute() {
  lab_in "$1" ip route del default
  lab_in "$1" ip -6 route del default
}
lab_uplink_reroute() {
  lab_in "$1" ip route replace default via "${LAB_INET_ADDR[$1]}" dev up0
  # The patience of lab_link_up: a caller may reroute just after setting up0 up (e2e 12).
  lab_wait_until 5 lab_in "$1" ip -6 route replace default via "${LAB_INET_ADDR6[$1]}" dev up0 2>/dev/null
}

# BCP 38 ingress filtering on ISP's router: what it forwards from the LAN must come from the
# ISP's own /48, as a real ISP filters its customer line. nftables, not a policy rule or a
# reverse-path check: IPv6 has no rp_filter sysctl, and nft's "fib saddr . iif" would tie the
# filter to the router's routes (it would pass a source the router happened to route to lan0);
# the allocation itself is what BCP 38 names. The rule counts, so a test can see the drop
# happened here. Idempotent (a test may flush the chain and call it again): lab_bcp38 ISP
lab_bcp38() {
  lab_in "$1" nft -f - <<EOF
table ip6 lab_bcp38
delete table ip6 lab_bcp38
table ip6 lab_bcp38 {
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "lan0" ip6 saddr != ${LAB_SITE6[$1]} counter drop
  }
}
EOF
}

# Another host on the LAN bridge (observer, forger), with an address in each ISP's IPv6 prefix
# too (::11, ::12, ... in the order they are added): lab_add_lan_host NAME ADDR
lab_add_lan_host() {
  local isp id
  lab_add_host "$1"
  lab_lan_port "$1" lan0 "$2/24"
  id=$(printf '%x' "$LAB_LAN_HOST6")
  LAB_LAN_HOST6=$((LAB_LAN_HOST6 + 1))
  for isp in isp1 isp2; do lab_in "$1" ip -6 addr add "${LAB_PREFIX6[$isp]}$id/64" dev lan0 nodad; done
}

# Kills everything lab_spawn started and deletes the namespaces (the sandbox does it anyway).
lab_teardown() {
  local name host
  {
    for name in "${!LAB_PIDS[@]}"; do kill -KILL "${LAB_PIDS[$name]}" || true; done
    for name in "${!LAB_PIDS[@]}"; do wait "${LAB_PIDS[$name]}" || true; done
  } 2>/dev/null
  LAB_PIDS=()
  for host in "${LAB_HOSTS[@]}"; do
    ip netns pids "$LAB_PREFIX-$host" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$LAB_PREFIX-$host" 2>/dev/null || true
  done
  LAB_HOSTS=()
}

lab_trap_cleanup() {
  trap 'lab_teardown' EXIT
  trap 'lab_teardown; trap - EXIT; exit 130' INT
  trap 'lab_teardown; trap - EXIT; exit 143' TERM
}

# ---------------------------------------------------------------------------------------------
# Faults (all made in the inet namespace or on the ISP router)

lab_link_down() { lab_in "$1" ip link set up0 down; }

# Link up, and the default routes back as a DHCP client or network manager would restore them
# (the kernel deleted them with the link; the addresses stay, keep_addr_on_down).
lab_link_up() {
  lab_in "$1" ip link set up0 up
  lab_wait_until 5 lab_in "$1" ip route replace default via "${LAB_INET_ADDR[$1]}" dev up0 2>/dev/null
  lab_wait_until 5 lab_in "$1" ip -6 route replace default via "${LAB_INET_ADDR6[$1]}" dev up0 2>/dev/null
}

lab_fault_clear() {
  lab_in inet nft flush chain inet lab "$1_in"
  lab_in inet nft flush chain inet lab "$1_out"
}

# The faults below drop IP packets of both families (the chains are "inet") but let neighbour
# discovery through, as they let ARP through (an "inet" chain never sees ARP): the link works,
# what crosses it does not, the same for IPv4 and IPv6.
lab_fault_keep_nd() {
  local chain
  for chain in "$1_in" "$1_out"; do
    lab_in inet nft add rule inet lab "$chain" icmpv6 type "{ nd-neighbor-solicit, nd-neighbor-advert }" accept
  done
}

# Drops everything from and to ISP's uplink in the internet, both families, silently (link
# stays up).
lab_blackhole() {
  lab_fault_clear "$1"
  lab_fault_keep_nd "$1"
  lab_in inet nft add rule inet lab "$1_in" drop
  lab_in inet nft add rule inet lab "$1_out" drop
}

# The same for IPv6 only: ISP's IPv6 goes silent while its IPv4 works (replaces any other fault
# on ISP; lab_fault_clear ends it): lab_blackhole6 ISP
lab_blackhole6() {
  lab_fault_clear "$1"
  lab_fault_keep_nd "$1"
  lab_in inet nft add rule inet lab "$1_in" meta nfproto ipv6 drop
  lab_in inet nft add rule inet lab "$1_out" meta nfproto ipv6 drop
}

# PCT % random loss each way on ISP's uplink, both families: lab_loss ISP PCT
lab_loss() {
  lab_fault_clear "$1"
  lab_fault_keep_nd "$1"
  lab_in inet nft add rule inet lab "$1_in" numgen random mod 100 "<" "$2" drop
  lab_in inet nft add rule inet lab "$1_out" numgen random mod 100 "<" "$2" drop
}

# A delay line (tests/tools/lab_delayline, a tun device) on everything that comes in from ISP's
# uplink, in the internet: lab_delayline_start ISP [lab_delayline OPTIONS...], e.g.
# --delay-ms 1 --step-delay-ms 150, or --glitch-ms 120 --glitch-every-ms 1500. The replies are
# not delayed, so the path's RTT grows by the delay. inet marks the IP packets that arrive on veth
# ISP (nft table "ip delay_ISP", after the fault chains) and routes the marked ones into tun
# "dl-ISP" (policy rule, table LAB_DELAY_TABLE[ISP]; the local table moves behind that rule so
# packets to inet's own addresses are steered too); the tool writes each packet back there and
# the kernel delivers it as arriving on the tun. A mark, not "iif ISP": the kernel answers ARP
# only for addresses the input route lookup (iif, no mark) finds local, so with "iif" the ISP
# router's neighbour entry for inet fails once it needs confirming (about 20 s in) and its
# uplink dies. lab_delayline_stop ISP removes all of it. IPv4 only for now: the mark is set in
# an "ip" table, so IPv6 from ISP passes undelayed.
declare -A LAB_DELAY_TABLE=([isp1]=101 [isp2]=102)
LAB_DELAY_PREF=90         # the steering rules' preference; the local table moves to 100
lab_delayline_start() {
  local isp=$1 dev=dl-$1 table=${LAB_DELAY_TABLE[$1]}
  shift
  [[ -x $LAB_BIN_DIR/lab_delayline ]] || lab_die "$LAB_BIN_DIR/lab_delayline not built"
  lab_in inet ip tuntap add dev "$dev" mode tun
  lab_in inet ip link set "$dev" up
  # Re-injected packets come from the ISP's address on a link that does not route back to it.
  lab_in inet sysctl -n net.ipv4.conf.all.rp_filter >"$LAB_DIR/delayline-$isp.rp_filter"
  lab_in inet sysctl -qw net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$dev.rp_filter=0"
  # inet forwards nothing, but what comes in on veth ISP is now routed out of the tun.
  lab_in inet sysctl -qw "net.ipv4.conf.$isp.forwarding=1"
  lab_in inet ip route add default dev "$dev" table "$table"
  : >"$LAB_DIR/delayline-$isp.log"
  lab_spawn "delayline-$isp" inet "$LAB_BIN_DIR/lab_delayline" --dev "$dev" "$@"
  lab_wait_until 5 grep -q "ready" "$LAB_DIR/delayline-$isp.log" ||
    lab_die "lab_delayline did not start: $(cat "$LAB_DIR/delayline-$isp.log")"
  if ! lab_in inet ip rule show pref 100 | lab_matches "lookup local"; then
    lab_in inet ip rule add pref 100 lookup local
    lab_in inet ip rule del pref 0 lookup local
  fi
  lab_in inet nft -f - <<EOF
table ip delay_$isp {
  chain pre {
    type filter hook prerouting priority -200; policy accept;
    iifname "$isp" meta mark set $table
  }
}
EOF
  lab_in inet ip rule add pref "$LAB_DELAY_PREF" fwmark "$table" lookup "$table"
}

# Signals ISP's delay line: USR1 to its --step-delay-ms, USR2 back to --delay-ms.
lab_delayline_signal() { kill -s "$2" "$(lab_pid "delayline-$1")"; }

# Ends ISP's delay line and its steering; prints the tool's last line (its counters).
lab_delayline_stop() {
  local isp=$1 dev=dl-$1 table=${LAB_DELAY_TABLE[$1]}
  lab_in inet nft delete table ip "delay_$isp" 2>/dev/null || true
  lab_in inet ip rule del pref "$LAB_DELAY_PREF" fwmark "$table" lookup "$table" 2>/dev/null || true
  if ! lab_in inet ip rule show | lab_matches "^$LAB_DELAY_PREF:"; then
    lab_in inet ip rule add pref 0 lookup local 2>/dev/null || true
    lab_in inet ip rule del pref 100 lookup local 2>/dev/null || true
  fi
  lab_stop "delayline-$isp" TERM
  tail -n 1 "$LAB_DIR/delayline-$isp.log"
  lab_in inet ip route flush table "$table" 2>/dev/null || true
  lab_in inet ip tuntap del dev "$dev" mode tun 2>/dev/null || true
  lab_in inet sysctl -qw "net.ipv4.conf.$isp.forwarding=0"
  if [[ -s $LAB_DIR/delayline-$isp.rp_filter ]]; then
    lab_in inet sysctl -qw "net.ipv4.conf.all.rp_filter=$(cat "$LAB_DIR/delayline-$isp.rp_filter")"
  fi
}

# ---------------------------------------------------------------------------------------------
# Daemons

# Writes a CLI11 config file from KEY=VALUE words; keys in LIST_KEYS become arrays.
lab_write_conf() {
  local file=$1
  shift
  local -A values=() order=()
  local kv key val keys=() n=0
  for kv in "$@"; do
    key=${kv%%=*}
    val=${kv#*=}
    [[ $val =~ ^[0-9]+$ || $val == true || $val == false ]] || val="\"$val\""
    if [[ -z "${order[$key]:-}" ]]; then
      order[$key]=$((++n))
      keys+=("$key")
      values[$key]=$val
    else
      values[$key]+=", $val"
    fi
  done
  {
    echo "# written by lab/lib.sh"
    for key in "${keys[@]}"; do
      case $key in
        target | isp | replace-gateway | broadcast | dns) echo "$key = [${values[$key]}]" ;;
        *) echo "$key = ${values[$key]}" ;;
      esac
    done
  } >"$file"
}

# KEY=VALUE words to --KEY VALUE options (flags: VALUE true).
lab_conf_to_args() {
  local kv
  for kv in "$@"; do
    if [[ ${kv#*=} == true ]]; then
      printf '%s\0' "--${kv%%=*}"
    else
      printf '%s\0' "--${kv%%=*}" "${kv#*=}"
    fi
  done
}

lab_probed_conf() {
  local isp=$1 profile=${2:-$LAB_PROFILE}
  local conf=(name="$isp" uplink=up0 lan=lan0 target="${LAB_TARGETS[0]}" target="${LAB_TARGETS[1]}"
    quorum=1)
  if [[ $LAB_DUAL_STACK == 1 ]]; then
    conf+=(target="${LAB_TARGETS6[0]}" target="${LAB_TARGETS6[1]}" prefix6="${LAB_PREFIX6[$isp]}/64")
  fi
  case $profile in
    fast) conf+=(interval=50ms down-window=100ms down-after=4 heartbeat=50ms) ;;
    *) ;;  # the daemons' own defaults (docs/timing.md)
  esac
  conf+=(loss-window=30s port=1500 state-dir="$LAB_DIR/state-$isp" metrics-file="$LAB_DIR/$isp.prom"
    log-level="${LAB_LOG_LEVEL:-info}")
  printf '%s\n' "${conf[@]}"
}

lab_failoverd_conf() {
  local profile=${1:-$LAB_PROFILE}
  local conf=(isp="isp1=${LAB_GW[isp1]}" isp="isp2=${LAB_GW[isp2]}" replace-gateway="$LAB_NAT_GW")
  if [[ $LAB_DUAL_STACK == 1 ]]; then
    conf=(isp="isp1=${LAB_GW[isp1]},gateway6=${LAB_GW6[isp1]}"
      isp="isp2=${LAB_GW[isp2]},gateway6=${LAB_LL6[isp2]}%lan0" replace-gateway="$LAB_NAT_GW")
  fi
  case $profile in
    fast) conf+=(failback-after=1s) ;;
    *) conf+=(failback-after=3s) ;;
  esac
  conf+=(max-loss=20 when-all-down="${LAB_WHEN_ALL_DOWN:-keep}" startup-grace=1500ms
    status-file="$LAB_DIR/failoverd-status.json" state-dir="$LAB_DIR/state-client" table=main metric=0
    metrics-file="$LAB_DIR/failoverd.prom" log-level="${LAB_LOG_LEVEL:-info}")
  printf '%s\n' "${conf[@]}"
}

# Starts a daemon from KEY=VALUE words: as --config FILE, or as options (LAB_CONFIG_MODE=cli).
lab_start_daemon() {
  local name=$1 host=$2 bin=$3
  shift 3
  local conf=() args=()
  mapfile -t conf
  if [[ $LAB_CONFIG_MODE == cli ]]; then
    mapfile -d '' -t args < <(lab_conf_to_args "${conf[@]}")
  else
    lab_write_conf "$LAB_DIR/$name.conf" "${conf[@]}"
    args=(--config "$LAB_DIR/$name.conf")
  fi
  echo "# $(date +%T.%3N) start: $bin ${args[*]} $*" >>"$LAB_DIR/$name.log"
  lab_spawn "$name" "$host" "$LAB_BIN_DIR/$bin" "${args[@]}" "$@"
}

# lab_start_probed ISP [PROFILE]
lab_start_probed() {
  lab_start_daemon "$1" "$1" ispprobed < <(lab_probed_conf "$1" "${2:-$LAB_PROFILE}")
}

# lab_start_failoverd [PROFILE [EXTRA OPTIONS...]]
lab_start_failoverd() {
  local profile=${1:-$LAB_PROFILE}
  shift || true
  lab_start_daemon failoverd client failoverd "$@" < <(lab_failoverd_conf "$profile")
}

# Everything for a test: topology, both ispprobed, failoverd; waits for the route via isp1.
lab_up_with_daemons() {
  lab_topology_up
  lab_start_probed isp1
  lab_start_probed isp2
  lab_start_failoverd "$LAB_PROFILE"
  if ! lab_wait_until 15 lab_route_is "${LAB_GW[isp1]}"; then
    lab_log "no default route via isp1 15 s after start; route: $(lab_client_gw)"
    lab_dump_logs
    return 1
  fi
  lab_log "route via isp1 (${LAB_GW[isp1]}); daemons up"
}

lab_dump_logs() {
  local f
  for f in "$LAB_DIR"/isp1.log "$LAB_DIR"/isp2.log "$LAB_DIR"/failoverd.log; do
    [[ -f $f ]] || continue
    echo "----- last lines of $f" >&2
    tail -n 25 "$f" >&2
  done
}

# failoverd's status (JSON).
lab_status_json() {
  "$LAB_BIN_DIR/failoverd" status --status-file "$LAB_DIR/failoverd-status.json" --json
}

lab_status_text() {
  "$LAB_BIN_DIR/failoverd" status --status-file "$LAB_DIR/failoverd-status.json"
}

# One value from the status JSON: lab_status_get JQ_EXPRESSION
lab_status_get() {
  lab_status_json 2>/dev/null | jq -r "$1" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# Observation

# Gateways of the client's default routes (main table), space separated.
lab_client_gw() {
  lab_in client ip -4 route show default |
    awk '{ for (i = 1; i < NF; i++) if ($i == "via") { printf "%s%s", sep, $(i + 1); sep = " " } }
         END { print "" }'
}

# True when the client has exactly one default route, via GW.
lab_route_is() { [[ "$(lab_client_gw)" == "$1" ]]; }

# Gateways of the client's IPv6 default routes (main table), space separated; a link-local one
# as it is written (fe80::1), its device left out.
lab_client_gw6() {
  lab_in client ip -6 route show default |
    awk '{ for (i = 1; i < NF; i++) if ($i == "via") { printf "%s%s", sep, $(i + 1); sep = " " } }
         END { print "" }'
}

# The IPv6 default route a router advertisement from ISP's router would have made the client's
# kernel install: via the router's link-local address, proto ra, metric 1024. The lab runs no
# radvd (and accept_ra=0 everywhere, so nothing but the tests writes the tables); this is that
# route, made by hand. A second router's needs another METRIC: the kernel keeps two routers'
# RA routes side by side at 1024 (flags ip cannot set), but refuses a second "ip route add" at
# the same metric, and "append" would make one multipath route instead: lab_ra_route ISP [METRIC]
lab_ra_route() {
  lab_in client ip -6 route add default via "${LAB_LL6[$1]}" dev lan0 proto ra metric "${2:-1024}"
}

lab_route_not() { [[ "$(lab_client_gw)" != *"$1"* ]]; }

# The client's IPv6 default route is GATEWAY (and, with SRC, carries that preferred source):
# lab_route6_is GATEWAY [SRC]
lab_route6_is() {
  local line
  line=$(lab_in client ip -6 route show default)
  [[ "$(lab_client_gw6)" == "$1" ]] || return 1
  [[ -z "${2:-}" || "$line" == *" src $2 "* || "$line" == *" src $2" ]]
}

# Does the client reach the internet now? (3 pings, 200 ms apart, one reply is enough)
lab_client_reaches() {
  lab_in client ping -n -q -c 3 -i 0.2 -W 1 "${1:-$LAB_PING_TARGET}" >/dev/null 2>&1
}

# A 10 ms ping from the client in the background, log $LAB_DIR/NAME.log (ping -D lines).
lab_ping_start() {
  local name=${1:-ping}
  : >"$LAB_DIR/$name.log"
  lab_spawn "$name" client ping -n -D -i "${2:-0.01}" "$LAB_PING_TARGET"
}

lab_ping_stop() { lab_stop "${1:-ping}" INT; }

# Largest gap between consecutive replies in a ping -D log, within [FROM, TO] (epoch seconds):
# prints "GAP_S GAP_START REPLIES"; a window without any reply after FROM counts to TO.
lab_ping_gap() {
  local file=$1 from=${2:-0} to=${3:-9999999999}
  awk '/bytes from/ { print substr($1, 2, length($1) - 2) }' "$file" | lab_times_gap "$from" "$to"
}

# Largest gap between consecutive times (epoch seconds, one per line on stdin, in order) within
# [FROM, TO]: "GAP_S GAP_START COUNT"; no time in the window counts from FROM to TO.
lab_times_gap() {
  awk -v from="$1" -v to="$2" '
    {
      t = $1 + 0
      if (t < from || t > to) next
      n++
      if (prev != "" && t - prev > max) { max = t - prev; at = prev }
      prev = t
    }
    END {
      if (n == 0) { printf "%.3f %.6f 0\n", to - from, from; exit }
      printf "%.3f %.6f %d\n", max, at, n
    }'
}

# Lost echo requests in a ping -D log: sequence numbers missing between the first and last reply.
lab_ping_lost() {
  awk '/bytes from/ {
         for (i = 1; i <= NF; i++) if ($i ~ /^icmp_seq=/) { s = substr($i, 10) + 0 }
         if (!(s in seen)) { seen[s] = 1; n++ }
         if (first == "" || s < first) first = s
         if (s > last) last = s
       }
       END { if (n == 0) print -1; else print last - first + 1 - n }' "$1"
}

# Records every status datagram the client receives (tcpdump on its lan0).
lab_watch_datagrams_start() {
  local name=${1:-datagrams}
  : >"$LAB_DIR/$name.raw"
  ip netns exec "$LAB_PREFIX-client" tcpdump -tt -l -n -A -i lan0 udp port 1500 \
    >"$LAB_DIR/$name.raw" 2>"$LAB_DIR/$name.err" </dev/null &
  LAB_PIDS[$name]=$!
  lab_wait_until 5 grep -q "listening on" "$LAB_DIR/$name.err" ||
    lab_log "tcpdump did not start: $(cat "$LAB_DIR/$name.err")"
}

lab_watch_datagrams_stop() { lab_stop "${1:-datagrams}" INT; }

# The recorded datagrams, one a line: TIME SOURCE NAME STATE REASON SEQ
lab_datagrams() {
  awk '
    function emit() {
      if (ts != "") print ts, src, name, state, reason, seq
      ts = ""; name = "-"; state = "-"; reason = "-"; seq = "-"
    }
    /^[0-9]+\.[0-9]+ IP / { emit(); ts = $1; src = $3; sub(/\.[0-9]+$/, "", src); next }
    /^name=/ { name = substr($0, 6) }
    /^state=/ { state = substr($0, 7) }
    /^reason=/ { reason = substr($0, 8) }
    /^seq=/ { seq = substr($0, 5) }
    END { emit() }' "$LAB_DIR/${1:-datagrams}.raw"
}

# Time of the first datagram from ISP with STATE at or after FROM: lab_first_datagram ISP STATE FROM
lab_first_datagram() {
  lab_datagrams "${4:-datagrams}" |
    awk -v isp="$1" -v st="$2" -v from="$3" '!found && $3 == isp && $4 == st && $1 >= from { print $1; found = 1 }
      END { if (!found) print "-" }'
}

# RTTs ISP's datagrams reported at or after FROM, one a line: TIME RTT_LAST_US RTT_AVG_US ("-"
# where absent): lab_datagram_rtts ISP FROM [NAME]
lab_datagram_rtts() {
  awk -v isp="$1" -v from="$2" '
    function emit() {
      if (ts != "" && name == isp && ts >= from) print ts, last, avg
      ts = ""; name = ""; last = "-"; avg = "-"
    }
    /^[0-9]+\.[0-9]+ IP / { emit(); ts = $1; next }
    /^name=/ { name = substr($0, 6) }
    /^rtt_last_us=/ { last = substr($0, 13) }
    /^rtt_avg_us=/ { avg = substr($0, 12) }
    END { emit() }' "$LAB_DIR/${3:-datagrams}.raw"
}

# True when a datagram from ISP at or after FROM reported rtt_last_us of at least US.
lab_datagram_rtt_reached() {
  lab_datagram_rtts "$1" "$2" | awk -v us="$3" '$2 != "-" && $2 + 0 >= us { f = 1 } END { exit !f }'
}

# Samples the client's route and failoverd's view of isp1 every INTERVAL s (default 0.5) for
# SECONDS, one line a sample appended to LOG: lab_observe SECONDS LOG [INTERVAL]
lab_observe() {
  local end=$((SECONDS + $1))
  while ((SECONDS < end)); do
    echo "$(date +%T.%1N) route=$(lab_client_gw) $(lab_status_get '"switches=\(.switches) active=\(.active) " + (.isps[] | select(.name == "isp1") | "isp1=\(.state) isp1_loss=\(.loss_pct) isp1_rtt_ms=\(.rtt_ms)")')" >>"$2"
    sleep "${3:-0.5}"
  done
}

# True when every sample of a lab_observe LOG shows the route via GW: lab_samples_on GW LOG
lab_samples_on() { [[ -s $2 ]] && ! grep -v "route=$1 " "$2" >/dev/null; }

# Records the client's route changes (ip -ts monitor route) of one family, IPv4 unless FAMILY
# is -6: lab_watch_routes_start [NAME [FAMILY]]
lab_watch_routes_start() {
  local name=${1:-routes} family=${2:--4}
  : >"$LAB_DIR/$name.log"
  lab_spawn "$name" client ip "$family" -ts monitor route
  sleep 0.2
}

lab_watch_routes_stop() { lab_stop "${1:-routes}" TERM; }

# The client's default-route events: TIME (epoch) then the route line. Main table only: the
# per-ISP tables that failoverd keeps for sticky connections (issue 14; "table N" in the line)
# change with each ISP's health, not when the traffic moves, and a failback read from them
# would come --failback-after too early. IPv4 only: a log of both families (ip monitor without
# -4) has its IPv6 routes (a gateway with ':', or the "pref" only IPv6 routes print) left out.
lab_route_events() {
  awk '/default/ && !/ table / && !/ via [0-9a-fA-F]*:/ && !/ pref / {
         ts = substr($1, 2, length($1) - 2)
         split(ts, p, /[-T:]/)
         sec = mktime(p[1] " " p[2] " " p[3] " " p[4] " " p[5] " " int(p[6]))
         frac = p[6] - int(p[6])
         $1 = ""
         printf "%.6f%s\n", sec + frac, $0
       }' "$LAB_DIR/${1:-routes}.log"
}

# Time of the first default route added via GW at or after FROM: lab_first_route GW FROM
lab_first_route() {
  lab_route_events "${3:-routes}" |
    awk -v gw="$1" -v from="$2" '!found && $1 >= from && $2 != "Deleted" && $0 ~ ("via " gw " ") {
      print $1; found = 1 } END { if (!found) print "-" }'
}

# Number of default-route events (adds, replaces, deletes) at or after FROM.
lab_route_event_count() {
  lab_route_events "${2:-routes}" | awk -v from="${1:-0}" '$1 >= from { n++ } END { print n + 0 }'
}

# CPU seconds (user+system, children reaped included) and peak RSS (kB) of PIDs, summed.
lab_proc_usage() {
  local pid hz cpu=0 rss=0 t r
  hz=$(getconf CLK_TCK)
  for pid in "$@"; do
    [[ -r /proc/$pid/stat ]] || continue
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$pid/stat") || continue
    r=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
    cpu=$((cpu + t))
    rss=$((rss + ${r:-0}))
  done
  awk -v t="$cpu" -v hz="$hz" -v r="$rss" 'BEGIN { printf "%.2f %d\n", t / hz, r }'
}

# ---------------------------------------------------------------------------------------------
# Test reporting

lab_check() {
  local what=$1
  shift
  if "$@"; then
    echo "  ok    $what"
  else
    echo "  FAIL  $what"
    LAB_FAILURES=$((LAB_FAILURES + 1))
  fi
}

# Waits up to TIMEOUT s for "$@"; prints how long it took.
lab_check_within() {
  local what=$1 timeout=$2 start
  shift 2
  start=$(lab_now)
  if lab_wait_until "$timeout" "$@"; then
    echo "  ok    $what (after $(lab_diff "$start" "$(lab_now)") s)"
  else
    echo "  FAIL  $what (not within $timeout s)"
    LAB_FAILURES=$((LAB_FAILURES + 1))
  fi
}

lab_finish() {
  local name=$1
  if ((LAB_FAILURES == 0)); then
    echo "PASS: $name"
    exit 0
  fi
  echo "FAIL: $name ($LAB_FAILURES failed checks; logs in $LAB_DIR)"
  lab_dump_logs
  exit 1
}

# ---------------------------------------------------------------------------------------------
# TCP connections across a switch (tests/tools/lab_tcp)

LAB_TCP_PORT=7000
# The echo server on the internet host, on TARGET (default LAB_PING_TARGET; an IPv6 one such as
# LAB_PING_TARGET6 beside it gets another NAME): lab_tcp_serve [TARGET [NAME]]
lab_tcp_serve() {
  local target=${1:-$LAB_PING_TARGET} name=${2:-tcp-server}
  [[ -x $LAB_BIN_DIR/lab_tcp ]] || lab_die "$LAB_BIN_DIR/lab_tcp not built"
  lab_spawn "$name" inet "$LAB_BIN_DIR/lab_tcp" serve "$target" "$LAB_TCP_PORT"
  lab_wait_until 5 grep -q listening "$LAB_DIR/$name.log"
}
# A client connection in the background, its events in $LAB_DIR/NAME.log, to the server on
# LAB_TCP_TARGET (default LAB_PING_TARGET): lab_tcp_start NAME stream|wait [ARGS...]
lab_tcp_start() {
  local name=$1 mode=$2
  shift 2
  lab_spawn "$name" client "$LAB_BIN_DIR/lab_tcp" "$mode" "${LAB_TCP_TARGET:-$LAB_PING_TARGET}" \
    "$LAB_TCP_PORT" "$@"
}
# The address the server saw for a new connection from the client now (IPv4: the masquerade
# address; IPv6, not masqueraded: the client's source). The server: as lab_tcp_start.
lab_tcp_peer() {
  lab_in client "$LAB_BIN_DIR/lab_tcp" peer "${LAB_TCP_TARGET:-$LAB_PING_TARGET}" "$LAB_TCP_PORT" \
    2>/dev/null | sed -n 's/.* connected peer=//p'
}
# Lines of a lab_tcp log with EVENT (connected, echo, error, closed) at or after FROM: TIME REST
lab_tcp_events() {
  awk -v e="$2" -v from="${3:-0}" '$2 == e && $1 >= from' "$LAB_DIR/$1.log"
}
# A lab_tcp log has a connection seen by the server from PEER at or after FROM:
# lab_tcp_connected_via NAME PEER [FROM]
lab_tcp_connected_via() { lab_tcp_events "$1" connected "${3:-0}" | lab_matches "peer=$2\$"; }
# The largest gap between echoes of a stream log from FROM to TO, and their number: GAP N
lab_tcp_gap() {
  awk -v from="$2" -v to="$3" '$2 == "echo" && $1 >= from && $1 <= to {
      if (n++) { g = $1 - last; if (g > max) max = g }; last = $1 }
    END { printf "%.3f %d\n", max, n }' "$LAB_DIR/$1.log"
}
# Which ISP a masquerade address belongs to: lab_isp_of_peer ADDR
lab_isp_of_peer() {
  local isp
  for isp in isp1 isp2; do [[ $1 == "${LAB_UP_ADDR[$isp]}" ]] && echo "$isp" && return; done
  echo "unknown($1)"
}

# ---------------------------------------------------------------------------------------------
# New connections, one UDP flow each (tests/tools/lab_flows): which source the kernel picks
# now, and for how long new connections went unanswered (issue 13's acceptance figure)

LAB_FLOWS_PORT=7100
# The echo server on the internet host, both families (started once): lab_flows_serve
lab_flows_serve() {
  lab_alive flows-server && return 0
  [[ -x $LAB_BIN_DIR/lab_flows ]] || lab_die "$LAB_BIN_DIR/lab_flows not built"
  lab_spawn flows-server inet "$LAB_BIN_DIR/lab_flows" serve "$LAB_FLOWS_PORT"
  lab_wait_until 5 grep -q listening "$LAB_DIR/flows-server.log" ||
    lab_die "lab_flows serve did not start: $(cat "$LAB_DIR/flows-server.log")"
}
# A new flow from the client every INTERVAL_MS (default 20) to ADDR (default the IPv6 target)
# in the background until lab_flows_stop, its lines in $LAB_DIR/NAME.log; starts the server if
# needed: lab_flows_start NAME [ADDR [INTERVAL_MS]]
lab_flows_start() {
  local name=$1 addr=${2:-$LAB_PING_TARGET6} interval=${3:-20}
  lab_flows_serve
  : >"$LAB_DIR/$name.log"
  lab_spawn "$name" client "$LAB_BIN_DIR/lab_flows" stream "$addr" "$LAB_FLOWS_PORT" "$interval" 0
}
# Ends a stream (SIGINT: its open flows are settled, then its summary line is written).
lab_flows_stop() { lab_stop "$1" INT; }
# Largest gap between the sending of consecutive answered flows of a stream log within
# [FROM, TO] (epoch seconds), as lab_ping_gap: "GAP_S GAP_START ANSWERED"; a window without any
# answered flow counts from FROM to TO: lab_flows_gap NAME [FROM [TO]]
lab_flows_gap() {
  awk '$4 == "ok" { print $1 }' "$LAB_DIR/$1.log" | lab_times_gap "${2:-0}" "${3:-9999999999}"
}
# Answered flows of a stream log sent at or after FROM: lab_flows_answered NAME [FROM]
lab_flows_answered() { awk -v from="${2:-0}" '$4 == "ok" && $1 >= from { n++ } END { print n + 0 }' "$LAB_DIR/$1.log"; }
# The source addresses of the answered flows sent at or after FROM, each once, in the order of
# first use, space separated: lab_flows_sources_after NAME FROM
lab_flows_sources_after() {
  awk -v from="$2" '$4 == "ok" && $1 >= from && !seen[$3]++ { printf "%s%s", sep, $3; sep = " " }
    END { print "" }' "$LAB_DIR/$1.log"
}

# ---------------------------------------------------------------------------------------------
# e2e tests

# Seconds of --failback-after in the current profile.
lab_failback_s() { [[ $LAB_PROFILE == fast ]] && echo 1 || echo 3; }

# The lab with a shared key on both routers and the client ($LAB_KEY, mode 0600); reports the
# route via isp1 as a check. For e2e tests that start like lab_e2e_begin but signed:
# lab_require_tools, lab_require_daemons and lab_trap_cleanup first.
lab_up_with_key() {
  lab_topology_up
  LAB_KEY=$LAB_DIR/ispfailover.key
  (umask 077 && head -c 32 /dev/urandom | base64 >"$LAB_KEY")
  lab_start_daemon isp1 isp1 ispprobed --key-file "$LAB_KEY" < <(lab_probed_conf isp1 "$LAB_PROFILE")
  lab_start_daemon isp2 isp2 ispprobed --key-file "$LAB_KEY" < <(lab_probed_conf isp2 "$LAB_PROFILE")
  lab_start_failoverd "$LAB_PROFILE" --key-file "$LAB_KEY"
  lab_check_within "signed reports accepted: route via isp1" 15 lab_route_is "${LAB_GW[isp1]}"
}

# UDP datagrams the client's kernel dropped for a full socket buffer, since boot of its netns.
lab_rcvbuf_errors() {
  # shellcheck disable=SC2016  # awk's own $, not the shell's
  lab_in client awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) col[$i] = i; h = 1 } else print $col["RcvbufErrors"] }' /proc/net/snmp
}

# The total a udp_flood run reported in FILE (0 if none).
lab_flood_sent() { sed -n 's/.*total=\([0-9]*\).*/\1/p' "$1" | grep . || echo 0; }

# Whether failoverd's counter (read by the function COUNTER) and the kernel's receive-buffer
# overflows have grown by SENT since BEFORE and OVERFLOW_BEFORE: every flooded datagram was
# either counted or dropped by the kernel. failoverd publishes its counters once a second, so
# callers poll this. lab_flood_accounted COUNTER BEFORE OVERFLOW_BEFORE SENT
lab_flood_accounted() {
  local counter=$1 before=$2 overflow_before=$3 sent=$4 d o
  d=$("$counter") o=$(lab_rcvbuf_errors)
  [[ $d =~ ^[0-9]+$ && $o =~ ^[0-9]+$ ]] && (((d - before) + (o - overflow_before) >= sent))
}

# Common start of an e2e test (after lab_enter_sandbox): checks, cleanup trap, the lab with
# both ispprobed and failoverd, route via isp1. lab_e2e_begin NAME "what it checks"
lab_e2e_begin() {
  LAB_TEST_NAME=$1
  lab_require_tools jq
  lab_require_daemons
  lab_trap_cleanup
  echo "== $1: $2 (profile $LAB_PROFILE, logs in $LAB_DIR)"
  lab_up_with_daemons || { echo "FAIL: $1: the lab did not converge on isp1"; exit 1; }
}

# The status JSON's EXPR (jq) is VALUE now: lab_status_is EXPR VALUE
lab_status_is() { [[ "$(lab_status_get "$1")" == "$2" ]]; }

# failoverd's view of ISP is STATE (up, degraded, down, stale): lab_isp_state_is ISP STATE
lab_isp_state_is() { lab_status_is ".isps[] | select(.name == \"$1\") | .state" "$2"; }

# The status JSON's active ISP is NAME.
lab_active_is() { [[ "$(lab_status_get .active)" == "$1" ]]; }

# Numeric comparisons of decimals: lab_le A B (A <= B), lab_ge A B.
lab_le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "-" && a + 0 <= b + 0) }'; }
lab_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "-" && a + 0 >= b + 0) }'; }

# ---------------------------------------------------------------------------------------------
# Replay and clock helpers (e2e 13, 14)

# Records HOST's IFACE to $LAB_DIR/NAME.pcap (tcpdump -w, each packet written at once):
# lab_capture_start NAME HOST IFACE FILTER...
lab_capture_start() {
  local name=$1 host=$2 ifname=$3
  shift 3
  # -Z root: tcpdump would otherwise create the file as user tcpdump, in a directory of root's.
  lab_spawn "$name" "$host" tcpdump -n -U --immediate-mode -Z root -i "$ifname" \
    -w "$LAB_DIR/$name.pcap" "$@"
  lab_wait_until 5 grep -q "listening on" "$LAB_DIR/$name.log" ||
    lab_die "tcpdump did not start: $(cat "$LAB_DIR/$name.log")"
}

lab_capture_stop() { lab_stop "$1" INT; }

# Packets of a pcap file that match a tcpdump FILTER: lab_pcap_count FILE FILTER
lab_pcap_count() { tcpdump -n -r "$1" "$2" 2>/dev/null | grep -c . || true; }

# Status datagrams of a pcap file whose payload has the line LINE (state=down, name=isp1, ...):
# lab_pcap_count_line FILE FILTER LINE
lab_pcap_count_line() { tcpdump -n -A -r "$1" "$2" 2>/dev/null | grep -c "^$3\$" || true; }

# The time_ms field of the newest status datagram in a pcap file that matches FILTER ("-" if none).
lab_pcap_last_time_ms() {
  tcpdump -n -A -r "$1" "$2" 2>/dev/null | awk -F= '/^time_ms=/ { t = $2 } END { print t ? t : "-" }'
}

# libfaketime's library, or nothing (Debian package faketime / libfaketime).
lab_faketime_lib() {
  local lib
  for lib in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
    [[ -r $lib ]] && { echo "$lib"; return 0; }
  done
  return 1
}

# Skips (77) when libfaketime is missing.
lab_require_faketime() {
  lab_faketime_lib >/dev/null || {
    echo "SKIP: libfaketime not found (install the Debian package faketime)" >&2
    exit 77
  }
}

# ispprobed with its wall clock OFFSET away (libfaketime syntax: +2h, -90m; the monotonic clock
# is left alone): lab_start_probed_at_offset ISP OFFSET [OPTIONS...]
lab_start_probed_at_offset() {
  local isp=$1 offset=$2 lib
  shift 2
  lib=$(lab_faketime_lib) || lab_die "libfaketime not found"
  # lab_start_daemon runs $LAB_BIN_DIR/ispprobed: a wrapper of that name adds libfaketime.
  mkdir -p "$LAB_DIR/faketime-bin"
  cat >"$LAB_DIR/faketime-bin/ispprobed" <<WRAPPER
#!/bin/sh
exec env LD_PRELOAD='$lib' FAKETIME='$offset' DONT_FAKE_MONOTONIC=1 \\
  '$LAB_BIN_DIR/ispprobed' "\$@"
WRAPPER
  chmod 755 "$LAB_DIR/faketime-bin/ispprobed"
  LAB_BIN_DIR=$LAB_DIR/faketime-bin lab_start_daemon "$isp" "$isp" ispprobed "$@" \
    < <(lab_probed_conf "$isp" "$LAB_PROFILE")
}

# ---------------------------------------------------------------------------------------------
# Timeline pictures (lab.sh demo, bench/failover): the logs of a run as TSV files, drawn by
# lab/timeline.gp with gnuplot. Times are seconds from the fault.

# From the logs in $LAB_DIR (ping.log; datagrams.raw and routes.log for ours, vrrp-events.log for
# keepalived) to OUT_DIR/{ping,bands,rtt-isp1,rtt-isp2,active}.tsv:
# lab_timeline_data OUT_DIR T_FAULT [FIRST_ISP [MAX_LOSS]]
#   ping.tsv      T RTT_MS, a blank line where no reply came for 50 ms (gnuplot breaks the line)
#   gaps.tsv      T DURATION_S of each such gap; gapmax.tsv the largest
#   bands.tsv     T_FROM T_TO ROW STATE: ISP state segments, row 2 isp1, row 1 isp2; states
#                 up/degraded/down (ours) or MASTER/BACKUP/FAULT (keepalived)
#   rtt-ISP.tsv   T RTT_MS LOSS_PCT of each datagram from ISP with an RTT (ours), blank lines
#                 where it had none
#   active.tsv    T ROW: the ISP that carries the client's traffic (route, or VRRP master);
#                 FIRST_ISP before the first change (the runs start with it), 0 for none
# degraded mirrors failoverd's rule: loss above MAX_LOSS (default 20, the lab's --max-loss) sets
# it, loss under half of it clears it.
lab_timeline_data() {
  local out=$1 t0=$2 first=${3:-isp1} max_loss=${4:-20} t_end
  mkdir -p "$out"
  # The end of the run: the last ping line (the windows of every series end there).
  t_end=$(awk '/^\[[0-9.]+\]/ { t = substr($1, 2, length($1) - 2) } END { printf "%.6f\n", t }' "$LAB_DIR/ping.log")
  : >"$out/gaps.tsv"
  : >"$out/gapmax.tsv"
  # A gap is 50 ms without a reply: four lost replies of the lab's 10 ms ping (its own jitter
  # makes 30 to 40 ms now and then, without any fault).
  awk -v t0="$t0" -v out="$out" '/bytes from/ {
      t = substr($1, 2, length($1) - 2) - t0
      for (i = 1; i <= NF; i++) if ($i ~ /^time=/) rtt = substr($i, 6)
      if (n++ && t - prev > 0.05) {
        print ""
        printf "%.4f %.4f\n", prev, t - prev >(out "/gaps.tsv")
        if (t - prev > max) { max = t - prev; at = prev }
      }
      printf "%.4f %s\n", t, rtt; prev = t
    }
    END { if (max) printf "%.4f %.4f\n", at, max >(out "/gapmax.tsv") }' "$LAB_DIR/ping.log" >"$out/ping.tsv"
  : >"$out/bands.tsv"
  : >"$out/rtt-isp1.tsv"
  : >"$out/rtt-isp2.tsv"
  if [[ -s $LAB_DIR/datagrams.raw ]]; then
    # One line a datagram: TIME NAME STATE HEARTBEAT_MS RTT_US LOSS_PCT. A segment lasts until
    # the next datagram, at most 3 heartbeats (then failoverd calls the ISP stale: left blank).
    awk '
      function emit() {
        if (ts != "" && name != "") print ts, name, state, hb, rtt, loss
        ts = ""; name = ""; state = "-"; hb = 1000; rtt = "-"; loss = 0
      }
      /^[0-9]+\.[0-9]+ IP / { emit(); ts = $1; next }
      /^name=/ { name = substr($0, 6) }
      /^state=/ { state = substr($0, 7) }
      /^heartbeat_ms=/ { hb = substr($0, 14) }
      /^rtt_last_us=/ { rtt = substr($0, 13) }
      /^loss_pct=/ { loss = substr($0, 10) }
      END { emit() }' "$LAB_DIR/datagrams.raw" |
      awk -v t0="$t0" -v end="$t_end" -v max="$max_loss" -v out="$out" '
        # A segment ends at the next change of state, or 3 heartbeats after its last datagram.
        function close_seg(isp, upto, lim) {
          if (!(isp in from)) return
          lim = last[isp] + 3 * hbs[isp] / 1000
          if (lim > end) lim = end
          printf "%.4f %.4f %d %s\n", from[isp] - t0, (upto < lim ? upto : lim) - t0,
            (isp == "isp1" ? 2 : 1), st[isp] >(out "/bands.tsv")
          delete from[isp]
        }
        $2 == "isp1" || $2 == "isp2" {
          isp = $2
          if ($3 == "up" && $6 + 0 > max) deg[isp] = 1
          else if ($3 == "up" && $6 * 2 < max) deg[isp] = 0
          s = ($3 == "up") ? (deg[isp] ? "degraded" : "up") : "down"
          if (!(isp in from) || s != st[isp] || $1 - last[isp] > 3 * hbs[isp] / 1000) {
            close_seg(isp, $1); from[isp] = $1; st[isp] = s
          }
          hbs[isp] = $4; last[isp] = $1
          # No RTT while down (rtt_last_us is then the last answer before): a blank line, so the
          # plotted line breaks there.
          if ($5 != "-" && $3 == "up") { printf "%.4f %.3f %s\n", $1 - t0, $5 / 1000, $6 >(out "/rtt-" isp ".tsv"); gap[isp] = 0 }
          else if (!gap[isp]) { print "" >(out "/rtt-" isp ".tsv"); gap[isp] = 1 }
        }
        END { for (isp in from) close_seg(isp, end) }'
    lab_route_events | awk -v t0="$t0" -v first="$first" -v gw1="${LAB_GW[isp1]}" -v gw2="${LAB_GW[isp2]}" '
      BEGIN { printf "%.4f %d\n", -1e6, (first == "isp1" ? 2 : first == "isp2" ? 1 : 0) }
      {
        row = 0
        if ($2 != "Deleted") for (i = 2; i < NF; i++) if ($i == "via") row = ($(i + 1) == gw1) ? 2 : ($(i + 1) == gw2) ? 1 : 0
        printf "%.4f %d\n", $1 - t0, row
      }' >"$out/active.tsv"
  elif [[ -s $LAB_DIR/vrrp-events.log ]]; then
    # keepalived: each notify starts a segment that lasts until the ISP's next one.
    sort -n "$LAB_DIR/vrrp-events.log" | awk -v t0="$t0" -v end="$t_end" -v out="$out" '
      ($2 == "isp1" || $2 == "isp2") {
        if ($2 in from) printf "%.4f %.4f %d %s\n", from[$2] - t0, $1 - t0, ($2 == "isp1" ? 2 : 1), st[$2] >(out "/bands.tsv")
        from[$2] = $1; st[$2] = ($3 == "STOP") ? "FAULT" : $3
        if ($3 == "MASTER") printf "%.4f %d\n", $1 - t0, ($2 == "isp1" ? 2 : 1) >(out "/active.tsv")
        else if (master == $2) printf "%.4f 0\n", $1 - t0 >(out "/active.tsv")
        if ($3 == "MASTER") master = $2; else if (master == $2) master = ""
      }
      END { for (i in from) printf "%.4f %.4f %d %s\n", from[i] - t0, end - t0, (i == "isp1" ? 2 : 1), st[i] >(out "/bands.tsv") }'
    touch "$out/active.tsv"
  fi
  # The step line of the active ISP runs to the end of the run.
  if [[ -s $out/active.tsv ]]; then
    awk -v e="$(awk -v a="$t_end" -v b="$t0" 'BEGIN { printf "%.4f", a - b }')" '{ print; r = $2 } END { print e, r }' \
      "$out/active.tsv" >"$out/active.tmp" && mv "$out/active.tmp" "$out/active.tsv"
  fi
}

# Draws one SVG from one or two data directories of lab_timeline_data (two: side by side, on
# the same time axis): lab_timeline_svg OUT.svg HEADING FAULT_LABEL DIR TITLE KIND REPAIR
# [DIR TITLE KIND REPAIR]. KIND is ours or vrrp; REPAIR is seconds from the fault or "-" (the
# line is labelled "repair", or $LAB_REPAIR_LABEL). A DIR with a non-empty events.tsv (lines
# SECONDS Y "LABEL", e.g. lab.sh demo's connection resets and name lookups) gets those events
# as labelled markers on its route panel.
# Fails (no picture) when gnuplot is missing or fails; its messages go to OUT.svg.log.
lab_timeline_svg() {
  local out=$1 heading=$2 fault=$3 n=0 vars xr
  shift 3
  command -v gnuplot >/dev/null || { echo "gnuplot is not installed (Debian: gnuplot-nox)" >"$out.log"; return 1; }
  local q="'" qq="''"  # a quote inside a gnuplot string in single quotes is written twice
  vars="out='${out//$q/$qq}'; heading='${heading//$q/$qq}'; fault_label='${fault//$q/$qq}'"
  local mark=${LAB_REPAIR_LABEL:-repair}
  vars+="; repair_label='${mark//$q/$qq}'"
  # One time axis for every column: from the first to the last reply of any run.
  xr=$(awk 'NF { if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1 }
            END { printf "%.2f %.2f", (min == "" ? -1 : min), (max == "" ? 1 : max) }' "$1/ping.tsv" \
       ${5:+"$5/ping.tsv"})
  vars+="; xmin=${xr% *} - 0.2; xmax=${xr#* } + 0.2"
  while (($# >= 4)); do
    n=$((n + 1))
    vars+="; dir$n='${1//$q/$qq}'; title$n='${2//$q/$qq}'; kind$n='$3'; repair$n=$([[ $4 == - ]] && echo NaN || echo "$4")"
    [[ -s $1/events.tsv ]] && vars+="; events$n='${1//$q/$qq}/events.tsv'"
    shift 4
  done
  vars+="; ncols=$n"
  gnuplot -e "$vars" "$LAB_SOURCE_DIR/lab/timeline.gp" >"$out.log" 2>&1 && [[ -s $out ]]
}

# ---------------------------------------------------------------------------------------------
# DNS (tests/e2e/19-dns-follows-isp.sh): a DNS server on the internet, a forwarder per ISP router

LAB_DNS_SERVER=198.51.100.9             # the internet's DNS server, on inet's lo
LAB_DNS_NAME=www.example.test           # the name it answers ...
LAB_DNS_ANSWER=198.51.100.8             # ... with this address

# dnsmasq as the internet's authoritative-for-the-lab DNS server, and as a forwarder on each ISP
# router's LAN address that reaches it through that router's own uplink only (the router's
# default route). No cache on the forwarders: a forwarder whose uplink is dead must fail, as a
# real one does once its cache runs out, instead of answering the test from memory.
lab_dns_up() {
  local isp
  lab_dnsmasq dns-inet inet --listen-address="$LAB_DNS_SERVER" \
    --address="/example.test/$LAB_DNS_ANSWER" --log-queries
  for isp in isp1 isp2; do
    lab_dnsmasq "dns-$isp" "$isp" --listen-address="${LAB_GW[$isp]}" \
      --server="$LAB_DNS_SERVER" --cache-size=0 --log-queries
  done
}

# A dnsmasq of the lab's own (no config, hosts or resolv.conf of the host's), in the foreground
# on port 53 of the addresses it is given: lab_dnsmasq NAME HOST DNSMASQ-OPTIONS...
lab_dnsmasq() {
  lab_spawn "$1" "$2" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
    --bind-interfaces --port=53 --user=root --group=root --pid-file= --log-facility=- "${@:3}"
}

# The lab with a DNS forwarder on each router (lab_dns_up) and failoverd writing the active
# ISP's into RESOLV (--dns-manager file); the daemons started, no wait: lab_up_with_dns RESOLV
lab_up_with_dns() {
  local isp
  lab_topology_up
  lab_dns_up
  for isp in isp1 isp2; do
    lab_start_daemon "$isp" "$isp" ispprobed --dns "${LAB_GW[$isp]}" < <(lab_probed_conf "$isp")
  done
  lab_start_failoverd "$LAB_PROFILE" --dns-manager file --resolv-conf "$1"
}

# Resolves NAME on the client through glibc (getent, so nsswitch, resolv.conf's options and the
# order of its nameserver lines all count) with FILE as /etc/resolv.conf: bound over it in a
# mount namespace of its own, made anew each time, so a file replaced by rename is seen at once.
# Prints the address. lab_client_lookup FILE [NAME]
lab_client_lookup() {
  local file=$1 name=${2:-$LAB_DNS_NAME}
  # shellcheck disable=SC2016  # the inner shell's $1 and $2
  lab_in client unshare --mount --propagation private sh -c \
    'mount --bind "$1" /etc/resolv.conf && exec getent ahostsv4 "$2"' lookup "$file" "$name" |
    awk 'NR == 1 { print $1 }'
}

# True when NAME resolves on the client, with FILE as resolv.conf, to the expected address.
lab_client_resolves() { [[ "$(lab_client_lookup "$@" 2>/dev/null)" == "$LAB_DNS_ANSWER" ]]; }
