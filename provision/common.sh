# Shared by provision/isp.sh and provision/client.sh (uploaded to /tmp/ispf/common.sh).
# shellcheck shell=bash

log() { printf 'ispf-provision: %s\n' "$*"; }
die() { printf 'ispf-provision: ERROR: %s\n' "$*" >&2; exit 1; }

# The interface holding IPv4 address $1 (waits up to 60 s: the provider may still configure it).
iface_with_address() {
  local address=$1 iface i
  for ((i = 0; i < 60; i++)); do
    iface=$(ip -o -4 addr show | awk -v a="$address" '{ split($4, p, "/"); if (p[1] == a) { print $2; exit } }')
    if [[ -n $iface ]]; then echo "$iface"; return 0; fi
    sleep 1
  done
  die "no interface holds $address (see: ip -4 addr)"
}

# Ethernet interfaces in index order (NIC 1 is always the provider's management NIC in Vagrant).
nics() {
  ip -o link show | awk -F': ' '$2 != "lo" { sub(/@.*/, "", $2); print $2 }'
}

# Installs the project's package from /tmp/ispf/ispfailover.deb: uploaded by the Vagrantfile (a
# prebuilt one), or left there by provision/build-in-guest.sh.
# Offline first (the box may hold every dependency); with `apt-get update` only if that fails.
install_package() {
  local deb=/tmp/ispf/ispfailover.deb
  [[ -f $deb ]] || die "$deb missing: neither uploaded (prebuilt) nor built by provision/build-in-guest.sh"
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get install -y -q --no-install-recommends
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$deb")
  if ! "${apt[@]}" >/tmp/ispf/apt.log 2>&1; then
    log "installing the package offline failed; apt-get update and retry"
    apt-get update -q >>/tmp/ispf/apt.log 2>&1 || true
    "${apt[@]}" >>/tmp/ispf/apt.log 2>&1 || { cat /tmp/ispf/apt.log >&2; die "apt-get install $deb"; }
  fi
  log "installed $(dpkg-query -W -f='${Package} ${Version}' ispfailover)"
}

# Writes a TOML/INI string list: a b -> ["a", "b"]
toml_list() {
  local out="" item
  for item in "$@"; do out+="${out:+, }\"$item\""; done
  printf '[%s]' "$out"
}

# A oneshot unit that sets something up at every boot before UNIT, run once now:
#   boot_oneshot NAME "DESCRIPTION" BEFORE-UNIT COMMAND...   (each COMMAND one ExecStart= line)
boot_oneshot() {
  local name=$1 description=$2 before=$3 command
  shift 3
  {
    printf '[Unit]\nDescription=%s\nAfter=network-online.target\nWants=network-online.target\n' \
      "$description"
    printf 'Before=%s\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\n' "$before"
    for command in "$@"; do printf 'ExecStart=%s\n' "$command"; done
    printf '\n[Install]\nWantedBy=multi-user.target\n'
  } >"/etc/systemd/system/$name.service"
  systemctl daemon-reload
  systemctl enable "$name.service" >/dev/null 2>&1
  systemctl restart "$name.service"
}
