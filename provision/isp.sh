#!/usr/bin/env bash
# Vagrant provisioning of an ISP router (isp1, isp2): forwarding and NAT masquerade out of the
# uplink for both families, the project's package, /etc/ispfailover/ispprobed.conf, ispprobed
# enabled and started.
#
#   isp.sh --name isp1 --lan-address 192.168.56.101 --lan-address6 fd56:1::101/64 --lan-prefix6 fd56:1::/64
#          --target ADDR [--target ADDR...]
#          [--uplink-address A --uplink-gateway G] [--uplink-address6 A6/LEN --uplink-gateway6 G6]
#
# IPv6: the LAN gets a ULA prefix of this ISP's own (--lan-address6; announced to the clients as
# prefix6 so that failoverd gives new connections a source from it). ULA is not routed on the
# internet, so the router masquerades IPv6 out of the uplink as it does IPv4 (NAT66: a demo's
# shortcut; a real ISP delegates a global prefix). The uplink's IPv6 is static where the
# provider has it (--uplink-address6, libvirt with ISPF_LIBVIRT_UPLINK_IPV6), else whatever the
# bridged LAN's router advertisements give (VirtualBox); with none, IPv6 stays down and
# ispprobed says so (its IPv6 targets go unanswered), IPv4 is unaffected.
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

name="" lan_address="" lan_address6="" uplink_address="" uplink_gateway="" targets=()
lan_prefix6="" uplink_address6="" uplink_gateway6=""
while (($#)); do
  case $1 in
    --name) name=$2; shift 2 ;;
    --lan-address) lan_address=$2; shift 2 ;;
    --uplink-address) uplink_address=$2; shift 2 ;;
    --uplink-gateway) uplink_gateway=$2; shift 2 ;;
    --lan-address6) lan_address6=$2; shift 2 ;;
    --lan-prefix6) lan_prefix6=$2; shift 2 ;;
    --uplink-address6) uplink_address6=$2; shift 2 ;;
    --uplink-gateway6) uplink_gateway6=$2; shift 2 ;;
    --target) targets+=("$2"); shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ -n $name && -n $lan_address && ${#targets[@]} -gt 0 ]] || die "need --name, --lan-address, --target"
[[ -z $lan_address6 || ($lan_address6 == */* && -n $lan_prefix6) ]] ||
  die "--lan-address6 $lan_address6: give the prefix length (ADDR/64) and --lan-prefix6"
[[ -z $uplink_address6 || ($uplink_address6 == */* && -n $uplink_gateway6) ]] ||
  die "--uplink-address6 needs a prefix length (ADDR/64) and --uplink-gateway6"

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
log "$name: LAN $lan ($lan_address${lan_address6:+, $lan_address6}), uplink $uplink via $uplink_gateway${uplink_gateway6:+, $uplink_gateway6}"

install -d /etc/ispfailover-vagrant
cat >/etc/ispfailover-vagrant/uplink.env <<EOT
UPLINK=$uplink
UPLINK_GATEWAY=$uplink_gateway
LAN=$lan
LAN_ADDRESS6=$lan_address6
UPLINK_ADDRESS6=$uplink_address6
UPLINK_GATEWAY6=$uplink_gateway6
EOT

cat >/usr/local/sbin/ispf-uplink <<'EOT'
#!/bin/sh
# ispf-uplink setup|down|up: the Vagrant demo's ISP uplink (written by provision/isp.sh).
#   setup  forwarding, NAT masquerade out of the uplink, the uplink's routing table 150 (both
#          families), the LAN's IPv6 address
#   down   takes the uplink down (the walk-through's fault: the line is cut)
#   up     brings it back up and restores its routes
set -e
. /etc/ispfailover-vagrant/uplink.env
# The uplink's IPv6 gateway: the static one, else the one its router advertisements gave.
gateway6() {
  if [ -n "$UPLINK_GATEWAY6" ]; then echo "$UPLINK_GATEWAY6"; return; fi
  ip -6 route show default dev "$UPLINK" | awk '$2 == "via" { print $3; exit }'
}
routes() {
  ip route replace default via "$UPLINK_GATEWAY" dev "$UPLINK" table 150
  ip route replace unreachable default metric 4096 table 150
  ip -6 route replace unreachable default metric 4096 table 150
  [ -z "$UPLINK_ADDRESS6" ] || ip -6 addr replace "$UPLINK_ADDRESS6" dev "$UPLINK"
  # Router advertisements take a moment after the link comes up (VirtualBox's bridged NIC).
  i=0 gw6=$(gateway6)
  while [ -z "$gw6" ] && [ -z "$UPLINK_ADDRESS6" ] && [ $i -lt 10 ]; do
    sleep 1; i=$((i + 1)); gw6=$(gateway6)
  done
  if [ -n "$gw6" ]; then
    ip -6 route replace default via "$gw6" dev "$UPLINK" table 150
  else
    echo "ispf-uplink: no IPv6 gateway on $UPLINK (no router advertisements): IPv6 stays down" >&2
  fi
}
case "$1" in
  setup)
    # Forwarding makes the kernel ignore router advertisements unless accept_ra is 2: the uplink
    # still takes them (VirtualBox's bridged LAN may offer IPv6).
    sysctl -qw "net.ipv6.conf.$UPLINK.accept_ra=2" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    [ -z "$LAN_ADDRESS6" ] || ip -6 addr replace "$LAN_ADDRESS6" dev "$LAN"
    nft -f - <<NFT
table ip ispf_vagrant
delete table ip ispf_vagrant
table ip ispf_vagrant {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "$UPLINK" masquerade
  }
}
table ip6 ispf_vagrant
delete table ip6 ispf_vagrant
table ip6 ispf_vagrant {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "$UPLINK" masquerade
  }
}
NFT
    for family in -4 -6; do
      ip "$family" rule del priority 150 2>/dev/null || true
      ip "$family" rule del priority 151 2>/dev/null || true
      ip "$family" rule add priority 150 iif "$LAN" lookup 150
      ip "$family" rule add priority 151 oif "$UPLINK" lookup 150
    done
    ip link set "$UPLINK" up
    routes ;;
  down) ip link set "$UPLINK" down ;;
  up) ip link set "$UPLINK" up; routes ;;
  *) echo "usage: ispf-uplink setup|down|up" >&2; exit 2 ;;
esac
EOT
chmod 0755 /usr/local/sbin/ispf-uplink

boot_oneshot ispf-uplink "ispfailover Vagrant demo: ISP uplink routes and NAT" ispprobed.service \
  "/usr/local/sbin/ispf-uplink setup"

install_package

cat >/etc/ispfailover/ispprobed.conf <<EOT
# Written by provision/isp.sh (Vagrant demo); the example with every option:
# /usr/share/doc/ispfailover/examples/. Interfaces found by address.
name = "$name"
uplink = "$uplink"
lan = "$lan"
target = $(toml_list "${targets[@]}")
quorum = 1
$([[ -n $lan_prefix6 ]] && printf '# The LAN prefix this router routes back (masqueraded out of the uplink).\nprefix6 = "%s"' "$lan_prefix6")
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
