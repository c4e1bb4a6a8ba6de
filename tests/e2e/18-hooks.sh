#!/usr/bin/env bash
# e2e: a hook sees each switch within 1 s of the route change, and a hanging hook (run first, in
# lexical order) delays neither that hook nor the next switch; it is killed at --hook-timeout.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
lab_enter_sandbox "$0" "$@"
lab_require_tools jq
lab_require_daemons
lab_trap_cleanup
LAB_TEST_NAME=18-hooks
# Long enough that the hanging hook is still on the first event when failback happens.
hook_timeout=8
echo "== $LAB_TEST_NAME: hooks see switches within 1 s; a hanging hook delays nothing" \
  "(profile $LAB_PROFILE, logs in $LAB_DIR)"

lab_topology_up
hooks=$LAB_DIR/hooks.d
events=$LAB_DIR/hook-events.log
hangs=$LAB_DIR/hang.pids
mkdir -p "$hooks"
chmod 0755 "$hooks"
: >"$events"
# Hooks get a clean environment: paths are written into them.
cat >"$hooks/10-hang" <<HOOK
#!/bin/sh
sleep 1000 &
echo "\$\$ \$!" >>$hangs
wait
HOOK
cat >"$hooks/50-record" <<HOOK
#!/bin/sh
echo "\$(date +%s.%N) \$ISPF_EVENT \$ISPF_FROM \$ISPF_TO \$ISPF_REASON seq=\$ISPF_SEQ" >>$events
echo "recorded \$ISPF_EVENT"
HOOK
# Not hooks: a backup file and one that others may write.
cp "$hooks/50-record" "$hooks/50-record~"
cp "$hooks/50-record" "$hooks/60-open"
chmod 0755 "$hooks/10-hang" "$hooks/50-record" "$hooks/50-record~"
chmod 0777 "$hooks/60-open"

lab_start_probed isp1
lab_start_probed isp2
# The hook options as config-file keys (or options, with LAB_CONFIG_MODE=cli).
lab_start_daemon failoverd client failoverd < <(lab_failoverd_conf "$LAB_PROFILE"
  printf '%s\n' "hook-dir=$hooks" "hook-timeout=${hook_timeout}s")
lab_check_within "route via isp1" 15 lab_route_is "${LAB_GW[isp1]}"

# When the recording hook saw `switch FROM TO`: its first such line at or after AFTER.
seen_at() {
  awk -v from="$1" -v to="$2" -v after="$3" \
    '!found && $1 >= after && $2 == "switch" && $3 == from && $4 == to { print $1; found = 1 }' \
    "$events"
}
seen() { [[ -n "$(seen_at "$@")" ]]; }
logged() { grep -q -- "$1" "$LAB_DIR/failoverd.log"; }
not_logged() { ! logged "$1"; }
# Seconds from the route change to the hook's record (both on this host's clock).
lag_ok() {
  local route=$1 hook=$2
  awk -v r="$route" -v h="$hook" 'BEGIN { d = h - r; printf "   route change -> hook: %.3f s\n", d;
    exit !(r != "-" && d >= 0 && d < 1) }'
}

lab_watch_routes_start
t0=$(lab_now)
echo "-- isp1: ip link set up0 down"
lab_link_down isp1
lab_check_within "route via isp2" 5 lab_route_is "${LAB_GW[isp2]}"
lab_check_within "the recording hook saw: switch isp1 isp2" 3 seen isp1 isp2 "$t0"
lab_check "it saw it within 1 s of the route change" \
  lag_ok "$(lab_first_route "${LAB_GW[isp2]}" "$t0")" "$(seen_at isp1 isp2 "$t0")"
lab_check "its reason is link-down" grep -q " switch isp1 isp2 link-down " "$events"
lab_check_within "the hanging hook is running" 3 test -s "$hangs"
lab_check "its output reached the log" logged "hook 50-record: recorded switch"

t1=$(lab_now)
echo "-- isp1: ip link set up0 up (failback; 10-hang still hangs on the first event)"
lab_link_up isp1
lab_check_within "route back via isp1" 15 lab_route_is "${LAB_GW[isp1]}"
lab_check_within "the recording hook saw: switch isp2 isp1" 3 seen isp2 isp1 "$t1"
lab_check "it saw it within 1 s of the route change" \
  lag_ok "$(lab_first_route "${LAB_GW[isp1]}" "$t1")" "$(seen_at isp2 isp1 "$t1")"
# 10-hang's first run began with the first event after start and has not been killed yet: the
# failback reached 50-record (after 10-hang in lexical order) while 10-hang hung.
lab_check "the hanging hook's first run was still going then" not_logged "hook 10-hang killed"
lab_check "isp-state events too, numbered" grep -q " isp-state .*seq=[0-9]" "$events"

# The first run of 10-hang (and its sleep) dies at the timeout.
read -r hang_pid sleep_pid <"$hangs"
gone() { [[ ! -e /proc/$1 ]] || [[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" == Z ]]; }
lab_check_within "10-hang killed after its ${hook_timeout}s timeout" $((hook_timeout + 3)) \
  logged "hook 10-hang killed after ${hook_timeout}.00s timeout"
lab_check_within "its sleep died with it" 2 gone "$sleep_pid"
lab_check "and the hook itself" gone "$hang_pid"
lab_check "the backup file never ran" test "$(grep -c . "$events")" -eq \
  "$(grep -c "hook 50-record exited 0" "$LAB_DIR/failoverd.log")"
lab_check "the writable hook was refused with the fix" logged "chmod go-w $hooks/60-open"

# 10-hang runs again at once on the events that queued up meanwhile; a reload with a shorter
# timeout applies to that run too.
if [[ $LAB_CONFIG_MODE == file ]]; then
  echo "-- failoverd.conf: hook-timeout = \"2s\"; SIGHUP"
  sed -i 's/^hook-timeout = .*/hook-timeout = "2s"/' "$LAB_DIR/failoverd.conf"
  kill -HUP "$(lab_pid failoverd)"
  lab_check_within "the reload's 2 s timeout kills 10-hang's next run" 4 \
    logged "hook 10-hang killed after 2.00s timeout"
fi
lab_watch_routes_stop
echo "   hook events:"
sed 's/^/     /' "$events"
grep "hook " "$LAB_DIR/failoverd.log" | sed -n '1,20s/^/     /p'

lab_finish "$LAB_TEST_NAME"
