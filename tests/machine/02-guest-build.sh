#!/usr/bin/env bash
# machine: `vagrant up` without a prebuilt package, without a VM. A Debian 12 container runs the
# guest's own build script on the source archive the Vagrantfile would upload, installs the
# result as the provisioning does, and the machine test's checks then run against that package.
#
#   1. the source archive, written by provision/source_archive.rb (the Vagrantfile's code) from
#      ISPF_SOURCE_DIR: checked to carry CMakeLists.txt and no build tree, .git or .vagrant;
#   2. a Debian 12 tree (mmdebstrap, tests/machine/lib-rootfs.sh, cached) with what a Vagrant box
#      has (systemd, passwd) and the build dependencies pre-installed (the list printed by
#      provision/install-build-deps.sh --build-only --print): the container has no network, and
#      the guest script's own install-build-deps.sh then finds nothing missing;
#   3. provision/build-in-guest.sh in systemd-nspawn (--private-network, a throw-away overlay over
#      the tree), with /tmp/ispf as a guest has it after the file provisioners; prints
#      `in-guest build: N s` (wall, on this machine's CPUs), the CPU time (what one CPU, as the
#      Vagrantfile gives each machine, has to do) and the largest process's peak RSS;
#   4. provision/common.sh's install_package in a second container: the .deb installs offline;
#   5. tests/machine/01-systemd-machines.sh with ISPF_MACHINE_DEB set to that .deb.
#
# Network: only mmdebstrap reaches Debian's mirrors (the host's own apt sources, as in 01); the
# containers have no network at all, and 01 runs in its netns sandbox. Exit 77: cannot run here.
set -euo pipefail
ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
ISPF_BIN_DIR=${ISPF_BIN_DIR:-$ISPF_SOURCE_DIR/build}
export ISPF_SOURCE_DIR ISPF_BIN_DIR

NAME=02-guest-build
SUITE=bookworm
CACHE_DIR=$ISPF_BIN_DIR/machine-cache
WORK=$ISPF_BIN_DIR/guest-build
# What every Vagrant box has that the build dependencies do not pull in: the package depends on
# systemd (sysusers) and passwd.
BOX_PACKAGES=(systemd passwd)

skip() {
  echo "SKIP: $NAME: $*"
  exit 77
}
fail() {
  echo "FAIL: $NAME: $*"
  exit 1
}
ok() { echo "  ok    $*"; }

# shellcheck source=tests/machine/lib-rootfs.sh
source "$ISPF_SOURCE_DIR/tests/machine/lib-rootfs.sh"

