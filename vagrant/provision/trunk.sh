#!/usr/bin/env bash
# Vagrant lab, step 2 (both hosts): the OVS bridge br-trunk with the NIC on
# the isolated vifd-trunk segment as a trunk port, so every guest VLAN spans
# both hosts. The NIC is found by the MAC the Vagrantfile gave it: interface
# names differ between boxes.
set -euo pipefail

mac=${1:?usage: trunk.sh MAC}
nic=
for dev in /sys/class/net/*; do
  if [ "$(cat "$dev/address")" = "$mac" ]; then nic=$(basename "$dev"); fi
done
[ -n "$nic" ] || { echo "lab: no NIC with MAC $mac" >&2; exit 1; }

ip link set dev "$nic" up
ovs-vsctl --may-exist add-br br-trunk
ovs-vsctl --may-exist add-port br-trunk "$nic"
ip link set dev br-trunk up
echo "lab: br-trunk with $nic ($mac) as its trunk to the other host"
