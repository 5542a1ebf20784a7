#!/usr/bin/env bash
# Vagrant lab, step 4 (each host): the demo VMs, one on VLAN 100 and one on
# VLAN 200, with fixed UUIDs and MACs so every run gives the same TAP names.
# They are the project's tiny test guest (scripts/build-guest-image.sh: a
# Debian cloud kernel and a busybox initramfs), defined with vifctl define so
# vifd renders their interfaces, then started; the guest's serial log tells
# when its NIC is up. Every address is in 10.0.0.0/24, so a ping across VLANs
# can fail only because Open vSwitch keeps the VLANs apart.
set -euo pipefail

host=${1:?usage: guests.sh a|b}
GUEST_DIR=/var/lib/vifd-lab/guest
STATE_DIR=/var/lib/vifd-lab
# name, UUID, MAC, address, network
case $host in
  a) vms=("lab-a100 2c7f5a52-0d4e-4b8e-9f3a-1a0000000100 52:54:00:1a:01:00 10.0.0.11/24 v100"
          "lab-a200 2c7f5a52-0d4e-4b8e-9f3a-1a0000000200 52:54:00:1a:02:00 10.0.0.21/24 v200") ;;
  b) vms=("lab-b100 2c7f5a52-0d4e-4b8e-9f3a-1b0000000100 52:54:00:1b:01:00 10.0.0.12/24 v100"
          "lab-b200 2c7f5a52-0d4e-4b8e-9f3a-1b0000000200 52:54:00:1b:02:00 10.0.0.22/24 v200") ;;
  *) echo "lab: unknown host '$host'" >&2; exit 1 ;;
esac

mkdir -p "$STATE_DIR"
/vifd/scripts/build-guest-image.sh "$GUEST_DIR" >/dev/null

# Nested KVM where the lab's hosts have it (lv.nested), QEMU's TCG otherwise.
domain_type=qemu
if [ -c /dev/kvm ] && grep -qw -e vmx -e svm /proc/cpuinfo; then domain_type=kvm; fi

definition() {
  local name=$1 uuid=$2 mac=$3 address=$4 network=$5
  cat <<XML
<domain type='$domain_type'>
  <name>$name</name>
  <uuid>$uuid</uuid>
  <metadata>
    <vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1">
      <vifd:vif network="$network" mac="$mac"/>
    </vifd:vifd>
  </metadata>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$GUEST_DIR/vmlinuz</kernel>
    <initrd>$GUEST_DIR/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet vifd.nic=$mac,$address</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'><source path='$STATE_DIR/$name.serial.log'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
XML
}

for vm in "${vms[@]}"; do
  read -r name uuid mac address network <<<"$vm"
  xml=$STATE_DIR/$name.xml
  definition "$name" "$uuid" "$mac" "$address" "$network" >"$xml"
  # Defined again on every run: vifctl define replaces the definition.
  vifctl define "$xml"
  if [ "$(virsh domstate "$name")" != running ]; then
    : >"$STATE_DIR/$name.serial.log"
    virsh start "$name"
  fi
done

for vm in "${vms[@]}"; do
  read -r name _ mac address _ <<<"$vm"
  for _ in $(seq 120); do
    if grep -q "nic .* mac $mac addr $address up" "$STATE_DIR/$name.serial.log" 2>/dev/null; then break; fi
    sleep 1
  done
  grep -q "nic .* mac $mac addr $address up" "$STATE_DIR/$name.serial.log" ||
    { echo "lab: $name did not bring its NIC up; its serial log:" >&2; tail -n 20 "$STATE_DIR/$name.serial.log" >&2; exit 1; }
  echo "lab: $name is up: $address ($domain_type)"
done
vifctl status
