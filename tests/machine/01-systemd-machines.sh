#!/usr/bin/env bash
# machine: the project's Debian package on real systemd machines. isp1, isp2 and client boot as
# systemd-nspawn containers (systemd as PID 1) in the lab's namespaces, with the package installed
# and the units enabled and configured as the Vagrant provisioning does it; then it checks units,
# users, capabilities, STATUS=, reload, failover, failback, stop, the watchdog and purge, and
# prints a timeline.
#
# Outside the sandbox (network access for apt): packages the daemons built in ISPF_BIN_DIR
# (packaging/build-deb.sh --prebuilt: cpack) and builds the Debian 12 root filesystem
# (mmdebstrap, cached in ISPF_BIN_DIR/machine-cache; apt sources piped in from the host's own;
# tests/machine/lib-rootfs.sh). Then it re-executes itself in tests/support/netns-sandbox, where
# nothing is linked to the root network namespace and all traffic stays in the lab.
# ISPF_MACHINE_DEB=PATH checks that package instead of packaging ISPF_BIN_DIR's daemons
# (tests/machine/02-guest-build.sh: the package built as a Vagrant guest builds it).
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
ISPF_BIN_DIR=${ISPF_BIN_DIR:-$ISPF_SOURCE_DIR/build}
export ISPF_SOURCE_DIR ISPF_BIN_DIR
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"

NAME=01-systemd-machines
# Dual stack, as issue 13 wants shown under systemd: ICMPv6 needs AF_INET6 in the unit's
# RestrictAddressFamilies, which nothing but a real unit shows.
LAB_DUAL_STACK=1
SUITE=bookworm
CACHE_DIR=$ISPF_BIN_DIR/machine-cache
# What the machines need besides the package's own dependencies (added from the .deb).
# nftables: the witness of failoverd's own table (failoverd itself needs only libnftables1).
# systemd-resolved and polkitd: failoverd --dns-manager resolved sets the client's per-link DNS
# over D-Bus, allowed for user failoverd by the package's polkit rule; only a real resolved and
# polkitd with the unit's sandbox show that working.
BASE_PACKAGES=(systemd systemd-sysv dbus iproute2 iputils-ping procps nftables systemd-resolved
  polkitd)
MACHINES=(isp1 isp2 client)

skip() {
  echo "SKIP: $NAME: $*"
  exit 77
}

# ---------------------------------------------------------------------------------------------
# Phase 1, outside the sandbox: the package and the root filesystem.

# shellcheck source=tests/machine/lib-rootfs.sh
source "$ISPF_SOURCE_DIR/tests/machine/lib-rootfs.sh"

# The machines' tree: BASE_PACKAGES and the package's dependencies (without versions and
# alternatives' second choices), so that dpkg -i of the package needs no mirror.
build_rootfs() {
  local deb=$1 deps
  deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/ //g' |
    grep -v '^$' | sort -u | paste -sd, -)
  rootfs_build rootfs "$(IFS=,; echo "${BASE_PACKAGES[*]}"),$deps"
}

