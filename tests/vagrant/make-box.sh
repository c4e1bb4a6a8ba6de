#!/usr/bin/env bash
# Builds a local Vagrant box (libvirt provider) of Debian 12 with mmdebstrap, for the `vagrant`
# ctest label: no box can be downloaded here. Root only (mmdebstrap root mode, mkfs -d).
#
#   make-box.sh OUT_DIR [EXTRA_PACKAGE...]
#
# OUT_DIR receives ispf-debian12.box (box.img + metadata.json), vmlinuz and initrd.img taken
# from the image (the box has no boot loader: libvirt boots it with kernel/initrd/cmd_line), and
# packages.txt (the package list: the cache key). A box whose packages.txt matches is reused.
#
# The apt sources are the host's own, piped to mmdebstrap on standard input: no mirror name is
# written here. EXTRA_PACKAGE: run-time dependencies of the project's .deb, so that the VMs,
# which reach no mirror, can install it offline.
set -euo pipefail
out=${1:?usage: make-box.sh OUT_DIR [EXTRA_PACKAGE...]}
shift
extra=("$@")

packages=(
  systemd-sysv udev dbus openssh-server sudo ifupdown isc-dhcp-client iproute2 nftables
  iputils-ping procps less linux-image-cloud-amd64 initramfs-tools e2fsprogs
  libnl-3-200 libnl-route-3-200 libspdlog1.10 libfmt9 libcap-ng0 libcap2 libsystemd0 libnftables1
  libnetfilter-conntrack3
  "${extra[@]}"
)
key=$(printf '%s\n' "${packages[@]}" | sort -u)
mkdir -p "$out"
if [[ -f "$out/ispf-debian12.box" && -f "$out/vmlinuz" && -f "$out/initrd.img" &&
      "$(cat "$out/packages.txt" 2>/dev/null)" == "$key" ]]; then
  echo "make-box: reusing $out/ispf-debian12.box"
  exit 0
fi

sources() {
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    cat /etc/apt/sources.list.d/debian.sources
  else
    grep -h '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
  fi
}

vagrant_pub=$(find /usr/share/rubygems-integration /usr/share/vagrant /opt/vagrant \
  -name vagrant.pub -path '*keys*' 2>/dev/null | head -1 || true)
[[ -n "$vagrant_pub" ]] || { echo "make-box: vagrant's insecure public key not found" >&2; exit 1; }

work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
echo "make-box: mmdebstrap bookworm (${#packages[@]} packages) into $root"
sources | mmdebstrap --quiet --mode=root --variant=apt --format=directory \
  --include="$(IFS=,; echo "${packages[*]}")" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  bookworm "$root" -

# The system: root on the whole virtio disk, ifupdown DHCP on eth0 (net.ifnames=0 on the
# kernel command line), the vagrant user with the insecure key (Vagrant replaces it on first up).
cat >"$root/etc/fstab" <<'EOF'
/dev/vda / ext4 defaults,noatime 0 1
EOF
echo debian12 >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1 localhost
127.0.1.1 debian12
EOF
cat >"$root/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*
auto lo
iface lo inet loopback
allow-hotplug eth0
iface eth0 inet dhcp
EOF
chroot "$root" useradd --create-home --shell /bin/bash --user-group vagrant
echo 'vagrant:vagrant' | chroot "$root" chpasswd
echo 'vagrant ALL=(ALL) NOPASSWD:ALL' >"$root/etc/sudoers.d/vagrant"
chmod 0440 "$root/etc/sudoers.d/vagrant"
install -d -m 0700 -o 1000 -g 1000 "$root/home/vagrant/.ssh"
install -m 0600 -o 1000 -g 1000 "$vagrant_pub" "$root/home/vagrant/.ssh/authorized_keys"
cat >"$root/etc/ssh/sshd_config.d/vagrant.conf" <<'EOF'
UseDNS no
PubkeyAcceptedAlgorithms +ssh-rsa
EOF
# No mirror is reachable from the VMs; apt must not try at boot.
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
# The excludes above were for the build only: the package's man pages and docs install as usual.
rm -f "$root"/etc/dpkg/dpkg.cfg.d/99mmdebstrap
: >"$root/etc/machine-id"
rm -f "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages

cp "$(readlink -f "$root/vmlinuz")" "$work/vmlinuz"
cp "$(readlink -f "$root/initrd.img")" "$work/initrd.img"
chmod 0644 "$work/vmlinuz" "$work/initrd.img"

echo "make-box: ext4 image"
truncate -s 4G "$work/root.raw"
mkfs.ext4 -q -F -L root -d "$root" "$work/root.raw"
qemu-img convert -O qcow2 "$work/root.raw" "$work/box.img"
rm -f "$work/root.raw"
cat >"$work/metadata.json" <<'EOF'
{"provider": "libvirt", "format": "qcow2", "virtual_size": 4}
EOF
tar -C "$work" -cf "$work/ispf-debian12.box" box.img metadata.json
mv "$work/ispf-debian12.box" "$work/vmlinuz" "$work/initrd.img" "$out/"
printf '%s\n' "$key" >"$out/packages.txt"
echo "make-box: $out/ispf-debian12.box"
