#!/usr/bin/env bash
# Installs, from Debian's packages, what ispfailover needs to build, test and run its lab.
# Shared by the README's commands, .ci/run and the Vagrant provisioning. Idempotent.
#
#   install-build-deps.sh [--build-only] [--print]
#
# --build-only: only what packaging/build-deb.sh needs to build the .deb (a Vagrant guest
# building the package from source: provision/build-in-guest.sh); no test or lab tools.
# --print: print the package list, one a line, and install nothing (no root needed; the
# guest-build test pre-installs exactly this list in its container).
set -euo pipefail

build_only=0 print=0
for arg in "$@"; do
  case $arg in
    --build-only) build_only=1 ;;
    --print) print=1 ;;
    *) echo "install-build-deps: unknown argument $arg (--build-only, --print)" >&2; exit 2 ;;
  esac
done

# What packaging/build-deb.sh needs: the compiler and libraries, dpkg-dev (dpkg-shlibdeps,
# dpkg-buildflags) and file (CPack's DEB generator runs it to find the binaries).
build_packages=(
  cmake ninja-build g++ pkg-config
  libnl-3-dev libnl-route-3-dev libasio-dev libspdlog-dev libfmt-dev libcli11-dev
  libsystemd-dev libcap-ng-dev libexpected-dev nlohmann-json3-dev libsodium-dev libnftables-dev
  libnetfilter-conntrack-dev
  dpkg-dev file
)
test_packages=(
  # unit tests
  libgtest-dev
  # tests and the lab: namespaces, routes, nftables, ping, captures
  iproute2 nftables iputils-ping tcpdump procps util-linux psmisc jq
  # the conntrack table as the kernel tests' witness (tests/kernel/conntrack_test.cc)
  conntrack
  # a router clock hours off (libfaketime; tests/e2e/14-clock-offset.sh)
  faketime
  # the timeline pictures of lab/lab.sh demo and bench/failover (lab/timeline.gp), and the XML
  # check of its unit test
  gnuplot-nox libxml2-utils
  # the Debian package and the machine tests (systemd-nspawn machines from an mmdebstrap tree;
  # ruby writes the Vagrantfile's source archive; time measures the in-guest build's memory)
  lintian systemd-container mmdebstrap ruby time
  # the metrics (tests/e2e/15-metrics.sh): promtool checks the files, the real node_exporter
  # serves them, curl fetches its page; neither service may run here (see below)
  prometheus prometheus-node-exporter curl
  # names resolve across a switch (tests/e2e/19-dns-follows-isp.sh): dnsmasq as the internet's
  # DNS server and as each ISP router's forwarder (the -base package has no service to start)
  dnsmasq-base
)
# Packages whose services must never start on a build or test machine: the tests run the
# binaries themselves, inside the lab's namespaces (bench/failover does the same for keepalived).
no_service_packages=(prometheus prometheus-node-exporter)
packages=("${build_packages[@]}")
((build_only)) || packages+=("${test_packages[@]}")

if ((print)); then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  echo "install-build-deps: run as root (apt-get install needs it)" >&2
  exit 2
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "install-build-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A policy-rc.d that says no (101) keeps the maintainer scripts from starting any service.
policy=/usr/sbin/policy-rc.d policy_backup=""
if [[ -e $policy ]]; then
  policy_backup=$(mktemp)
  cp -p "$policy" "$policy_backup"
fi
printf '#!/bin/sh\n# install-build-deps: no service starts while test packages install\nexit 101\n' \
  >"$policy"
chmod 755 "$policy"
rc=0
{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
  rc=$?
if [[ -n $policy_backup ]]; then mv "$policy_backup" "$policy"; else rm -f "$policy"; fi
# Nor at the next boot, nor pulled in by anything: masked (only those installed just now).
for package in "${no_service_packages[@]}"; do
  if [[ " ${missing[*]} " == *" $package "* ]]; then
    systemctl disable "$package.service" >/dev/null 2>&1 || true
    systemctl mask "$package.service" >/dev/null 2>&1 || true
  fi
done
exit "$rc"