if [[ "${ISPF_IN_SANDBOX:-}" != 1 ]]; then
  [[ $EUID -eq 0 ]] || skip "needs root (mmdebstrap, systemd-nspawn, network namespaces)"
  missing=()
  for tool in systemd-nspawn mmdebstrap nsenter unshare dpkg-deb dpkg-shlibdeps cpack ip nft ping jq; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) ||
    skip "missing tools: ${missing[*]} (apt-get install systemd-container mmdebstrap dpkg-dev util-linux iproute2 nftables iputils-ping jq)"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
    skip "the kernel has no overlay filesystem (the machines share one tree through it)"
  t0=$SECONDS
  if [[ -n ${ISPF_MACHINE_DEB:-} ]]; then
    # A package made elsewhere (the guest-build test's in-guest build): checked as it is.
    [[ -f $ISPF_MACHINE_DEB ]] || { echo "FAIL: $NAME: ISPF_MACHINE_DEB=$ISPF_MACHINE_DEB: no such file"; exit 1; }
    MACHINE_DEB=$(realpath "$ISPF_MACHINE_DEB")
  else
    [[ -x $ISPF_BIN_DIR/ispprobed && -x $ISPF_BIN_DIR/failoverd ]] ||
      skip "$ISPF_BIN_DIR has no built daemons (set ISPF_BIN_DIR to the CMake build dir)"
    [[ -f $ISPF_BIN_DIR/CPackConfig.cmake ]] ||
      cmake "$ISPF_BIN_DIR" >/dev/null  # a build dir configured before cmake/Install.cmake existed
    [[ -f $ISPF_BIN_DIR/CPackConfig.cmake ]] ||
      skip "$ISPF_BIN_DIR has no CPackConfig.cmake: is cmake/Install.cmake included by CMakeLists.txt?"
    MACHINE_DEB=$("$ISPF_SOURCE_DIR/packaging/build-deb.sh" --prebuilt "$ISPF_BIN_DIR" 2>"$ISPF_BIN_DIR/build-deb.log") || {
      tail -n 30 "$ISPF_BIN_DIR/build-deb.log"
      echo "FAIL: $NAME: packaging/build-deb.sh failed"
      exit 1
    }
  fi
  echo "-- package: $MACHINE_DEB ($((SECONDS - t0)) s)"
  MACHINE_LINTIAN=$ISPF_BIN_DIR/lintian.log
  if command -v lintian >/dev/null; then
    lintian --allow-root "$MACHINE_DEB" >"$MACHINE_LINTIAN" 2>&1 || true
  else
    echo "lintian not installed (apt-get install lintian)" >"$MACHINE_LINTIAN"
  fi
  t0=$SECONDS
  build_rootfs "$MACHINE_DEB"
  export MACHINE_DEB MACHINE_LINTIAN MACHINE_ROOTFS=$ROOTFS MACHINE_PREP_S=$((SECONDS - t0))
  lab_enter_sandbox "$0" "$@"
fi

# ---------------------------------------------------------------------------------------------
# Phase 2, inside the sandbox.

lab_require_tools jq
RUN=$LAB_DIR/machines
declare -A NSPAWN_PID=() INIT_PID=() BOOT_S=()
declare -A T=()  # timeline: event -> epoch seconds

