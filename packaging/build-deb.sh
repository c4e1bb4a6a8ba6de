#!/usr/bin/env bash
# Builds the Debian package in BUILD_DIR and prints the path of the .deb.
#   packaging/build-deb.sh [--prebuilt] [BUILD_DIR]      (default: build-pkg)
# A BUILD_DIR without a CMake cache is configured for a release: prefix /usr, Debian's hardening
# flags (dpkg-buildflags), no tests. An existing one is built as it is configured, so the package
# then carries exactly the binaries that were tested there. --prebuilt packages the daemons as
# they are built in BUILD_DIR without building them again (the machine test does this).
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/.." && pwd)
prebuilt=0
if [[ ${1:-} == --prebuilt ]]; then
  prebuilt=1
  shift
fi
build_dir=$(realpath -m "${1:-$source_dir/build-pkg}")

for tool in cmake cpack dpkg-shlibdeps dpkg-buildflags gzip; do
  command -v "$tool" >/dev/null || {
    echo "build-deb: missing $tool (apt-get install cmake dpkg-dev gzip)" >&2
    exit 1
  }
done

if [[ ! -f $build_dir/CMakeCache.txt ]]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  # dpkg-buildflags: -O2, -D_FORTIFY_SOURCE=2, -fstack-protector-strong, relro, now.
  cmake -S "$source_dir" -B "$build_dir" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DISPF_BUILD_TESTS=OFF \
    -DCMAKE_CXX_FLAGS="$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
    -DCMAKE_EXE_LINKER_FLAGS="$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get LDFLAGS)" >&2
fi
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build_dir/CMakeCache.txt")
if [[ $prefix != /usr ]]; then
  # The package must install to /usr whatever the build dir's prefix is.
  echo "build-deb: $build_dir has CMAKE_INSTALL_PREFIX=$prefix; packaging for /usr" >&2
fi
if ((prebuilt)); then
  for bin in ispprobed failoverd; do
    [[ -x $build_dir/$bin ]] || { echo "build-deb: --prebuilt but no $build_dir/$bin" >&2; exit 1; }
  done
  cmake --build "$build_dir" --target ispf_compressed_docs >&2
else
  cmake --build "$build_dir" --target ispprobed failoverd ispf_compressed_docs -j"$(nproc)" >&2
fi
# CPack strips the binaries and runs dpkg-shlibdeps on them.
rm -rf "$build_dir/packages"
(cd "$build_dir" && cpack -G DEB -D CPACK_PACKAGING_INSTALL_PREFIX=/usr \
  --config "$build_dir/CPackConfig.cmake") >&2
deb=$(find "$build_dir/packages" -maxdepth 1 -name 'ispfailover_*.deb' -print -quit)
[[ -n $deb ]] || { echo "build-deb: cpack made no .deb in $build_dir/packages" >&2; exit 1; }
echo "$deb"
