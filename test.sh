#!/usr/bin/env bash
# The one test command: installs what is missing (Debian 12, as root), builds, runs every ctest,
# after running the unit and kernel tests once more under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")"
./provision/install-build-deps.sh
jobs=$(nproc)

# Sanitizers first: a memory error in the core or an adapter fails the run before the long
# e2e, machine and vagrant tests.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DISPF_SANITIZE=ON -DISPF_WERROR=ON
cmake --build build-asan -j"$jobs" --target unit_tests kernel_tests
(cd build-asan && ctest --output-on-failure -L 'unit|kernel' --timeout 900)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DISPF_WERROR=ON
cmake --build build -j"$jobs"
cd build
exec ctest --output-on-failure --timeout 2400 "$@"
