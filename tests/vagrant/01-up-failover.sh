#!/usr/bin/env bash
# A real `vagrant up --provider=libvirt` of the project's Vagrantfile (isp1, isp2, client), the
# failover walk-through driven with `vagrant ssh` (provision/walkthrough.sh), the switch checked
# in `systemctl status failoverd` and the journal, then `vagrant destroy -f`.
#
# Network safety: libvirtd, virtlogd, dnsmasq, qemu and vagrant run inside
# tests/support/netns-sandbox: a network namespace with no link to anything outside it, so
# libvirt's NAT networks and every VM reach only that namespace. The "internet" the ISPs probe
# and the client pings is 198.51.100.8 and 2001:db8:100::8 (documentation addresses) on the
# namespace's loopback; the uplink network has IPv6 (ISPF_LIBVIRT_UPLINK_IPV6, 2001:db8:ffff::/64)
# so that both families fail over.
# libvirt's state and config live in the build tree, bind-mounted over /etc/libvirt,
# /var/lib/libvirt, /run/libvirt... in the sandbox's own mount namespace.
#
# Before that, in the root namespace: apt-get install of vagrant, vagrant-libvirt, libvirt and
# qemu with every service start blocked (policy-rc.d exits 101), the .deb
# (packaging/build-deb.sh on ISPF_BIN_DIR), and a local Debian 12 box made with mmdebstrap
# (tests/vagrant/make-box.sh, cached in ISPF_BIN_DIR/vagrant-test/box).
#
# Exit 77 (skipped) where no virtualization is possible at all, or the machine is too small.
# For a developer: ISPF_DEB=PATH uses that .deb instead of building one; on a failure,
# ISPF_VAGRANT_KEEP_ON_FAILURE=SECONDS keeps the machines up that long before the destroy
# (reach them with nsenter into the sandbox, VAGRANT_DOTFILE_PATH=ISPF_BIN_DIR/vagrant-test/run/dotvagrant).
set -euo pipefail
source_dir=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin_dir=${ISPF_BIN_DIR:-$source_dir/build}
work=$bin_dir/vagrant-test
target=198.51.100.8
target6=2001:db8:100::8
log() { printf '[vagrant-test %s] %s\n' "$(date +%T)" "$*" >&2; }
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }

if [[ $EUID -ne 0 ]]; then skip "needs root (apt-get, libvirtd, network namespaces)"; fi

# ---------------------------------------------------------------------------------------------
# Root namespace: packages, package, box. Then re-executed inside the sandbox.
if [[ "${ISPF_IN_SANDBOX:-}" != 1 ]]; then
  mem_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
  ((mem_kib > 6 * 1024 * 1024)) ||
    skip "needs about 6 GiB of free memory for 3 VMs (≈1.4 GiB each under qemu); $((mem_kib / 1024)) MiB free"

  packages=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
    qemu-system-x86 qemu-utils dnsmasq-base iptables mmdebstrap e2fsprogs openssh-client
    dpkg-dev cmake)
  missing=()
  for p in "${packages[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == *"install ok installed"* ]] || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]} (service starts blocked by policy-rc.d)"
    made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\n# ispfailover vagrant test: no service starts during the install\nexit 101\n' \
        >/usr/sbin/policy-rc.d
      chmod 0755 /usr/sbin/policy-rc.d
      made_policy=1
    fi
    rc=0
    {
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"
    } >"$bin_dir/vagrant-test-apt.log" 2>&1 || rc=$?
    ((made_policy)) && rm -f /usr/sbin/policy-rc.d
    if ((rc)); then
      tail -20 "$bin_dir/vagrant-test-apt.log" >&2
      echo "apt-get install failed (log: $bin_dir/vagrant-test-apt.log)" >&2
      exit 1
    fi
  fi

  # Virtualization: /dev/kvm is not required (the VMs run under TCG: the issue's measurements
  # show this machine's KVM cannot boot a stock Debian kernel), but qemu's TCG must work.
  if ! echo quit | timeout 60 qemu-system-x86_64 -machine none -accel tcg -display none \
      -nodefaults -monitor stdio >/dev/null 2>&1; then
    skip "no usable virtualization: qemu-system-x86_64 cannot start a TCG machine here$([[ -e /dev/kvm ]] || echo ', and there is no /dev/kvm')"
  fi

  mkdir -p "$work"
  if [[ -n ${ISPF_DEB:-} ]]; then
    deb=$ISPF_DEB
  else
    log "building the package (packaging/build-deb.sh $bin_dir)"
    deb=$("$source_dir/packaging/build-deb.sh" "$bin_dir" 2>"$work/build-deb.log" | tail -1) || {
      tail -20 "$work/build-deb.log" >&2
      echo "packaging/build-deb.sh failed" >&2
      exit 1
    }
  fi
  log "package: $deb"
  # The VMs reach no mirror: the box carries the package's dependencies.
  read -r -a deps <<<"$(dpkg-deb -f "$deb" Depends | tr ',' '\n' |
    sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/[[:space:]]//g' | grep -v '^$' | sort -u | tr '\n' ' ')"
  log "box: Debian 12 with mmdebstrap (cached) + ${deps[*]}"
  "$source_dir/tests/vagrant/make-box.sh" "$work/box" "${deps[@]}" >&2
  export ISPF_DEB=$deb
  exec "$source_dir/tests/support/netns-sandbox" bash "$0" "$@"
