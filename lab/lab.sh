#!/usr/bin/env bash
# The ispfailover lab in network namespaces: up | demo | shell HOST | exec HOST CMD... | down | list
# shellcheck disable=SC2119  # helpers called without their optional arguments
set -euo pipefail

LAB_SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
LAB_HERE=$(dirname "$LAB_SCRIPT")
export ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(dirname "$LAB_HERE")}
LAB_PICK=${LAB_ID:-}  # the lab the user named, before lib.sh draws a new id
# shellcheck source=lab/lib.sh
source "$LAB_HERE/lib.sh"
LAB_STATE_DIR=/run/ispfailover-lab
HOSTS="inet isp1 isp2 lan client vnat"

usage() {
  cat <<EOF
usage: lab/lab.sh COMMAND
  up               build the namespaces and start ispprobed on isp1/isp2 and failoverd on the
                   client (LAB_PROFILE=default|fast); stays up until 'down'
  demo             as root on a fresh Debian 12: install, build, bring the lab up, pull isp1's
                   uplink, restore it, print the timeline and draw it ($LAB_DIR/timeline.svg
                   with gnuplot), tear down; the timeline shows a waiting TCP connection reset
                   and reconnected at the fault, a stream opened during the outage surviving
                   the failback, and a name lookup after the fault (with dnsmasq)
  shell HOST       interactive shell on a host of the running lab ($HOSTS)
  exec HOST CMD... run a command on a host of the running lab
  down             stop the running lab (every namespace and process goes with it)
  list             running labs
Env: ISPF_BIN_DIR (build dir with ispprobed/failoverd; default $LAB_BIN_DIR), LAB_DIR (logs,
configs), LAB_ID (which lab, when several are up), LAB_PROFILE, LAB_NO_BUILD=1 (demo: skip build),
LAB_DUAL_STACK_DEMO=0 (demo: IPv4 only; by default the daemons and the story are dual stack).
EOF
}

# ---------------------------------------------------------------------------------------------
# up / down / shell / exec: a holder process (PID 1 of a netns-sandbox) keeps the lab alive.

# Inside the sandbox: build the lab, start the daemons, then idle until killed.
hold() {
  trap 'lab_teardown; exit 0' TERM INT
  lab_topology_up
  if [[ -x "$LAB_BIN_DIR/ispprobed" && -x "$LAB_BIN_DIR/failoverd" ]]; then
    lab_start_probed isp1
    lab_start_probed isp2
    lab_start_failoverd "$LAB_PROFILE"
  else
    lab_log "no daemons in $LAB_BIN_DIR: topology only"
  fi
  touch "$LAB_DIR/ready"
  while :; do
    sleep 3600 &
    wait $! || true
  done
}

