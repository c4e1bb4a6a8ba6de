#!/usr/bin/env bash
# Vagrant provisioning of the client: the project's package, /etc/ispfailover/failoverd.conf,
# failoverd enabled and started.
#
#   client.sh --lan-address 192.168.56.200 --isp isp1=192.168.56.101 --isp isp2=192.168.56.102
#
# --replace-gateway is the gateway of the provider's management default route, as found here:
# 10.0.2.2 on VirtualBox, the libvirt management network's gateway on libvirt. failoverd takes
# the default route over from it and deletes it whenever DHCP puts it back.
set -euo pipefail
# shellcheck source=provision/common.sh
source /tmp/ispf/common.sh

lan_address="" isps=()
while (($#)); do
  case $1 in
    --lan-address) lan_address=$2; shift 2 ;;
    --isp) isps+=("$2"); shift 2 ;;
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
log "client: failoverd running; default route now: $(ip -4 route show default | tr '\n' ';')"
