#!/usr/bin/env bash
# Vagrant without a prebuilt package: builds the project's .deb inside the guest from the source
# archive the Vagrantfile uploaded, with the host path's own scripts, and leaves it where
# provision/common.sh installs it from.
#
#   build-in-guest.sh [ARCHIVE [OUT]]   (defaults /tmp/ispf/ispf-source.tar.gz, /tmp/ispf/ispfailover.deb)
#
# As root. The source is unpacked into a clean directory (ISPF_GUEST_BUILD_DIR, default
# /var/tmp/ispf-build), provision/install-build-deps.sh --build-only installs the compiler and
# the -dev packages (apt-get update only when something is missing), packaging/build-deb.sh builds
# a release package there. The package is kept with the archive's SHA-256: `vagrant provision`
# of an unchanged tree reuses it instead of building again.
set -euo pipefail
archive=${1:-/tmp/ispf/ispf-source.tar.gz}
out=${2:-/tmp/ispf/ispfailover.deb}
work=${ISPF_GUEST_BUILD_DIR:-/var/tmp/ispf-build}

log() { printf 'ispf-build: %s\n' "$*"; }
die() { printf 'ispf-build: ERROR: %s\n' "$*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root (apt-get install of the build dependencies)"
[[ -f $archive ]] || die "$archive missing: the Vagrantfile uploads it when there is no prebuilt package"

sum=$(sha256sum "$archive" | cut -d' ' -f1)
if [[ -f $work/package.deb && $(cat "$work/source.sha256" 2>/dev/null) == "$sum" ]]; then
  log "the source is unchanged since the last build: reusing $work/package.deb"
  install -D -m 0644 "$work/package.deb" "$out"
  exit 0
fi

rm -rf "$work"
mkdir -p "$work/src"
tar -xzf "$archive" -C "$work/src" --no-same-owner
log "source unpacked into $work/src ($(find "$work/src" -type f | wc -l) files)"

t0=$SECONDS
bash "$work/src/provision/install-build-deps.sh" --build-only
deps_s=$((SECONDS - t0))

# One compiler process peaks near 800 MiB (measured by tests/machine/02-guest-build.sh): below
# about 1.2 GiB the kernel may kill it, which reads like a compiler crash.
mem_mib=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
if ((mem_mib < 1200)); then
  log "warning: ${mem_mib} MiB of memory; the build may be killed for lack of it (ISPF_MEMORY=1536)"
fi

t0=$SECONDS
log "building the package (packaging/build-deb.sh, $(nproc) CPU(s); log: $work/build.log)"
# The build tree sits beside the source, not in it: the source stays as uploaded.
if ! deb=$(bash "$work/src/packaging/build-deb.sh" "$work/build" 2>"$work/build.log"); then
  tail -n 40 "$work/build.log" >&2
  die "packaging/build-deb.sh failed (log: $work/build.log)"
fi
build_s=$((SECONDS - t0))

cp "$deb" "$work/package.deb"
echo "$sum" >"$work/source.sha256"
install -D -m 0644 "$deb" "$out"
log "built $(basename "$deb") -> $out (build dependencies ${deps_s} s, build ${build_s} s)"
