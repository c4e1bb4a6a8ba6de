#!/usr/bin/env bash
# The one test command: installs what is missing (Debian 12, as root), builds, runs every ctest.
set -euo pipefail
cd "$(dirname "$0")"
./provision/install-build-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DISPF_WERROR=ON
cmake --build build -j"$(nproc)"
cd build
exec ctest --output-on-failure --timeout 900 "$@"
