# The machine tests' cached Debian root filesystem, made with mmdebstrap (sourced, not a test).
# shellcheck shell=bash
#
# rootfs_build KIND PACKAGES
#   Sets ROOTFS to $CACHE_DIR/KIND-<key>, a $SUITE tree (variant apt) with PACKAGES (comma-separated)
#   installed, built once and then reused while SUITE and PACKAGES stay the same; older trees of
#   the same KIND are removed. The caller sets SUITE and CACHE_DIR and defines skip (exit 77):
#   no apt sources or no reachable mirror skips the test rather than failing it.
#
# The apt sources are the host's own, fed to mmdebstrap on standard input, so that no mirror name
# is written anywhere; the tree keeps no apt source list, and /etc/hostname is removed so that
# systemd-nspawn --hostname sticks.
rootfs_build() {
  local kind=$1 include=$2 key tmp sources t0
  key=$(printf '%s\n' "$SUITE" "$include" "v1" | sha256sum | cut -c1-12)
  ROOTFS=$CACHE_DIR/$kind-$key
  if [[ -f $ROOTFS/.complete ]]; then
    echo "-- root filesystem cached: $ROOTFS" >&2
    return
  fi
  sources=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [[ -z $sources ]]; then
    sources=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      grep -E '^\s*deb\s' || true)
  fi
  [[ -n $sources ]] || skip "no apt sources on this host to build the Debian root filesystem from"
  rm -rf "$CACHE_DIR/$kind"-*.tmp
  mkdir -p "$CACHE_DIR"
  tmp=$ROOTFS.tmp
  echo "-- building the $SUITE root filesystem $kind with mmdebstrap ($include)" >&2
  t0=$SECONDS
  # shellcheck disable=SC2016  # $1 is the hook's argument, expanded by mmdebstrap
  if ! printf '%s\n' "$sources" | mmdebstrap --quiet --mode=root --variant=apt --format=directory \
    --include="$include" \
    --customize-hook='rm -f "$1/etc/hostname" "$1/etc/apt/sources.list" "$1"/etc/apt/sources.list.d/*' \
    "$SUITE" "$tmp" - >"$CACHE_DIR/mmdebstrap-$kind.log" 2>&1; then
    tail -n 20 "$CACHE_DIR/mmdebstrap-$kind.log" >&2
    rm -rf "$tmp"
    skip "mmdebstrap could not build the $SUITE root filesystem (no apt mirror reachable?); see $CACHE_DIR/mmdebstrap-$kind.log"
  fi
  touch "$tmp/.complete"
  # Older trees of other package lists go (of this KIND only: the other tests keep theirs).
  find "$CACHE_DIR" -maxdepth 1 -name "$kind-*" ! -name "$kind-$key*" -exec rm -rf {} +
  mv "$tmp" "$ROOTFS"
  echo "-- root filesystem built in $((SECONDS - t0)) s: $ROOTFS" >&2
}