fi

# ---------------------------------------------------------------------------------------------
# Inside the sandbox: own network, mount and PID namespaces; everything dies with it.
run=$work/run
rm -rf "$run"
mkdir -p "$run"/{etc-libvirt,var-lib-libvirt,var-cache-libvirt,log-libvirt,run-libvirt,images,serial,vagrant.d,dotvagrant,pid}
ip link set lo up
ip addr add "$target/32" dev lo
ip -6 addr add "$target6/128" dev lo nodad
if ip -o link show | awk -F': ' '{ print $2 }' | grep -vqx lo; then
  echo "the sandbox has interfaces other than lo: refusing to run" >&2
  exit 1
fi

# libvirt's files: a fresh copy of the packaged config, state in the build tree.
cp -a /etc/libvirt/. "$run/etc-libvirt/"
rm -f "$run"/etc-libvirt/qemu/networks/autostart/*.xml "$run"/etc-libvirt/qemu/networks/default.xml
cat >>"$run/etc-libvirt/qemu.conf" <<'EOF'

# ispfailover vagrant test (sandbox): root, no cgroups, no security driver.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
EOF
mount --bind "$run/etc-libvirt" /etc/libvirt
mount --bind "$run/var-lib-libvirt" /var/lib/libvirt
mount --bind "$run/var-cache-libvirt" /var/cache/libvirt 2>/dev/null || true
mkdir -p /var/log/libvirt /run/libvirt
mount --bind "$run/log-libvirt" /var/log/libvirt
mount --bind "$run/run-libvirt" /run/libvirt
mkdir -p /var/lib/libvirt/{qemu,dnsmasq,network,boot}

log "starting virtlogd and libvirtd inside the sandbox"
virtlogd --daemon --pid-file "$run/pid/virtlogd.pid"
libvirtd --daemon --pid-file "$run/pid/libvirtd.pid"
for ((i = 0; i < 100; i++)); do
  virsh -c qemu:///system version >/dev/null 2>&1 && break
  sleep 0.2
done
virsh -c qemu:///system version >/dev/null 2>&1 || { echo "libvirtd did not start" >&2; exit 1; }
virsh -q -c qemu:///system pool-define-as default dir --target "$run/images" >/dev/null
virsh -q -c qemu:///system pool-start default >/dev/null

export VAGRANT_HOME=$run/vagrant.d
export VAGRANT_DOTFILE_PATH=$run/dotvagrant
export VAGRANT_CWD=$source_dir
export VAGRANT_DEFAULT_PROVIDER=libvirt
export VAGRANT_CHECKPOINT_DISABLE=1
export VAGRANT_NO_COLOR=1
export ISPF_BOX=ispf-debian12-local
export ISPF_LIBVIRT_DRIVER=qemu
export ISPF_LIBVIRT_KERNEL=$work/box/vmlinuz
export ISPF_LIBVIRT_INITRD=$work/box/initrd.img
export ISPF_LIBVIRT_CMDLINE="root=/dev/vda rw console=ttyS0 net.ifnames=0 biosdevname=0 quiet"
export ISPF_LIBVIRT_SERIAL_DIR=$run/serial
export ISPF_TARGETS="$target $target6"
export ISPF_LIBVIRT_UPLINK_IPV6=2001:db8:ffff::1/64

cleanup() {
  local rc=$?
  if ((rc != 0)); then
    log "FAILED; serial consoles and libvirt logs under $run"
    for f in "$run"/serial/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -15 "$f"; }; done >&2
    if [[ -n ${ISPF_VAGRANT_KEEP_ON_FAILURE:-} ]]; then
      # For a developer: the machines stay up this many seconds (nsenter into this sandbox).
      log "keeping the machines for ${ISPF_VAGRANT_KEEP_ON_FAILURE}s (sandbox PID $$ inside)"
      sleep "$ISPF_VAGRANT_KEEP_ON_FAILURE"
    fi
  fi
  log "vagrant destroy -f"
  timeout 300 vagrant destroy -f >"$run/destroy.log" 2>&1 || log "vagrant destroy failed (see $run/destroy.log)"
}
trap cleanup EXIT

vagrant box add --force --name "$ISPF_BOX" "$work/box/ispf-debian12.box" >"$run/box-add.log" 2>&1 ||
  { cat "$run/box-add.log" >&2; exit 1; }

log "vagrant up --provider=libvirt (isp1, isp2, client; qemu TCG)"
start=$(date +%s)
if ! vagrant up --provider=libvirt >"$run/up.log" 2>&1; then
  tail -40 "$run/up.log" >&2
  echo "vagrant up failed (log: $run/up.log)" >&2
  exit 1
fi
log "vagrant up took $(($(date +%s) - start)) s"
grep -E 'ispf-provision' "$run/up.log" >&2 || true

# Safety: nothing in this namespace routes anywhere but its own bridges.
if [[ -n "$(ip -4 route show default)$(ip -6 route show default)" ]]; then
  echo "the sandbox has a default route: refusing to go on" >&2
  exit 1
fi

failures=0
check() {
  local what=$1
  shift
  if "$@"; then log "ok: $what"; else log "FAIL: $what"; failures=$((failures + 1)); fi
}
on() { local m=$1; shift; vagrant ssh "$m" -c "$*" -- -q -o LogLevel=ERROR </dev/null | tr -d '\r'; }

is_active() { [[ $(on "$1" "systemctl is-active $2") == active ]]; }
only_route_via_isp1() {
  [[ $(grep -c . <<<"$1") == 1 && $1 == *"via 192.168.56.101"* && $1 == *"proto ispfailover"* ]]
}
check "ispprobed active on isp1" is_active isp1 ispprobed
check "ispprobed active on isp2" is_active isp2 ispprobed
check "failoverd active on the client" is_active client failoverd
routes=$(on client 'ip -4 route show default')
log "client default routes: $routes"
check "the client's only default route is failoverd's via isp1" only_route_via_isp1 "$routes"
# IPv6: failoverd's route via isp1's LAN address, with the client's address in isp1's prefix.
only_route6_via_isp1() {
  [[ $(grep -c . <<<"$1") == 1 && $1 == *"via fd56:1::101 "* && $1 == *"proto ispfailover"* &&
    $1 == *"src fd56:1::200 "* ]]
}
routes6=$(on client 'ip -6 route show default')
log "client IPv6 default routes: $routes6"
check "the client's only IPv6 default route is failoverd's via isp1, source in isp1's prefix" \
  only_route6_via_isp1 "$routes6"
check "the client reaches $target6 over IPv6" on client "ping -6 -n -c 3 -i 0.2 -W 2 $target6 >/dev/null"

log "walk-through (provision/walkthrough.sh $target $target6)"
if ! bash "$source_dir/provision/walkthrough.sh" "$target" "$target6" 2>&1 | tee "$run/walkthrough.log"; then
  failures=$((failures + 1))
fi
check "walk-through completed (switch and failback)" grep -q '^failoverd on isp2 at' "$run/walkthrough.log"
check "systemctl status failoverd named isp2 while isp1 was down" \
  grep -q 'Status: "via isp2 192.168.56.102' "$run/walkthrough.log"
check "systemctl status failoverd named isp1 after the failback" \
  grep -q 'Status: "via isp1 192.168.56.101' "$run/walkthrough.log"
journal=$(on client 'sudo journalctl -u failoverd --no-pager -o cat')
check "the journal has the switch isp1 -> isp2" grep -q 'switch isp1 -> isp2' <<<"$journal"
check "the journal has the failback isp2 -> isp1" grep -q 'failback isp2 -> isp1' <<<"$journal"
check "the journal tells the management default route was deleted" \
  grep -q 'deleted the foreign default route via 192.168.121.1' <<<"$journal"
check "the client's ping got replies through the ISPs" grep -q 'replies: [1-9]' "$run/walkthrough.log"
check "systemctl status failoverd named isp2 for IPv6 while isp1 was down" \
  grep -q 'Status: "via isp2 .*; IPv6 via isp2' "$run/walkthrough.log"
check "the client's IPv6 ping ran and got replies through the ISPs" \
  awk '/\(ispf-walk-ping6\)/ { six = 1 } six && /replies: [1-9]/ { ok = 1 } END { exit !ok }' \
  "$run/walkthrough.log"
check "the journal has the IPv6 switch isp1 -> isp2" grep -q 'IPv6: switch isp1 -> isp2' <<<"$journal"

if ((failures)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "vagrant up + walk-through: all checks passed"
