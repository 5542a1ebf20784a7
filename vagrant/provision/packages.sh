#!/usr/bin/env bash
# Vagrant lab, step 1 (both hosts): Debian's packages for building and running
# vifd, then the project's own scripts/host-setup.sh, as CI runs it.
# Debian 13 ships Node.js 20.19, which the vifd package depends on
# (nodejs >= 20.19), so nothing comes from outside Debian's archive.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
PACKAGES=(
  nodejs npm make git            # build vifd and its package (make deb)
  openvswitch-switch             # the bridge the VIFs go on, under systemd
  libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
  iproute2 iputils-ping cpio     # probes, the guest image
)

apt-get update -q
apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

node -e 'const [a, b] = process.versions.node.split(".").map(Number);
  if (a < 20 || (a === 20 && b < 19)) { console.error("Node.js " + process.version + " is older than 20.19"); process.exit(1); }'
echo "lab: node $(node --version), npm $(npm --version)"

# The management user may then run virsh against qemu:///system over ssh,
# which the migration in vagrant/README.md uses.
usermod -a -G libvirt vagrant

/vifd/scripts/host-setup.sh
