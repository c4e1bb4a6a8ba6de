#!/usr/bin/env bash
# The failover walk-through of the Vagrant demo as one command, run on the host next to the
# Vagrantfile after `vagrant up`:
#
#   provision/walkthrough.sh [TARGET [TARGET6]]
#       TARGET: the host the client pings (default: the first IPv4 one of ISPF_TARGETS, or 8.8.8.8)
#       TARGET6: the IPv6 one (default: the first IPv6 one of ISPF_TARGETS, or 2001:4860:4860::8888)
#
# 1. the client pings TARGET continuously (a transient unit, `ping -D`: every reply timestamped),
#    and TARGET6 when the client has IPv6 via isp1 (failoverd's status says "IPv6 via isp1");
# 2. isp1's uplink is taken down (`sudo ispf-uplink down` on isp1, as `ip link set IFACE down`
#    in the original demo); the script waits until failoverd on the client carries the traffic
#    via isp2 (both families, when IPv6 is in use) and shows `systemctl status failoverd`;
# 3. after a while isp1's uplink comes back (`sudo ispf-uplink up`); the script waits for the
#    failback to isp1 and shows the status again;
# 4. it prints the timeline from inside the VMs: isp1's and the client's journals (ispprobed,
#    failoverd, the walk-through's own marks) merged by time, and the ping's gap.
# Exits 1 if the switch or the failback does not happen in time.
set -euo pipefail
cd "$(dirname "$0")/.."
export VAGRANT_CWD=${VAGRANT_CWD:-$PWD}
read -r -a default_targets <<<"${ISPF_TARGETS:-8.8.8.8 2001:4860:4860::8888}"
first_of_family() {  # $1: 4 or 6
  local t
  for t in "${default_targets[@]}"; do
    if [[ ($1 == 6 && $t == *:*) || ($1 == 4 && $t != *:*) ]]; then echo "$t"; return; fi
  done
}
target=${1:-$(first_of_family 4)}
target=${target:-8.8.8.8}
target6=${2:-$(first_of_family 6)}
target6=${target6:-2001:4860:4860::8888}
hold=${ISPF_WALK_HOLD:-10}        # seconds isp1 stays down
switch_timeout=${ISPF_WALK_TIMEOUT:-60}

step() { printf '\n=== [%s] %s\n' "$(date +%T)" "$*"; }
on() {
  local machine=$1
  shift
  vagrant ssh "$machine" -c "$*" -- -q -o LogLevel=ERROR </dev/null
}

# Waits inside the client until failoverd's status line names ISP (for IPv6 too when the client
# has IPv6); prints the client's time then.
wait_for_isp() {
  local six=""
  ((ipv6)) && six="*'IPv6 via $1'*"
  on client "for i in \$(seq $((switch_timeout * 10))); do
      s=\$(systemctl show -p StatusText --value failoverd)
      case \"\$s\" in 'via $1 '*$six) date +%s.%N; exit 0 ;; esac
      sleep 0.1; done; exit 1"
}

step "before: client's failoverd"
on client "systemctl status failoverd --no-pager -n 0 | sed -n '1,/^\$/p'; ip route show default"
on client "ip -6 route show default"
since=$(on client 'date +%s' | tr -d '\r')
ipv6=0
if [[ $(on client "systemctl show -p StatusText --value failoverd") == *"IPv6 via isp1"* ]]; then
  ipv6=1
fi

pings=(ispf-walk-ping)
((ipv6)) && pings+=(ispf-walk-ping6)
for unit in "${pings[@]}"; do
  if [[ $unit == *6 ]]; then host=$target6; else host=$target; fi
  step "client: ping -D $host (transient unit $unit)"
  on client "sudo systemctl stop $unit 2>/dev/null; sudo systemctl reset-failed $unit 2>/dev/null;
    sudo systemd-run --quiet --unit $unit ping -D -n -i 0.2 $host"
done
((ipv6)) || step "client: no IPv6 via isp1 (no IPv6 upstream): IPv4 only"
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
for unit in "${pings[@]}"; do
  on client "sudo systemctl kill -s INT $unit; sleep 1; sudo systemctl stop $unit 2>/dev/null || true"
done

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

for unit in "${pings[@]}"; do
step "client's ping during the walk-through ($unit)"
on client "sudo journalctl --no-pager -o cat -u $unit --since @$since" | tr -d '\r' |
  awk -v down="$t_switch" '
    /^\[[0-9.]+\].*icmp_seq=/ {
      t = substr($1, 2, length($1) - 2); match($0, /icmp_seq=[0-9]+/)
      seq = substr($0, RSTART + 9, RLENGTH - 9) + 0
      if (n && seq > last + 1) { printf "  gap: icmp_seq %d..%d lost (%.1f s without a reply, %s -> %s)\n", last + 1, seq - 1, t - tl, tl, t; lost += seq - last - 1 }
      last = seq; tl = t; n++ }
    /packets transmitted|rtt min/ { print "  " $0 }
    END { printf "  replies: %d, lost in gaps: %d\n", n, lost + 0 }'
done
printf '\nfailoverd on isp2 at %s (client clock), back on isp1 at %s\n' "$t_switch" "$t_failback"
