#!/usr/bin/env bash
# The failover walk-through of the Vagrant demo as one command, run on the host next to the
# Vagrantfile after `vagrant up`:
#
#   provision/walkthrough.sh [TARGET]      (TARGET: the host the client pings, default 8.8.8.8,
#                                           or the first of ISPF_TARGETS)
#
# 1. the client pings TARGET continuously (a transient unit, `ping -D`: every reply timestamped);
# 2. isp1's uplink is taken down (`sudo ispf-uplink down` on isp1, as `ip link set IFACE down`
#    in the original demo); the script waits until failoverd on the client carries the traffic
#    via isp2 and shows `systemctl status failoverd`;
# 3. after a while isp1's uplink comes back (`sudo ispf-uplink up`); the script waits for the
#    failback to isp1 and shows the status again;
# 4. it prints the timeline from inside the VMs: isp1's and the client's journals (ispprobed,
#    failoverd, the walk-through's own marks) merged by time, and the ping's gap.
# Exits 1 if the switch or the failback does not happen in time.
set -euo pipefail
cd "$(dirname "$0")/.."
export VAGRANT_CWD=${VAGRANT_CWD:-$PWD}
read -r -a default_targets <<<"${ISPF_TARGETS:-8.8.8.8}"
target=${1:-${default_targets[0]}}
hold=${ISPF_WALK_HOLD:-10}        # seconds isp1 stays down
switch_timeout=${ISPF_WALK_TIMEOUT:-60}

step() { printf '\n=== [%s] %s\n' "$(date +%T)" "$*"; }
on() {
  local machine=$1
  shift
  vagrant ssh "$machine" -c "$*" -- -q -o LogLevel=ERROR </dev/null
}

# Waits inside the client until failoverd's status line names ISP; prints the client's time then.
wait_for_isp() {
  on client "for i in \$(seq $((switch_timeout * 10))); do
      systemctl show -p StatusText --value failoverd | grep -q 'via $1 ' && { date +%s.%N; exit 0; }
      sleep 0.1; done; exit 1"
}

step "before: client's failoverd"
on client "systemctl status failoverd --no-pager -n 0 | sed -n '1,/^\$/p'; ip route show default"
since=$(on client 'date +%s' | tr -d '\r')

step "client: ping -D $target (transient unit ispf-walk-ping)"
on client "sudo systemctl stop ispf-walk-ping 2>/dev/null; sudo systemctl reset-failed ispf-walk-ping 2>/dev/null;
  sudo systemd-run --quiet --unit ispf-walk-ping ping -D -n -i 0.2 $target"
sleep 3

step "isp1: uplink DOWN"
on isp1 "logger -t ispf-walkthrough 'isp1 uplink DOWN'; sudo ispf-uplink down"
if ! t_switch=$(wait_for_isp isp2 | tr -d '\r'); then
  echo "walkthrough: failoverd did not switch to isp2 within ${switch_timeout}s" >&2
  on client 'systemctl status failoverd --no-pager -n 20' || true
  exit 1
fi
step "client: failoverd after the switch"
on client "systemctl status failoverd --no-pager -n 5"
sleep "$hold"

step "isp1: uplink UP"
on isp1 "logger -t ispf-walkthrough 'isp1 uplink UP'; sudo ispf-uplink up"
if ! t_failback=$(wait_for_isp isp1 | tr -d '\r'); then
  echo "walkthrough: failoverd did not fail back to isp1 within ${switch_timeout}s" >&2
  on client 'systemctl status failoverd --no-pager -n 20' || true
  exit 1
fi
step "client: failoverd after the failback"
on client "systemctl status failoverd --no-pager -n 5"
sleep 2
on client "sudo systemctl kill -s INT ispf-walk-ping; sleep 1; sudo systemctl stop ispf-walk-ping 2>/dev/null || true"

# The timeline: journal lines of both VMs since the start, merged by their own timestamps, with
# the seconds since isp1's uplink went down.
journal_cmd="sudo journalctl --no-pager -o short-iso-precise --since @$since"
timeline=$(mktemp)
trap 'rm -f "$timeline"' EXIT
{
  on isp1 "$journal_cmd -t ispf-walkthrough; $journal_cmd -u ispprobed" | sed 's/^\([^ ]*\) [^ ]* /\1 isp1   /'
  on client "$journal_cmd -u failoverd" | sed 's/^\([^ ]*\) [^ ]* /\1 client /'
} | tr -d '\r' | grep -E '^[0-9]{4}-' | grep -v 'systemd\[1\]' | sort |
  awk '{ split(substr($1, 12, 15), t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]
         if (!d && /uplink DOWN/) d = s
         rel = d ? sprintf("%+8.3f s", s - d) : "          "
         $1 = substr($1, 12, 12) " " rel; print }' >"$timeline"
step "timeline (VM clocks; +s since isp1's uplink went down; isp1: ispprobed, client: failoverd)"
cat "$timeline"

step "client's ping during the walk-through"
on client "sudo journalctl --no-pager -o cat -u ispf-walk-ping --since @$since" | tr -d '\r' |
  awk -v down="$t_switch" '
    /^\[[0-9.]+\].*icmp_seq=/ {
      t = substr($1, 2, length($1) - 2); match($0, /icmp_seq=[0-9]+/)
      seq = substr($0, RSTART + 9, RLENGTH - 9) + 0
      if (n && seq > last + 1) { printf "  gap: icmp_seq %d..%d lost (%.1f s without a reply, %s -> %s)\n", last + 1, seq - 1, t - tl, tl, t; lost += seq - last - 1 }
      last = seq; tl = t; n++ }
    /packets transmitted|rtt min/ { print "  " $0 }
    END { printf "  replies: %d, lost in gaps: %d\n", n, lost + 0 }'
printf '\nfailoverd on isp2 at %s (client clock), back on isp1 at %s\n' "$t_switch" "$t_failback"
