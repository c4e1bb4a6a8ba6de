#!/usr/bin/env bash
# Vagrant provisioning of the client: the project's package, /etc/ispfailover/failoverd.conf,
# failoverd enabled and started.
#
#   client.sh --lan-address 192.168.56.200 [--lan-address6 fd56:1::200/64 ...]
#             --isp isp1=192.168.56.101[,gateway6=fd56:1::101] --isp isp2=...
#
# IPv6: the client has an address in each ISP's LAN prefix (--lan-address6, one per ISP; set at
# every boot by ispf-lan6.service), and failoverd keeps the IPv6 default route on the best ISP
# whose IPv6 is up, with the address in that ISP's prefix as the preferred source.
#
# --replace-gateway is the gateway of the provider's management default route, as found here:
# 10.0.2.2 on VirtualBox, the libvirt management network's gateway on libvirt. failoverd takes
# the default route over from it and deletes it whenever DHCP puts it back.
set -euo pipefail
# shellcheck source=provision/common.sh
source /tmp/ispf/common.sh

lan_address="" isps=() lan_addresses6=()
while (($#)); do
  case $1 in
    --lan-address) lan_address=$2; shift 2 ;;
    --isp) isps+=("$2"); shift 2 ;;
    --lan-address6) lan_addresses6+=("$2"); shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ -n $lan_address && ${#isps[@]} -gt 0 ]] || die "need --lan-address and --isp"

lan=$(iface_with_address "$lan_address")
# The management default route: any default route that is not failoverd's own (proto 150).
management_gateway=$(ip -4 route show default | awk '!/proto (150|ispfailover)/ && $2 == "via" { print $3; exit }')
if [[ -z $management_gateway && -f /etc/ispfailover/failoverd.conf ]]; then
  # Provisioned before: failoverd has deleted it; keep what the file says.
  management_gateway=$(sed -n 's/^replace-gateway = \["\([^"]*\)".*/\1/p' /etc/ispfailover/failoverd.conf)
fi
[[ -n $management_gateway ]] || die "no management default route found (ip route show default)"
log "client: LAN $lan ($lan_address), management gateway $management_gateway"

if ((${#lan_addresses6[@]})); then
  # Static addresses, and no SLAAC or RA default route of the LAN's own: failoverd owns the
  # IPv6 default route as it owns the IPv4 one.
  commands=("/usr/sbin/sysctl -qw net.ipv6.conf.$lan.accept_ra=0")
  for a in "${lan_addresses6[@]}"; do commands+=("/usr/sbin/ip -6 addr replace $a dev $lan"); done
  boot_oneshot ispf-lan6 "ispfailover Vagrant demo: the client's IPv6 addresses, one in each ISP's prefix" \
    failoverd.service "${commands[@]}"
  log "client: IPv6 ${lan_addresses6[*]} on $lan"
fi

install_package

cat >/etc/ispfailover/failoverd.conf <<EOT
# Written by provision/client.sh (Vagrant demo); the example with every option:
# /usr/share/doc/ispfailover/examples/.
isp = $(toml_list "${isps[@]}")
# The provider's management gateway: its default route is deleted whenever it comes back.
replace-gateway = ["$management_gateway"]
port = 1500
table = "main"
metric = 0
failback-after = "3s"
max-loss = 20
when-all-down = "keep"
startup-grace = "1500ms"
status-file = "/run/failoverd/status.json"
cleanup-on-exit = false
log-level = "info"
EOT
systemctl enable failoverd.service >/dev/null 2>&1
systemctl restart failoverd.service || true
systemctl is-active --quiet failoverd.service || {
  systemctl status failoverd.service --no-pager -n 30 >&2 || true
  die "failoverd did not start"
}
for ((i = 0; i < 30; i++)); do
  ip -4 route show default | grep -q 'proto \(150\|ispfailover\)' && break
  sleep 1
done
log "client: failoverd running; default route now: $(ip -4 route show default | tr '\n' ';')${lan_addresses6:+ IPv6: $(ip -6 route show default | tr '\n' ';')}"
