#!/usr/bin/env bash
# Vagrant lab, last step (hostb, once hosta is provisioned: the Vagrantfile
# brings the hosts up one after the other): two probe namespaces on hostb's
# br-trunk, one an access port on VLAN 100 and one on VLAN 200, ping the
# guests of both hosts. Expected: reach on the same VLAN (across the trunk to
# hosta too), blocked across VLANs. Exits 1 if any cell differs.
set -euo pipefail

# probe namespace, its address, its VLAN
PROBES=("labp100 10.0.0.1/24 100" "labp200 10.0.0.2/24 200")
# guest address, its VLAN, where it runs
GUESTS=("10.0.0.11 100 hosta" "10.0.0.21 200 hosta" "10.0.0.12 100 hostb" "10.0.0.22 200 hostb")

probe() {
  local ns=$1 cidr=$2 vlan=$3
  ip netns add "$ns" 2>/dev/null || true
  if ! ip link show "$ns" >/dev/null 2>&1; then
    ip link add "$ns" type veth peer name eth0 netns "$ns"
  fi
  ip link set "$ns" up
  ovs-vsctl --may-exist add-port br-trunk "$ns" -- set port "$ns" tag="$vlan"
  ip -n "$ns" addr replace "$cidr" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
}

for spec in "${PROBES[@]}"; do
  # shellcheck disable=SC2086 # three words on purpose
  probe $spec
done

failed=0
printf '%-22s %-24s %-10s %s\n' "FROM" "TO" "EXPECTED" "SEEN"
for p in "${PROBES[@]}"; do
  read -r ns cidr pvlan <<<"$p"
  for g in "${GUESTS[@]}"; do
    read -r address gvlan where <<<"$g"
    expected=blocked
    [ "$pvlan" = "$gvlan" ] && expected=reach
    seen=blocked
    for _ in 1 2 3; do
      if ip netns exec "$ns" ping -c 2 -W 1 -q "$address" >/dev/null 2>&1; then seen=reach; break; fi
    done
    mark=ok
    [ "$seen" = "$expected" ] || { mark=MISMATCH; failed=1; }
    printf '%-22s %-24s %-10s %s %s\n' "$ns ${cidr%/*} (vlan $pvlan)" "$address (vlan $gvlan, $where)" "$expected" "$seen" "$mark"
  done
done
[ "$failed" = 0 ] || { echo "lab: the ping matrix differs from what is expected" >&2; exit 1; }
echo "lab: every cell as expected: each VLAN reaches across the trunk, VLANs are kept apart"