# The id of the lab to act on: $LAB_ID if given, else the only one running.
pick_lab() {
  local ids=()
  if [[ -n "${LAB_PICK:-}" ]]; then
    echo "$LAB_PICK"
    return
  fi
  shopt -s nullglob
  for f in "$LAB_STATE_DIR"/*.pid; do ids+=("$(basename "$f" .pid)"); done
  case ${#ids[@]} in
    0) lab_die "no lab is up (lab/lab.sh up)" ;;
    1) echo "${ids[0]}" ;;
    *) lab_die "several labs are up (${ids[*]}): set LAB_ID" ;;
  esac
}

load_lab() {
  local id
  id=$(pick_lab)
  [[ -f "$LAB_STATE_DIR/$id.env" ]] || lab_die "no lab $id"
  # shellcheck source=/dev/null
  source "$LAB_STATE_DIR/$id.env"
  HOLDER=$(cat "$LAB_STATE_DIR/$id.pid")
  kill -0 "$HOLDER" 2>/dev/null || lab_die "lab $id is gone (holder $HOLDER); run: lab/lab.sh down"
}

cmd_up() {
  local upid holder="" i
  [[ $EUID -eq 0 ]] || lab_die "run as root"
  lab_require_tools
  mkdir -p "$LAB_STATE_DIR" "$LAB_DIR"
  # setsid: Ctrl-C in this terminal later must not kill the lab; 'down' does.
  LAB_ID=$LAB_ID LAB_DIR=$LAB_DIR LAB_PREFIX=$LAB_PREFIX ISPF_BIN_DIR=$LAB_BIN_DIR \
    setsid "$LAB_SANDBOX" bash "$LAB_SCRIPT" __hold >"$LAB_DIR/holder.log" 2>&1 </dev/null &
  upid=$!
  for ((i = 0; i < 600; i++)); do
    [[ -f "$LAB_DIR/ready" ]] && break
    kill -0 "$upid" 2>/dev/null || { cat "$LAB_DIR/holder.log" >&2; lab_die "the lab did not come up"; }
    sleep 0.05
  done
  [[ -f "$LAB_DIR/ready" ]] || { kill -KILL "$upid"; lab_die "the lab did not come up in 30 s"; }
  holder=$(pgrep -P "$upid" | head -n 1)
  [[ -n "$holder" ]] || { kill -KILL "$upid"; lab_die "cannot find the lab's holder process"; }
  echo "$holder" >"$LAB_STATE_DIR/$LAB_ID.pid"
  printf 'LAB_ID=%q\nLAB_DIR=%q\nLAB_PREFIX=%q\nLAB_BIN_DIR=%q\nLAB_UNSHARE=%q\n' \
    "$LAB_ID" "$LAB_DIR" "$LAB_PREFIX" "$LAB_BIN_DIR" "$upid" >"$LAB_STATE_DIR/$LAB_ID.env"
  cat <<EOF
lab $LAB_ID is up (holder PID $holder); logs and configs in $LAB_DIR
  lab/lab.sh exec client ip route show default
  lab/lab.sh exec client ping -c 3 198.51.100.8
  lab/lab.sh exec client $LAB_BIN_DIR/failoverd status --status-file $LAB_DIR/failoverd-status.json
  lab/lab.sh exec isp1 ip link set up0 down
  lab/lab.sh shell client
  lab/lab.sh down
EOF
}

in_lab() {
  local host=$1
  shift
  [[ " $HOSTS " == *" $host "* || -n "${LAB_ANY_HOST:-}" ]] || lab_die "unknown host $host ($HOSTS)"
  nsenter -t "$HOLDER" -m -p -- ip netns exec "$LAB_PREFIX-$host" "$@"
}

cmd_exec() {
  [[ $# -ge 2 ]] || { usage >&2; exit 2; }
  load_lab
  in_lab "$@"
}

cmd_shell() {
  [[ $# -eq 1 ]] || { usage >&2; exit 2; }
  load_lab
  in_lab "$1" env PS1="[lab $LAB_ID $1] \\w# " LAB_DIR="$LAB_DIR" bash --norc -i
}

cmd_down() {
  local id
  id=$(pick_lab)
  if [[ -f "$LAB_STATE_DIR/$id.env" ]]; then
    # shellcheck source=/dev/null
    source "$LAB_STATE_DIR/$id.env"
    kill -KILL "$(cat "$LAB_STATE_DIR/$id.pid")" 2>/dev/null || true
    kill -KILL "${LAB_UNSHARE:-0}" 2>/dev/null || true
  fi
  rm -f "$LAB_STATE_DIR/$id.pid" "$LAB_STATE_DIR/$id.env"
  rmdir "$LAB_STATE_DIR" 2>/dev/null || true
  echo "lab $id is down (logs kept in ${LAB_DIR:-?})"
}

cmd_list() {
  shopt -s nullglob
  for f in "$LAB_STATE_DIR"/*.env; do
    (
      # shellcheck source=/dev/null
      source "$f"
      pid=$(cat "${f%.env}.pid")
      state=gone
      kill -0 "$pid" 2>/dev/null && state=up
      echo "$LAB_ID $state holder=$pid logs=$LAB_DIR"
    )
  done
}

# ---------------------------------------------------------------------------------------------
# demo

# Installs what is missing (needs the network: runs before entering the sandbox).
provision() {
  local need=() tool pkg
  if [[ -x "$ISPF_SOURCE_DIR/provision/install-build-deps.sh" || -f "$ISPF_SOURCE_DIR/provision/install-build-deps.sh" ]]; then
    lab_log "installing build dependencies (provision/install-build-deps.sh)"
    bash "$ISPF_SOURCE_DIR/provision/install-build-deps.sh"
  fi
  for tool in ip:iproute2 nft:nftables tcpdump:tcpdump ping:iputils-ping pgrep:procps \
    nsenter:util-linux jq:jq cmake:cmake ninja:ninja-build g++:g++; do
    command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
  done
  if ((${#need[@]})); then
    lab_log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
  for pkg in ip nft tcpdump ping; do command -v "$pkg" >/dev/null || lab_die "$pkg still missing"; done
}

build() {
  if [[ "${LAB_NO_BUILD:-}" == 1 ]]; then
    lab_log "LAB_NO_BUILD=1: using the binaries in $LAB_BIN_DIR"
  else
    lab_log "building into $LAB_BIN_DIR"
    cmake -S "$ISPF_SOURCE_DIR" -B "$LAB_BIN_DIR" -G Ninja >/dev/null
    cmake --build "$LAB_BIN_DIR"
  fi
  lab_require_daemons
}

stage() {
  printf '\n=== %s\n' "$1"
  lab_status_text 2>&1 | sed 's/^/    /' || true
}

# What the demo shows besides the route: TCP connections (tests/tools/lab_tcp, built with the
# daemons) and names (dnsmasq as each ISP router's forwarder, as e2e 19 has it). Either is left
# out, with a line saying why, where its tool is missing: the route's story is the demo's core.
DEMO_TCP=0 DEMO_DNS=0

# The lab of lab_up_with_daemons, and with DEMO_DNS each ispprobed announcing its router's
# forwarder (--dns) and failoverd writing the active one into a resolv.conf of the lab's own
# ($LAB_DIR/resolv.conf: the client's /etc/resolv.conf is the host's and stays untouched).
demo_up() {
  if ((!DEMO_DNS)); then
    lab_up_with_daemons
    return
  fi
  lab_up_with_dns "$LAB_DIR/resolv.conf"
  if ! lab_wait_until 15 lab_route_is "${LAB_GW[isp1]}"; then
    lab_log "no default route via isp1 15 s after start; route: $(lab_client_gw)"
    lab_dump_logs
    return 1
  fi
  lab_log "route via isp1 (${LAB_GW[isp1]}); daemons up; names through $LAB_DIR/resolv.conf"
}

# A lab_tcp client NAME has a "connected" line from ISP's masquerade address at or after FROM.
demo_connected_via() { lab_tcp_connected_via "$1" "${LAB_UP_ADDR[$2]}" "${3:-0}"; }

# A lab_tcp client NAME has an error line at or after FROM: demo_got_error NAME FROM
demo_got_error() { [[ -n $(lab_tcp_events "$1" error "$2") ]]; }

# The stream has 40 echoes (2 s of a line every 50 ms) since FROM, or has ended.
demo_stream_judged() {
  [[ $(lab_tcp_events stream echo "$1" | wc -l) -ge 40 ]] ||
    [[ -n $(lab_tcp_events stream error; lab_tcp_events stream closed) ]]
}

# The events as markers for lab/timeline.gp: one line each, SECONDS_FROM_FAULT Y "LABEL", Y
# stepping down through four heights of the route panel's empty "none" row while events come
# within 2 s of each other (the reset, its reconnect and the lookup are milliseconds apart; a
# label is over a second wide), back to the top after a longer pause.
# demo_events_tsv OUT T_FAULT [EPOCH LABEL]...
demo_events_tsv() {
  local out=$1 t0=$2
  shift 2
  while (($# >= 2)); do printf '%s\t%s\n' "$1" "${2//\"/}"; shift 2; done |
    sort -n | awk -F'\t' -v t0="$t0" '{
      level = (NR > 1 && $1 - prev < 2) ? (level + 1) % 4 : 0; prev = $1
      printf "%.4f %.2f \"%s\"\n", $1 - t0, 0.42 - 0.28 * level, $2 }' >"$out"
}

# More than 20 IPv6 flows answered since FROM: demo_flows_after FROM
demo_flows_after() { (($(lab_flows_answered flows6 "$1") > 20)); }

# Seconds from the fault, for the log lines: demo_since EPOCH
demo_since() { lab_diff "$T_FAULT" "$1"; }

# Inside the sandbox: the link-down scenario with a timeline.
demo() {
  local t_fault t_restore t_report t_route t_up t_back end gap gap_back
  local t_error="-" error_name="" t_reconnect="-" t_dns="-" dns_failed=0 t_stream="-"
  local stream_peer="" stream_echoes=0 stream_after=0 stream_gap="-" stream_ended="" t_judged="-"
  local gap6="-"
  # Both families, unless asked otherwise (LAB_DUAL_STACK_DEMO=0).
  LAB_DUAL_STACK=${LAB_DUAL_STACK_DEMO:-1}
  lab_trap_cleanup
  if [[ -x $LAB_BIN_DIR/lab_tcp ]]; then DEMO_TCP=1; else lab_log "no $LAB_BIN_DIR/lab_tcp: no TCP connections in the demo"; fi
  if command -v dnsmasq >/dev/null && command -v getent >/dev/null && command -v unshare >/dev/null; then
    DEMO_DNS=1
  else
    lab_log "no dnsmasq (Debian: dnsmasq-base), getent or unshare: no name lookups in the demo"
  fi
  demo_up || lab_die "the lab did not converge on isp1"
  lab_watch_datagrams_start
  lab_watch_routes_start
  lab_ping_start
  if [[ $LAB_DUAL_STACK == 1 ]]; then
    # New IPv6 flows every 10 ms, each on a new socket: the kernel picks the source anew.
    lab_wait_until 10 lab_route6_is "${LAB_GW6[isp1]}" "${LAB_CLIENT6[isp1]}" ||
      lab_log "no IPv6 route via isp1 with isp1's source!"
    lab_flows_start flows6 "${LAB_TARGETS6[0]}" 10
  fi
  if ((DEMO_TCP)); then
    # An application that waits on a connection through isp1 (a chat, a push channel).
    lab_tcp_serve
    lab_tcp_start waiter wait
    lab_wait_until 5 demo_connected_via waiter isp1 || lab_log "the waiting connection did not come up through isp1!"
  fi
  if ((DEMO_DNS)); then
    if lab_wait_until 5 lab_client_resolves "$LAB_DIR/resolv.conf"; then
      lab_log "name lookup: $LAB_DNS_NAME resolves through isp1's forwarder (${LAB_GW[isp1]})"
    else
      lab_log "name lookup through isp1's forwarder failed before the fault!"
    fi
  fi
  sleep 2
  stage "steady state: traffic via isp1"

  t_fault=$(lab_now)
  T_FAULT=$t_fault
  lab_link_down isp1
  lab_log "fault: isp1's uplink (up0) set down"
  if ((DEMO_DNS)); then
    # Lookups one after another from the fault on, as an application retrying would (10 s at most).
    until lab_client_resolves "$LAB_DIR/resolv.conf"; do
      dns_failed=$((dns_failed + 1))
      lab_ge "$(demo_since "$(lab_now)")" 10 && break
    done
    lab_client_resolves "$LAB_DIR/resolv.conf" && t_dns=$(lab_now)
    if [[ $t_dns != - ]]; then
      lab_log "name lookup ok $(demo_since "$t_dns") s after the fault ($dns_failed failed before it; resolv.conf: $(awk '/^nameserver/ { print $2 }' "$LAB_DIR/resolv.conf"))"
    else
      lab_log "no name lookup succeeded within 10 s of the fault!"
    fi
  fi
  lab_wait_until 15 lab_route_is "${LAB_GW[isp2]}" || lab_log "the route did not move to isp2!"
  if [[ $LAB_DUAL_STACK == 1 ]]; then
    if lab_wait_until 10 lab_route6_is "${LAB_LL6[isp2]}" "${LAB_CLIENT6[isp2]}"; then
      local t_six
      t_six=$(lab_now)
      lab_wait_until 5 demo_flows_after "$t_six" || true
      read -r gap6 _ _ < <(lab_flows_gap flows6 "$t_fault" "$(lab_now)")
      lab_log "IPv6: route via isp2 (${LAB_LL6[isp2]}, source ${LAB_CLIENT6[isp2]}) when looked at, +$(demo_since "$t_six") s; new flows every 10 ms: largest gap $gap6 s, sources since: $(lab_flows_sources_after flows6 "$t_six")"
    else
      lab_log "IPv6: the route did not move to isp2 with isp2's source!"
    fi
  fi
  if ((DEMO_TCP)); then
    if lab_wait_until 5 demo_got_error waiter "$t_fault"; then
      read -r t_error error_name < <(lab_tcp_events waiter error "$t_fault" | awk 'NR == 1 { print $1, $3 }')
      local again="no reconnect through isp2 within 5 s!"
      if lab_wait_until 5 demo_connected_via waiter isp2 "$t_error"; then
        t_reconnect=$(lab_tcp_events waiter connected "$t_error" | awk 'NR == 1 { print $1 }')
        again="reconnected through isp2 $(lab_diff "$t_error" "$t_reconnect") s later"
      fi
      lab_log "reset: the waiting connection through isp1 ended with $error_name $(demo_since "$t_error") s after the fault; $again"
    else
      lab_log "the waiting connection through isp1 got no error within 5 s of the route's move!"
    fi
    # A connection opened during the outage: through isp2, and it must outlive the failback.
    lab_tcp_start stream stream 50
    if lab_wait_until 5 demo_connected_via stream isp2; then
      t_stream=$(lab_tcp_events stream connected | awk 'NR == 1 { print $1 }')
      lab_log "a stream (a line every 50 ms) opened through isp2 $(demo_since "$t_stream") s after the fault"
    else
      lab_log "the stream opened during the outage did not connect through isp2!"
    fi
  fi
  sleep 1
  stage "after the fault: traffic via isp2"
  sleep 2

  t_restore=$(lab_now)
  lab_link_up isp1
  lab_log "repair: isp1's uplink set up again; failoverd waits --failback-after before moving back"
  lab_wait_until 20 lab_route_is "${LAB_GW[isp1]}" || lab_log "the route did not return to isp1!"
  sleep 1
  t_back=$(lab_first_route "${LAB_GW[isp1]}" "$t_restore")
  if ((DEMO_TCP)) && [[ $t_stream != - && $t_back != - ]]; then
    lab_wait_until 10 demo_stream_judged "$t_back" || true
    t_judged=$(lab_now)
    stream_after=$(lab_tcp_events stream echo "$t_back" | wc -l)
    read -r stream_gap stream_echoes < <(lab_tcp_gap stream "$t_stream" "$t_judged")
    stream_ended=$( (lab_tcp_events stream error; lab_tcp_events stream closed) | awk 'NR == 1 { print $2, $3 }')
    stream_peer=$(lab_tcp_events stream connected | sed -n '1s/.*peer=//p')
    if [[ -z $stream_ended ]] && ((stream_after >= 40)); then
      lab_log "the stream opened during the outage kept going through $(lab_isp_of_peer "$stream_peer") across the failback: $stream_echoes echoes, largest gap $stream_gap s ($stream_after after the failback)"
    else
      lab_log "the stream opened during the outage broke at the failback: ${stream_ended:-only $stream_after echoes after it} ($stream_echoes echoes, largest gap $stream_gap s)"
    fi
  fi
  stage "after the repair: traffic back via isp1"
  end=$(lab_now)
  if ((DEMO_TCP)); then
    lab_stop stream
    lab_stop waiter
  fi
  lab_ping_stop
  if [[ $LAB_DUAL_STACK == 1 ]]; then lab_flows_stop flows6; fi
  lab_watch_datagrams_stop
  lab_watch_routes_stop

  t_report=$(lab_first_datagram isp1 down "$t_fault")
  t_route=$(lab_first_route "${LAB_GW[isp2]}" "$t_fault")
  t_up=$(lab_first_datagram isp1 up "$t_restore")
  read -r gap _ _ < <(lab_ping_gap "$LAB_DIR/ping.log" "$t_fault" "$t_restore")
  read -r gap_back _ _ < <(lab_ping_gap "$LAB_DIR/ping.log" "$t_restore" "$end")
  rel() { local d; d=$(lab_diff "$t_fault" "$1"); [[ $d == - ]] && echo "   (not seen)" || printf '%+9.3f s' "$d"; }
  # The connections' and names' events: timeline lines, and markers for the picture
  # (events.tsv: SECONDS_FROM_FAULT Y "LABEL", drawn by lab/timeline.gp on the route panel).
  local events_fault="" events_back="" ev=() more_logs=""
  ((DEMO_TCP)) && more_logs+=" waiter.log stream.log tcp-server.log"
  ((DEMO_DNS)) && more_logs+=" resolv.conf dns-isp1.log dns-isp2.log"
  if ((DEMO_TCP)); then
    if [[ $t_error != - ]]; then
      events_fault+="$(rel "$t_error")  reset: the waiting connection through isp1 ended with $error_name (failoverd destroyed it)"$'\n'
      ev+=("$t_error" "reset ($error_name)")
    else
      events_fault+="   (not seen)  reset: the waiting connection through isp1 got no error"$'\n'
    fi
    if [[ $t_reconnect != - ]]; then
      events_fault+="$(rel "$t_reconnect")  it reconnected through isp2   [$(lab_diff "$t_error" "$t_reconnect") s after the reset]"$'\n'
      ev+=("$t_reconnect" "reconnected via isp2")
    fi
  fi
  if ((DEMO_DNS)); then
    if [[ $t_dns != - ]]; then
      events_fault+="$(rel "$t_dns")  name lookup ok: $LAB_DNS_NAME through isp2's forwarder ($dns_failed failed before it)"$'\n'
      ev+=("$t_dns" "name lookup ok")
    else
      events_fault+="   (not seen)  name lookup: none succeeded within 10 s of the fault"$'\n'
    fi
  fi
  if ((DEMO_TCP)) && [[ $t_stream != - ]]; then
    events_fault+="$(rel "$t_stream")  a TCP stream (a line every 50 ms) opened through isp2 during the outage"$'\n'
    ev+=("$t_stream" "stream opened via isp2")
    if [[ $t_judged == - ]]; then
      events_back+="           the stream: not judged (no failback seen)"$'\n'
    elif [[ -z $stream_ended ]] && ((stream_after >= 40)); then
      events_back+="           the stream opened during the outage kept going through $(lab_isp_of_peer "$stream_peer") across the failback: $stream_echoes echoes, largest gap $stream_gap s ($stream_after after the failback)"$'\n'
      ev+=("$t_judged" "stream alive: $stream_after echoes since failback")
    else
      events_back+="           the stream opened during the outage broke at the failback: ${stream_ended:-only $stream_after echoes after it}"$'\n'
      ev+=("$t_judged" "stream broken")
    fi
  fi
  # The picture; a missing gnuplot costs the picture only, never the demo.
  local picture="timeline picture: $LAB_DIR/timeline.svg"
  if ! lab_timeline_data "$LAB_DIR/timeline" "$t_fault" isp1 2>"$LAB_DIR/timeline.svg.log"; then
    picture="no timeline picture: the logs did not convert ($(head -n 1 "$LAB_DIR/timeline.svg.log"))"
  elif ! demo_events_tsv "$LAB_DIR/timeline/events.tsv" "$t_fault" "${ev[@]}"; then
    picture="no timeline picture: the events did not convert"
  elif ! lab_timeline_svg "$LAB_DIR/timeline.svg" \
    "ispfailover demo: isp1's uplink down, then up again (profile $LAB_PROFILE)" \
    "isp1 link down" "$LAB_DIR/timeline" ispfailover ours "$(lab_diff "$t_fault" "$t_restore")"; then
    picture="no timeline picture: $(head -n 1 "$LAB_DIR/timeline.svg.log")"
  fi
  cat <<EOF

=== timeline (seconds from the fault; profile $LAB_PROFILE)
$(rel "$t_fault")  fault: ip link set up0 down on isp1
$(rel "$t_report")  isp1's ispprobed broadcasts state=down (first datagram, tcpdump on the client)
$(rel "$t_route")  client's default route moves to isp2 (${LAB_GW[isp2]})   [report -> route: $(lab_diff "$t_report" "$t_route") s]
           ping outage (largest gap between replies, 10 ms ping): $gap s
${events_fault}$(rel "$t_restore")  repair: ip link set up0 up on isp1
$(rel "$t_up")  isp1's ispprobed broadcasts state=up again
$(rel "$t_back")  client's default route back on isp1 (${LAB_GW[isp1]})   [failback: $(lab_diff "$t_restore" "$t_back") s after the repair]
           largest ping gap during failback: $gap_back s
${events_back}switches counted by failoverd: $(lab_status_get .switches)
logs: $LAB_DIR (isp1.log isp2.log failoverd.log ping.log routes.log datagrams.raw${more_logs})
$picture
EOF
}

cmd_demo() {
  [[ $EUID -eq 0 ]] || lab_die "the demo needs root: sudo lab/lab.sh demo"
  provision
  build
  lab_log "entering a private network namespace sandbox (destroyed on exit, also on Ctrl-C)"
  exec "$LAB_SANDBOX" env ISPF_BIN_DIR="$LAB_BIN_DIR" LAB_DIR="$LAB_DIR" LAB_ID="$LAB_ID" \
    bash "$LAB_SCRIPT" __demo
}

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    list) cmd_list ;;
    shell) cmd_shell "$@" ;;
    exec) cmd_exec "$@" ;;
    demo) cmd_demo ;;
    __hold) [[ "${ISPF_IN_SANDBOX:-}" == 1 ]] && hold ;;
    __demo) [[ "${ISPF_IN_SANDBOX:-}" == 1 ]] && demo ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
