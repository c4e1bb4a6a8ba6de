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
  libsystemd-dev libcap-ng-dev libexpected-dev nlohmann-json3-dev libsodium-dev
  dpkg-dev file
)
test_packages=(
  # unit tests
  libgtest-dev
  # tests and the lab: namespaces, routes, nftables, ping, captures
  iproute2 nftables iputils-ping tcpdump procps util-linux psmisc jq
  # a router clock hours off (libfaketime; tests/e2e/14-clock-offset.sh)
  faketime
  # the Debian package and the machine tests (systemd-nspawn machines from an mmdebstrap tree;
  # ruby writes the Vagrantfile's source archive; time measures the in-guest build's memory)
  lintian systemd-container mmdebstrap ruby time
)
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
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
