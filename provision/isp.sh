#!/usr/bin/env bash
# Vagrant provisioning of an ISP router (isp1, isp2): forwarding and NAT masquerade out of the
# uplink, the project's package, /etc/ispfailover/ispprobed.conf, ispprobed enabled and started.
#
#   isp.sh --name isp1 --lan-address 192.168.56.101 --target ADDR [--target ADDR...]
#          [--uplink-address A --uplink-gateway G]
#
# Interfaces are found by address, never by name: the LAN one holds --lan-address; the uplink
# holds --uplink-address (libvirt), or else is the NIC that is neither the management NIC (the
# first) nor the LAN one, with the gateway its DHCP lease gave (VirtualBox's bridged NIC).
#
# The uplink's routes live in table 150 ("ispf-uplink"): traffic forwarded from the LAN and the
# probes bound to the uplink use it, and only it (an unreachable default stops them from leaking
# out of the management NIC while the uplink is down); the management default route stays
# for the host's own traffic and for `vagrant ssh`. /usr/local/sbin/ispf-uplink down|up takes
# the uplink down and back up with its routes (the walk-through's fault); ispf-uplink.service
# sets it all up again at boot.
set -euo pipefail
# shellcheck source=provision/common.sh
source /tmp/ispf/common.sh

name="" lan_address="" uplink_address="" uplink_gateway="" targets=()
while (($#)); do
  case $1 in
    --name) name=$2; shift 2 ;;
    --lan-address) lan_address=$2; shift 2 ;;
    --uplink-address) uplink_address=$2; shift 2 ;;
    --uplink-gateway) uplink_gateway=$2; shift 2 ;;
    --target) targets+=("$2"); shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ -n $name && -n $lan_address && ${#targets[@]} -gt 0 ]] || die "need --name, --lan-address, --target"

lan=$(iface_with_address "$lan_address")
if [[ -n $uplink_address ]]; then
  uplink=$(iface_with_address "$uplink_address")
else
  management=$(nics | head -1)
  uplink=$(nics | grep -vx -e "$management" -e "$lan" | head -1)
  [[ -n $uplink ]] || die "no uplink NIC (neither $management nor $lan)"
fi
if [[ -z $uplink_gateway ]]; then
  for ((i = 0; i < 60; i++)); do
    uplink_gateway=$(ip -4 route show default dev "$uplink" | awk '{ print $3; exit }')
    [[ -n $uplink_gateway ]] && break
    sleep 1
  done
  [[ -n $uplink_gateway ]] || die "no default route (DHCP) on the uplink $uplink"
fi
log "$name: LAN $lan ($lan_address), uplink $uplink via $uplink_gateway"

install -d /etc/ispfailover-vagrant
cat >/etc/ispfailover-vagrant/uplink.env <<EOT
UPLINK=$uplink
UPLINK_GATEWAY=$uplink_gateway
LAN=$lan
EOT

cat >/usr/local/sbin/ispf-uplink <<'EOT'
#!/bin/sh
# ispf-uplink setup|down|up: the Vagrant demo's ISP uplink (written by provision/isp.sh).
#   setup  forwarding, NAT masquerade out of the uplink, the uplink's routing table 150
#   down   takes the uplink down (the walk-through's fault: the line is cut)
#   up     brings it back up and restores its routes
set -e
. /etc/ispfailover-vagrant/uplink.env
routes() {
  ip route replace default via "$UPLINK_GATEWAY" dev "$UPLINK" table 150
  ip route replace unreachable default metric 4096 table 150
}
case "$1" in
  setup)
    sysctl -qw net.ipv4.ip_forward=1
    nft -f - <<NFT
table ip ispf_vagrant
delete table ip ispf_vagrant
table ip ispf_vagrant {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "$UPLINK" masquerade
  }
}
NFT
    ip rule del priority 150 2>/dev/null || true
    ip rule del priority 151 2>/dev/null || true
    ip rule add priority 150 iif "$LAN" lookup 150
    ip rule add priority 151 oif "$UPLINK" lookup 150
    ip link set "$UPLINK" up
    routes ;;
  down) ip link set "$UPLINK" down ;;
  up) ip link set "$UPLINK" up; routes ;;
  *) echo "usage: ispf-uplink setup|down|up" >&2; exit 2 ;;
esac
EOT
chmod 0755 /usr/local/sbin/ispf-uplink

cat >/etc/systemd/system/ispf-uplink.service <<'EOT'
[Unit]
Description=ispfailover Vagrant demo: ISP uplink routes and NAT
After=network-online.target
Wants=network-online.target
Before=ispprobed.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/ispf-uplink setup

[Install]
WantedBy=multi-user.target
EOT
systemctl daemon-reload
systemctl enable ispf-uplink.service >/dev/null 2>&1
systemctl restart ispf-uplink.service

install_package

cat >/etc/ispfailover/ispprobed.conf <<EOT
# Written by provision/isp.sh (Vagrant demo); the example with every option:
# /usr/share/doc/ispfailover/examples/. Interfaces found by address.
name = "$name"
uplink = "$uplink"
lan = "$lan"
target = $(toml_list "${targets[@]}")
quorum = 1
# Timing: ispprobed's defaults (docs/timing.md): rounds every 150 ms, timeouts from the RTT,
# down after 200 ms unanswered, heartbeat 100 ms.
port = 1500
log-level = "info"
EOT
systemctl enable ispprobed.service >/dev/null 2>&1
systemctl restart ispprobed.service || true
systemctl is-active --quiet ispprobed.service || {
  systemctl status ispprobed.service --no-pager -n 30 >&2 || true
  die "ispprobed did not start"
}
log "$name: ispprobed running (uplink $uplink, LAN $lan, targets ${targets[*]})"