cleanup() {
  local m
  for m in "${!NSPAWN_PID[@]}"; do kill -KILL "${NSPAWN_PID[$m]}" 2>/dev/null || true; done
  for m in "${!NSPAWN_PID[@]}"; do wait "${NSPAWN_PID[$m]}" 2>/dev/null || true; done
  lab_teardown
  # The mounts die with the sandbox's mount namespace; the overlay upper layers are files.
  for m in "${MACHINES[@]}" pkg; do umount -l "$RUN/$m/root" 2>/dev/null || true; done
  rm -rf "$RUN"/*/upper "$RUN"/*/work "$RUN"/*/root
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command inside machine M (all its namespaces: mount, PID, network, ...).
in_m() {
  local m=$1
  shift
  nsenter -t "${INIT_PID[$m]}" -a "$@"
}

# The container's PID 1, seen from here: a process named systemd that is PID 1 in its own PID
# namespace and sits in the lab namespace of machine M.
find_init() {
  local m=$1 want pid
  want=$(stat -L -c %i "/run/netns/$(lab_ns "$m")")
  for pid in $(pgrep -x systemd); do
    [[ $(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null) == "$want" ]] || continue
    awk '/^NSpid:/ { exit !($NF == 1) }' "/proc/$pid/status" 2>/dev/null || continue
    echo "$pid"
    return 0
  done
  return 1
}

system_running() {
  local state
  state=$(in_m "$1" systemctl is-system-running 2>/dev/null) || true
  [[ $state == running || $state == degraded ]]
}

unit_active() { [[ $(in_m "$1" systemctl is-active "$2" 2>/dev/null) == active ]]; }

main_pid() { in_m "$1" systemctl show -p MainPID --value "$2"; }

# KEY=VALUE of the unit's properties: unit_prop M UNIT PROP
unit_prop() { in_m "$1" systemctl show -p "$3" --value "$2"; }

# Journal lines of a unit in machine M: journal M UNIT [journalctl options]
journal() {
  local m=$1 unit=$2
  shift 2
  in_m "$m" journalctl --no-pager -q -o cat -u "$unit" "$@"
}

journal_has() {
  local m=$1 unit=$2 pattern=$3
  shift 3
  journal "$m" "$unit" "$@" | lab_matches -E -- "$pattern"
}

# "Uid CapEff CapPrm CapBnd CapAmb" of a PID inside machine M.
proc_creds() {
  in_m "$1" awk '/^Uid:/ { u = $2 } /^CapEff:/ { e = $2 } /^CapPrm:/ { p = $2 }
    /^CapBnd:/ { b = $2 } /^CapAmb:/ { a = $2 } END { print u, e, p, b, a }' "/proc/$2/status"
}

status_line() { in_m client systemctl status --no-pager -n 0 failoverd 2>/dev/null | grep -E '^ *Status:'; }

status_names() { status_line | lab_matches "Status: \"via $1 "; }

pid_changed() { local now; now=$(main_pid client failoverd 2>/dev/null) && [[ -n $now && $now != 0 && $now != "$1" ]]; }

client_route_line() { in_m client ip -4 route show default; }

# The client's default route is failoverd's (proto ispfailover by name) via GW.
route_is_ours() { client_route_line | lab_matches "via $1 dev lan0 proto ispfailover"; }

status_cmd_active() { in_m client failoverd status --json | jq -e ".active == \"$1\"" >/dev/null; }

status_says_refused() { status_line | lab_matches -iE 'reload|refused|config|no-such-key'; }

# The service manager's own lines about a unit (journalctl -u includes them).
manager_log_has() { in_m "$1" journalctl --no-pager -q -u "$2" | lab_matches -i -- "$3"; }

not() { ! "$@"; }

# Journal lines of the client with SYSLOG_IDENTIFIER TAG that match PATTERN.
journal_tag_has() { in_m client journalctl --no-pager -q -o cat -t "$1" | lab_matches -F -- "$2"; }

# The journal's MESSAGE_ID of a switch (src/core/message_ids.cc, systemd/ispfailover.catalog).
SWITCH_ID=$(awk '/^-- / { id = $2 } /^Subject: Default route moved/ { print id; exit }' \
  "$ISPF_SOURCE_DIR/systemd/ispfailover.catalog")
chroot_lists_catalog() { chroot "$1" journalctl --list-catalog "$SWITCH_ID" | lab_matches "$SWITCH_ID"; }
# journalctl MESSAGE_ID=... finds the switch FROM -> TO with its structured fields.
switch_by_message_id() {
  in_m client journalctl --no-pager -q -o json "MESSAGE_ID=$SWITCH_ID" |
    jq -e --arg from "$1" --arg to "$2" \
      'select(.ISPF_FROM == $from and .ISPF_TO == $to and (.ISPF_REASON // "") != "")' >/dev/null
}
# journalctl -x prints the catalog's explanation, with the event's fields filled in, under it.
switch_explained() {
  in_m client journalctl --no-pager -q -x -u failoverd |
    lab_matches -F "failoverd moved this host's default route from ISP \"$1\" to ISP \"$2\""
}

echo "== $NAME: the package on systemd-nspawn machines (logs in $LAB_DIR)"
echo "   package $MACHINE_DEB; root filesystem $MACHINE_ROOTFS"
mkdir -p "$RUN"
lab_topology_up

# --- The package: lintian (run before the sandbox), then installed once into a layer over the
# cached root filesystem.
if grep -q '^lintian not installed' "$MACHINE_LINTIAN"; then
  echo "   note: lintian not installed here; the package was not linted"
else
  if [[ -s $MACHINE_LINTIAN ]]; then sed 's/^/   lintian: /' "$MACHINE_LINTIAN"; else echo "   lintian: no tags"; fi
  lab_check "lintian: no errors ($(grep -c '^E:' "$MACHINE_LINTIAN" || true) E:, $(grep -c '^W:' "$MACHINE_LINTIAN" || true) W:)" \
    not grep -q '^E:' "$MACHINE_LINTIAN"
fi
mkdir -p "$RUN/pkg"/{upper,work,root}
mount -t overlay overlay -o "lowerdir=$MACHINE_ROOTFS,upperdir=$RUN/pkg/upper,workdir=$RUN/pkg/work" \
  "$RUN/pkg/root"
cp "$MACHINE_DEB" "$RUN/pkg/root/tmp/ispfailover.deb"
if ! chroot "$RUN/pkg/root" dpkg -i /tmp/ispfailover.deb >"$LAB_DIR/dpkg-install.log" 2>&1; then
  cat "$LAB_DIR/dpkg-install.log"
  echo "FAIL: $NAME: dpkg -i of the package failed in the root filesystem"
  exit 1
fi
rm -f "$RUN/pkg/root/tmp/ispfailover.deb"
echo "-- dpkg -i $(basename "$MACHINE_DEB") into the root filesystem"
lab_check "package installed (dpkg-query: install ok installed)" \
  test "$(chroot "$RUN/pkg/root" dpkg-query -W -f='${Status}' ispfailover)" = "install ok installed"
lab_check "postinst made the system users ispprobed and failoverd" \
  chroot "$RUN/pkg/root" getent passwd ispprobed failoverd
lab_check "installing enabled no unit" \
  test -z "$(find "$RUN/pkg/root/etc/systemd/system" -lname '*ispprobed*' -o -lname '*failoverd*')"
lab_check "rt_protos.d names protocol 150 ispfailover" \
  grep -qE '^150\s+ispfailover' "$RUN/pkg/root/etc/iproute2/rt_protos.d/ispfailover.conf"
lab_check "postinst added the message catalog to the journal's database (journalctl --list-catalog)" \
  chroot_lists_catalog "$RUN/pkg/root"
umount "$RUN/pkg/root"

# --- One overlay per machine over package layer + root filesystem, provisioned like Vagrant does:
# config files written, the machine's unit enabled.
for m in "${MACHINES[@]}"; do
  mkdir -p "$RUN/$m"/{upper,work,root}
  mount -t overlay overlay \
    -o "lowerdir=$RUN/pkg/upper:$MACHINE_ROOTFS,upperdir=$RUN/$m/upper,workdir=$RUN/$m/work" \
    "$RUN/$m/root"
  root=$RUN/$m/root
  if [[ $m == client ]]; then
    # As the provisioning: failoverd --isp isp1=192.168.56.101 --isp isp2=192.168.56.102
    # --replace-gateway 10.0.2.2, in the config file; the status file stays at its default.
    { lab_failoverd_conf | grep -v '^status-file='; echo dns-manager=resolved; } >"$RUN/client.conf.words"
    mapfile -t words <"$RUN/client.conf.words"
    lab_write_conf "$root/etc/ispfailover/failoverd.conf" "${words[@]}"
    unit=failoverd.service
    # Hooks inside the unit's sandbox: the shipped logger example, and one that records each
    # event with its own capabilities where the unit can write.
    install -m 0755 "$ISPF_SOURCE_DIR/examples/hooks/10-logger" "$root/etc/ispfailover/hooks.d/"
    cat >"$root/etc/ispfailover/hooks.d/20-record" <<'HOOK'
#!/bin/sh
caps=$(awk '/^CapEff:/ { e = $2 } /^CapAmb:/ { a = $2 } END { print e "/" a }' /proc/self/status)
echo "$ISPF_SEQ $ISPF_EVENT ${ISPF_FROM:-} ${ISPF_TO:-} ${ISPF_REASON:-} uid=$(id -u) caps=$caps" \
  >>/run/failoverd/hooks.log
HOOK
    chmod 0755 "$root/etc/ispfailover/hooks.d/20-record"
  else
    # Each router announces its LAN addresses as resolvers, one per family (dns=, dns6=).
    mapfile -t words < <(lab_probed_conf "$m"; echo "dns=${LAB_GW[$m]}"; echo "dns=${LAB_GW6[$m]}")
    lab_write_conf "$root/etc/ispfailover/ispprobed.conf" "${words[@]}"
    unit=ispprobed.service
  fi
  systemctl --root="$root" --quiet enable "$unit"
  # Nothing in these machines needs a login prompt on the console.
  systemctl --root="$root" --quiet mask console-getty.service
done

# --- Boot.
boot_machine() {
  local m=$1 t0
  t0=$(lab_now)
  systemd-nspawn --quiet --boot --register=no --keep-unit --console=passive \
    --directory="$RUN/$m/root" --machine="ispf-$m" --hostname="$m" \
    --network-namespace-path="/run/netns/$(lab_ns "$m")" \
    --capability=CAP_NET_ADMIN,CAP_NET_RAW \
    >"$LAB_DIR/$m.console" 2>&1 </dev/null &
  NSPAWN_PID[$m]=$!
  T[boot_$m]=$t0
}

echo "-- booting ${MACHINES[*]}"
T[boot]=$(lab_now)
for m in "${MACHINES[@]}"; do boot_machine "$m"; done
for m in "${MACHINES[@]}"; do
  if ! lab_wait_until 20 eval "INIT_PID[$m]=\$(find_init $m)"; then
    cat "$LAB_DIR/$m.console"
    kill -0 "${NSPAWN_PID[$m]}" 2>/dev/null ||
      skip "systemd-nspawn cannot boot a machine here (console above, $LAB_DIR/$m.console)"
    echo "FAIL: $NAME: no systemd PID 1 for $m 20 s after systemd-nspawn started"
    exit 1
  fi
done
for m in "${MACHINES[@]}"; do
  if lab_wait_until 60 system_running "$m"; then
    BOOT_S[$m]=$(lab_diff "${T[boot_$m]}" "$(lab_now)")
    echo "  ok    $m booted: $(in_m "$m" systemctl is-system-running) after ${BOOT_S[$m]} s (PID 1 here: ${INIT_PID[$m]})"
  else
    echo "  FAIL  $m not running 60 s after boot: $(in_m "$m" systemctl is-system-running 2>&1)"
    in_m "$m" systemctl --failed --no-pager || true
    LAB_FAILURES=$((LAB_FAILURES + 1))
  fi
done
T[booted]=$(lab_now)
for m in "${MACHINES[@]}"; do
  failed=$(in_m "$m" systemctl --failed --plain --no-legend 2>/dev/null | awk '{ print $1 }' | paste -sd' ' -)
  [[ -z $failed ]] || echo "   note: failed units in $m: $failed"
done

# --- Units, users, capabilities, STATUS=.
lab_check_within "isp1: ispprobed.service active" 10 unit_active isp1 ispprobed
lab_check_within "isp2: ispprobed.service active" 10 unit_active isp2 ispprobed
lab_check_within "client: failoverd.service active" 10 unit_active client failoverd
lab_check_within "client: default route via isp1 (${LAB_GW[isp1]})" 15 lab_route_is "${LAB_GW[isp1]}"
T[first_route]=$(lab_now)
lab_check "client: ip route shows the route as proto ispfailover" route_is_ours "${LAB_GW[isp1]}"
echo "   client: $(client_route_line)"
lab_check_within "systemctl status failoverd: STATUS= names the active ISP (via isp1)" 10 status_names isp1
echo "   $(status_line | sed 's/^ *//')"
for m in isp1 isp2; do
  echo "   $m: $(in_m "$m" systemctl status --no-pager -n 0 ispprobed 2>/dev/null | grep -E '^ *Status:' | sed 's/^ *//')"
done
lab_check "failoverd status (status file in /run/failoverd) says active isp1" status_cmd_active isp1
# The packaged units' metrics (--metrics-file under /run) and the links each unit makes to its own.
lab_check_within "client: /run/failoverd/failoverd.prom names isp1 active" 5 \
  in_m client grep -q '^ispfailover_isp_active{isp="isp1",family="ipv4"} 1' /run/failoverd/failoverd.prom
lab_check_within "isp1: /run/ispprobed/ispprobed.prom says the probe is up" 5 \
  in_m isp1 grep -qx 'ispfailover_probe_up 1' /run/ispprobed/ispprobed.prom
lab_check_within "isp1: ICMPv6 probes work under the unit (ispfailover_probe_ipv6_up 1)" 10 \
  in_m isp1 grep -qx 'ispfailover_probe_ipv6_up 1' /run/ispprobed/ispprobed.prom
lab_check_within "client: IPv6 default route via isp1 ${LAB_GW6[isp1]} src ${LAB_CLIENT6[isp1]}" 10 \
  lab_route6_is "${LAB_GW6[isp1]}" "${LAB_CLIENT6[isp1]}"
echo "   client: $(in_m client ip -6 route show default)"
# --dns-manager resolved: the active ISP's resolvers of both families as lan0's DNS in resolved.
link_dns_is() { [[ "$(in_m client resolvectl dns lan0 2>/dev/null)" == *"(lan0): $1" ]]; }
lab_check_within "client: resolved's DNS on lan0 is isp1's, both families (${LAB_GW[isp1]} ${LAB_GW6[isp1]})" 10 \
  link_dns_is "${LAB_GW[isp1]} ${LAB_GW6[isp1]}"
echo "   client: $(in_m client resolvectl dns lan0 2>&1)"
lab_check "client: node_exporter's textfile directory links to failoverd.prom, which exists" \
  in_m client test -L /var/lib/prometheus/node-exporter/ispfailover-failoverd.prom -a \
  -e /var/lib/prometheus/node-exporter/ispfailover-failoverd.prom
lab_check "isp1: node_exporter's textfile directory links to ispprobed.prom, which exists" \
  in_m isp1 test -L /var/lib/prometheus/node-exporter/ispfailover-ispprobed.prom -a \
  -e /var/lib/prometheus/node-exporter/ispfailover-ispprobed.prom
# A link to a daemon a host does not run would point nowhere: node_textfile_scrape_error 1.
lab_check "client: no link to an ispprobed.prom it does not have" \
  not in_m client test -L /var/lib/prometheus/node-exporter/ispfailover-ispprobed.prom

check_creds() {
  local m=$1 unit=$2 user=$3 cap_mask=$4 pid uid creds
  pid=$(main_pid "$m" "$unit")
  uid=$(in_m "$m" id -u "$user")
  creds=$(proc_creds "$m" "$pid")
  echo "   $m: $unit MainPID $pid: Uid CapEff CapPrm CapBnd CapAmb = $creds (user $user is uid $uid)"
  lab_check "$m: $unit runs as user $user" test "${creds%% *}" = "$uid"
  lab_check "$m: $unit has only its capability (CapEff=CapPrm=CapBnd=$cap_mask)" \
    test "$(cut -d' ' -f2-4 <<<"$creds")" = "$cap_mask $cap_mask $cap_mask"
}
check_creds isp1 ispprobed ispprobed 0000000000002000  # CAP_NET_RAW (13)
check_creds isp2 ispprobed ispprobed 0000000000002000
check_creds client failoverd failoverd 0000000000001000  # CAP_NET_ADMIN (12)
# Sticky connections under the unit's sandbox: libnftables, rules and per-ISP tables all work
# with CAP_NET_ADMIN alone (a refusal would also be a warning in the check below).
sticky_in_place() {
  in_m client sh -c 'ip rule | grep -q "fwmark 0x1000000/0xf000000 lookup 3151" &&
    ip route show table 3151 | grep -q "default via 192.168.56.101"'
}
lab_check_within "client: failoverd's fwmark rules and per-ISP tables are in place" 10 sticky_in_place
lab_check "client: failoverd's nftables table is in place" \
  in_m client sh -c 'nft list table inet failoverd | grep -q "rt ip nexthop 192.168.56.101"'
for m in isp1 client; do
  unit=$([[ $m == client ]] && echo failoverd || echo ispprobed)
  # Expected at warning: route changes of either family (the first selection, and on the client
  # the takeover of Vagrant's NAT default route named by --replace-gateway) and ispprobed's line
  # transitions.
  warnings=$(journal "$m" "$unit" -p warning |
    grep -vE '^(IPv6: )?(select|switch|failback) |-> |^deleted the foreign default route via 10\.0\.2\.2 ' || true)
  lab_check "$m: no unexpected warning from $unit at start${warnings:+ (got: $warnings)}" test -z "$warnings"
done

# --- Reload: a changed config is applied; a broken one is refused and the old one kept.
client_conf=$RUN/client/root/etc/ispfailover/failoverd.conf
pid_before=$(main_pid client failoverd)
sed -i 's/^log-level = .*/log-level = "debug"/' "$client_conf"
T[reload]=$(lab_now)
in_m client systemctl reload failoverd
lab_check_within "reload (log-level debug) applied: datagram lines at debug in the journal" 10 \
  journal_has client failoverd '^isp[12] from 192\.168\.56\.10[12]: ' -p debug --since "@${T[reload]%.*}"
lab_check "reload kept the process (MainPID $pid_before)" test "$(main_pid client failoverd)" = "$pid_before"
lab_check "failoverd active after reload" unit_active client failoverd
cp "$client_conf" "$RUN/failoverd.conf.good"
echo 'no-such-key = 1' >>"$client_conf"
T[bad_reload]=$(lab_now)
in_m client systemctl reload failoverd
lab_check_within "broken config refused: the journal says why" 10 \
  journal_has client failoverd 'reload refused, keeping the running configuration: .*no-such-key' -p err
lab_check "broken config refused: still active" unit_active client failoverd
lab_check "broken config refused: same MainPID" test "$(main_pid client failoverd)" = "$pid_before"
echo "   $(status_line | sed 's/^ *//')"
lab_check "broken config refused: STATUS= says why (the issue: \"says why in the journal and STATUS=\")" \
  status_says_refused
cp "$RUN/failoverd.conf.good" "$client_conf"
sed -i 's/^log-level = .*/log-level = "info"/' "$client_conf"
in_m client systemctl reload failoverd
lab_wait_until 5 status_names isp1 || true

# --- isp1's uplink goes down: the client's ping keeps going through isp2.
lab_ping_start ping
lab_wait_until 5 grep -q 'bytes from' "$LAB_DIR/ping.log" || true
sleep 1
T[fault]=$(lab_now)
echo "-- isp1: ip link set up0 down"
lab_link_down isp1
lab_check_within "client: default route moves to isp2 (${LAB_GW[isp2]})" 15 lab_route_is "${LAB_GW[isp2]}"
T[switched]=$(lab_now)
lab_check "client reaches ${LAB_PING_TARGET} via isp2" lab_client_reaches
lab_check_within "journalctl -u failoverd -p warning: 'switch isp1 -> isp2: <reason>'" 5 \
  journal_has client failoverd '^switch isp1 -> isp2: .+' -p warning
lab_check_within "systemctl status failoverd: STATUS= via isp2" 5 status_names isp2
echo "   $(status_line | sed 's/^ *//')"
lab_check_within "client: resolved's DNS on lan0 follows to isp2's (${LAB_GW[isp2]} ${LAB_GW6[isp2]})" 10 \
  link_dns_is "${LAB_GW[isp2]} ${LAB_GW6[isp2]}"
lab_check_within "journalctl MESSAGE_ID=$SWITCH_ID: the switch isp1 -> isp2 with ISPF_FROM, ISPF_TO, ISPF_REASON" 5 \
  switch_by_message_id isp1 isp2
lab_check_within "journalctl -x -u failoverd: the catalog explains the switch isp1 -> isp2" 5 \
  switch_explained isp1 isp2
lab_check_within "hook 20-record saw the switch isp1 -> isp2, as user failoverd with no capabilities" 5 \
  in_m client grep -qE "^[0-9]+ switch isp1 isp2 [a-z-]+ uid=$(in_m client id -u failoverd) caps=0+/0+$" \
  /run/failoverd/hooks.log
lab_check_within "hook 10-logger (the shipped example): its line is in the journal" 5 \
  journal_tag_has ispfailover 'default route moved from isp1 to isp2'
in_m client sed 's/^/     hooks.log: /' /run/failoverd/hooks.log
in_m client journalctl --no-pager -q -x -u failoverd "MESSAGE_ID=$SWITCH_ID" | tail -n 20 | sed 's/^/     /'
sleep 1
read -r gap_switch _ _ < <(lab_ping_gap "$LAB_DIR/ping.log" "${T[fault]}" "$(lab_now)")
lab_check "ping kept going: largest gap ${gap_switch} s below 5 s" lab_le "$gap_switch" 5

# --- Failback.
T[repair]=$(lab_now)
echo "-- isp1: ip link set up0 up"
lab_link_up isp1
lab_check_within "client: default route back via isp1 (${LAB_GW[isp1]})" 25 lab_route_is "${LAB_GW[isp1]}"
T[failback]=$(lab_now)
lab_check "failback not before failback-after (3 s)" lab_ge "$(lab_diff "${T[repair]}" "${T[failback]}")" 3
lab_check_within "journalctl -u failoverd -p warning: 'failback isp2 -> isp1: <reason>'" 5 \
  journal_has client failoverd '^failback isp2 -> isp1: .+' -p warning
lab_check_within "systemctl status failoverd: STATUS= via isp1" 5 status_names isp1
sleep 1
lab_ping_stop ping
read -r gap_failback _ _ < <(lab_ping_gap "$LAB_DIR/ping.log" "${T[repair]}" "$(lab_now)")
lab_check "no outage during failback (largest gap ${gap_failback} s below 1 s)" lab_le "$gap_failback" 1
echo "   journalctl -u failoverd -p warning:"
journal client failoverd -p warning | sed 's/^/     /'

# --- The watchdog restarts a hung failoverd.
pid_before=$(main_pid client failoverd)
restarts_before=$(unit_prop client failoverd NRestarts)
T[sigstop]=$(lab_now)
echo "-- kill -STOP failoverd (MainPID $pid_before; WatchdogSec=$(unit_prop client failoverd WatchdogUSec))"
in_m client kill -STOP "$pid_before"
lab_check_within "watchdog: failoverd restarted with a new MainPID" 45 pid_changed "$pid_before"
lab_check_within "watchdog: failoverd active again" 15 unit_active client failoverd
T[watchdog_restart]=$(lab_now)
lab_check "watchdog: NRestarts went up" test "$(unit_prop client failoverd NRestarts)" -gt "$restarts_before"
lab_check_within "watchdog: the journal says 'Watchdog timeout'" 10 manager_log_has client failoverd 'watchdog timeout'
lab_check_within "after the restart: route via isp1, STATUS= via isp1" 15 status_names isp1
lab_check "after the restart: route via isp1" lab_route_is "${LAB_GW[isp1]}"

# --- systemctl stop is clean; the route stays in place (documented default).
T[stop]=$(lab_now)
in_m client systemctl stop failoverd
T[stopped]=$(lab_now)
lab_check "systemctl stop failoverd: inactive, Result=success, exit status 0" \
  test "$(unit_prop client failoverd ActiveState)/$(unit_prop client failoverd Result)/$(unit_prop client failoverd ExecMainStatus)" = "inactive/success/0"
lab_check "stop took less than 3 s ($(lab_diff "${T[stop]}" "${T[stopped]}") s)" \
  lab_le "$(lab_diff "${T[stop]}" "${T[stopped]}")" 3
lab_check "after stop: the default route via isp1 stays (proto ispfailover)" route_is_ours "${LAB_GW[isp1]}"
lab_check "after stop: /run/failoverd removed by systemd" not in_m client test -e /run/failoverd
in_m isp2 systemctl stop ispprobed
lab_check "ispprobed stops cleanly too (isp2: inactive, Result=success, exit status 0)" \
  test "$(unit_prop isp2 ispprobed ActiveState)/$(unit_prop isp2 ispprobed Result)/$(unit_prop isp2 ispprobed ExecMainStatus)" = "inactive/success/0"

# --- Purge on the running client: stops, removes units, config, users.
in_m client systemctl start failoverd
lab_wait_until 10 unit_active client failoverd || true
if in_m client dpkg --purge ispfailover >"$LAB_DIR/dpkg-purge.log" 2>&1; then
  echo "  ok    dpkg --purge ispfailover on the client"
else
  echo "  FAIL  dpkg --purge ispfailover on the client: $(tail -n 5 "$LAB_DIR/dpkg-purge.log")"
  LAB_FAILURES=$((LAB_FAILURES + 1))
fi
lab_check "purge: failoverd no longer running" not in_m client pgrep -x failoverd
left=$(in_m client sh -c 'ls -d /etc/ispfailover /etc/iproute2/rt_protos.d/ispfailover.conf \
  /lib/systemd/system/failoverd.service /lib/systemd/system/ispprobed.service \
  /usr/lib/sysusers.d/ispfailover.conf /usr/sbin/failoverd /usr/sbin/ispprobed \
  /etc/systemd/system/multi-user.target.wants/failoverd.service 2>/dev/null; \
  getent passwd ispprobed failoverd; getent group ispprobed failoverd' || true)
lab_check "purge: nothing of the package left${left:+ (left: $(echo $left))}" test -z "$left"

# --- Timeline.
echo "-- timeline (seconds from boot of the three machines):"
rel() { lab_diff "${T[boot]}" "$1"; }
for m in "${MACHINES[@]}"; do echo "   boot $m: running after ${BOOT_S[$m]:--} s"; done
echo "   $(rel "${T[first_route]}") s  client's default route via isp1 (failoverd up, first datagrams)"
echo "   $(rel "${T[fault]}") s  isp1 uplink down"
echo "   $(rel "${T[switched]}") s  route via isp2: switch $(lab_diff "${T[fault]}" "${T[switched]}") s after the fault (ping gap ${gap_switch} s)"
echo "   $(rel "${T[repair]}") s  isp1 uplink up"
echo "   $(rel "${T[failback]}") s  route via isp1: failback $(lab_diff "${T[repair]}" "${T[failback]}") s after the repair (ping gap ${gap_failback} s, failback-after 3 s)"
echo "   $(rel "${T[sigstop]}") s  failoverd SIGSTOPped"
echo "   $(rel "${T[watchdog_restart]}") s  failoverd restarted by the watchdog: $(lab_diff "${T[sigstop]}" "${T[watchdog_restart]}") s after SIGSTOP"
echo "   $(rel "${T[stop]}") s  systemctl stop failoverd: $(lab_diff "${T[stop]}" "${T[stopped]}") s"
echo "   (package and root filesystem preparation before the sandbox: ${MACHINE_PREP_S:-?} s)"

lab_finish "$NAME"
