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
                   with gnuplot), tear down
  shell HOST       interactive shell on a host of the running lab ($HOSTS)
  exec HOST CMD... run a command on a host of the running lab
  down             stop the running lab (every namespace and process goes with it)
  list             running labs
Env: ISPF_BIN_DIR (build dir with ispprobed/failoverd; default $LAB_BIN_DIR), LAB_DIR (logs,
configs), LAB_ID (which lab, when several are up), LAB_PROFILE, LAB_NO_BUILD=1 (demo: skip build).
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

# Inside the sandbox: the link-down scenario with a timeline.
demo() {
  local t_fault t_restore t_report t_route t_up t_back end gap gap_back
  lab_trap_cleanup
  lab_up_with_daemons || lab_die "the lab did not converge on isp1"
  lab_watch_datagrams_start
  lab_watch_routes_start
  lab_ping_start
  sleep 2
  stage "steady state: traffic via isp1"

  t_fault=$(lab_now)
  lab_link_down isp1
  lab_log "fault: isp1's uplink (up0) set down"
  lab_wait_until 15 lab_route_is "${LAB_GW[isp2]}" || lab_log "the route did not move to isp2!"
  sleep 1
  stage "after the fault: traffic via isp2"
  sleep 2

  t_restore=$(lab_now)
  lab_link_up isp1
  lab_log "repair: isp1's uplink set up again; failoverd waits --failback-after before moving back"
  lab_wait_until 20 lab_route_is "${LAB_GW[isp1]}" || lab_log "the route did not return to isp1!"
  sleep 1
  stage "after the repair: traffic back via isp1"
  end=$(lab_now)
  lab_ping_stop
  lab_watch_datagrams_stop
  lab_watch_routes_stop

  t_report=$(lab_first_datagram isp1 down "$t_fault")
  t_route=$(lab_first_route "${LAB_GW[isp2]}" "$t_fault")
  t_up=$(lab_first_datagram isp1 up "$t_restore")
  t_back=$(lab_first_route "${LAB_GW[isp1]}" "$t_restore")
  read -r gap _ _ < <(lab_ping_gap "$LAB_DIR/ping.log" "$t_fault" "$t_restore")
  read -r gap_back _ _ < <(lab_ping_gap "$LAB_DIR/ping.log" "$t_restore" "$end")
  rel() { local d; d=$(lab_diff "$t_fault" "$1"); [[ $d == - ]] && echo "   (not seen)" || printf '%+9.3f s' "$d"; }
  # The picture; a missing gnuplot costs the picture only, never the demo.
  local picture="timeline picture: $LAB_DIR/timeline.svg"
  if ! lab_timeline_data "$LAB_DIR/timeline" "$t_fault" isp1 2>"$LAB_DIR/timeline.svg.log"; then
    picture="no timeline picture: the logs did not convert ($(head -n 1 "$LAB_DIR/timeline.svg.log"))"
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
$(rel "$t_restore")  repair: ip link set up0 up on isp1
$(rel "$t_up")  isp1's ispprobed broadcasts state=up again
$(rel "$t_back")  client's default route back on isp1 (${LAB_GW[isp1]})   [failback: $(lab_diff "$t_restore" "$t_back") s after the repair]
           largest ping gap during failback: $gap_back s
switches counted by failoverd: $(lab_status_get .switches)
logs: $LAB_DIR (isp1.log isp2.log failoverd.log ping.log routes.log datagrams.raw)
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