[[ $EUID -eq 0 ]] || skip "needs root (mmdebstrap, systemd-nspawn)"
missing=()
for tool in systemd-nspawn mmdebstrap ruby tar sha256sum dpkg-deb; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
((${#missing[@]} == 0)) ||
  skip "missing tools: ${missing[*]} (provision/install-build-deps.sh installs them)"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
  skip "the kernel has no overlay filesystem (systemd-nspawn --volatile=overlay)"
start=$SECONDS
echo "== $NAME: the package built inside a Debian 12 container as a Vagrant guest builds it"

# --- 1. The source archive, as the Vagrantfile writes it.
rm -rf "$WORK"
mkdir -p "$WORK/ispf"
archive=$WORK/ispf/ispf-source.tar.gz
ruby "$ISPF_SOURCE_DIR/provision/source_archive.rb" "$ISPF_SOURCE_DIR" "$archive" | sed 's/^/   /'
tar -tzf "$archive" >"$WORK/archive.list"
for must in CMakeLists.txt provision/install-build-deps.sh packaging/build-deb.sh src/core/config.cc; do
  grep -qx "$must" "$WORK/archive.list" || fail "the source archive lacks $must"
done
ok "the source archive carries CMakeLists.txt, the scripts and the sources"
junk=$(grep -E '^(build[^/]*|\.git|\.vagrant)/|(^|/)\.git/' "$WORK/archive.list" | head -5 || true)
[[ -z $junk ]] || fail "the source archive carries build trees or VCS files: $junk"
ok "no build tree, .git or .vagrant in it ($(find "$ISPF_SOURCE_DIR" -maxdepth 1 -name 'build*' -type d | wc -l) build dir(s) beside the source)"

# --- 2. The build container's tree.
mapfile -t build_deps < <(bash "$ISPF_SOURCE_DIR/provision/install-build-deps.sh" --build-only --print)
rootfs_build guest-build "$(IFS=,; echo "${BOX_PACKAGES[*]},${build_deps[*]}")"

# /tmp/ispf as the file provisioners leave it in a guest: the archive, common.sh, and the shell
# provisioner's script (Vagrant uploads it from the host's tree).
cp "$ISPF_SOURCE_DIR/provision/common.sh" "$ISPF_SOURCE_DIR/provision/build-in-guest.sh" "$WORK/ispf/"

# A container over the cached tree: no network, changes in a tmpfs overlay that goes with it.
in_guest=(systemd-nspawn --quiet --register=no --keep-unit --private-network --volatile=overlay
  --directory="$ROOTFS" --bind="$WORK/ispf:/tmp/ispf" --machine=ispf-guest-build)

# --- 3. The build. All of this machine's CPUs, to keep the test short; GNU time adds the CPU
# time (user + sys of every process: what a one-CPU guest has to get through) and the peak RSS.
timer=()
[[ -x /usr/bin/time ]] && timer=(/usr/bin/time -f '%U %S %M' -o "$WORK/rusage")
echo "-- provision/build-in-guest.sh in the container (log: $WORK/build.log; load average $(cut -d' ' -f1-3 /proc/loadavg))"
t0=$SECONDS
if ! "${timer[@]}" "${in_guest[@]}" /bin/bash /tmp/ispf/build-in-guest.sh >"$WORK/build.log" 2>&1; then
  tail -n 40 "$WORK/build.log"
  fail "provision/build-in-guest.sh failed in the container"
fi
build_s=$((SECONDS - t0))
# (systemd-nspawn's own complaint at exit on a host whose PID 1 is not systemd is left out.)
grep -v '^Attempted to remove disk file system' "$WORK/build.log" | sed 's/^/   /'
deb=$WORK/ispf/ispfailover.deb
[[ -f $deb ]] || fail "provision/build-in-guest.sh left no $deb"
[[ $(dpkg-deb -f "$deb" Package) == ispfailover ]] || fail "$deb is not the ispfailover package"
ok "built $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) ($(stat -c %s "$deb") bytes)"
# The tree has every build dependency: the guest's install step must have found nothing to do
# (it could not have: no network), so the time below is the build's alone.
if grep -q '^install-build-deps: installing' "$WORK/build.log"; then
  fail "install-build-deps.sh --build-only found packages missing from the container's tree"
fi
echo "in-guest build: $build_s s (wall, $(nproc) CPUs, build dependencies pre-installed; load average after $(cut -d' ' -f1-3 /proc/loadavg))"
if [[ -s $WORK/rusage ]]; then
  read -r user_s sys_s peak_kib < <(tail -n 1 "$WORK/rusage")
  echo "in-guest build CPU time: $(awk -v u="$user_s" -v s="$sys_s" 'BEGIN { printf "%.0f", u + s }') s (user $user_s s, sys $sys_s s)"
  echo "in-guest build peak RSS: $((peak_kib / 1024)) MiB (the largest single process)"
else
  echo "   note: /usr/bin/time missing (apt-get install time): no CPU time or peak RSS"
fi

# --- 4. Installed as provision/isp.sh and client.sh install it: install_package, offline.
# shellcheck disable=SC2016  # expanded in the container
if ! "${in_guest[@]}" /bin/bash -c 'source /tmp/ispf/common.sh && install_package &&
    test -x /usr/sbin/failoverd && test -x /usr/sbin/ispprobed && getent passwd failoverd' \
    >"$WORK/install.log" 2>&1; then
  cat "$WORK/install.log"
  fail "install_package (provision/common.sh) of the in-guest package failed in the container"
fi
ok "installed in the container: $(grep -o 'installed ispfailover.*' "$WORK/install.log")"

# --- 5. The machine test's checks against the in-guest package.
echo "-- tests/machine/01-systemd-machines.sh with ISPF_MACHINE_DEB=$deb"
rc=0
ISPF_MACHINE_DEB=$deb bash "$ISPF_SOURCE_DIR/tests/machine/01-systemd-machines.sh" || rc=$?
((rc != 77)) || skip "the machine test cannot run here (above); the in-guest build itself passed"
((rc == 0)) || fail "the machine test's checks failed against the in-guest package"
echo "in-guest build: $build_s s; $NAME passed in $((SECONDS - start)) s"
