#!/usr/bin/env bash
# Installs, from Debian's packages, what ispfailover needs to build, test and run its lab.
# Shared by the README's commands, .ci/run and the Vagrant provisioning. Idempotent.
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
  echo "install-build-deps: run as root (apt-get install needs it)" >&2
  exit 2
fi

packages=(
  # build
  cmake ninja-build g++ pkg-config
  libnl-3-dev libnl-route-3-dev libasio-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libsystemd-dev libcap-ng-dev libexpected-dev nlohmann-json3-dev libsodium-dev
  # tests and the lab: namespaces, routes, nftables, ping, captures
  iproute2 nftables iputils-ping tcpdump procps util-linux psmisc jq
  # the Debian package and the machine test (systemd-nspawn machines from an mmdebstrap tree)
  dpkg-dev lintian systemd-container mmdebstrap
)
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
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
