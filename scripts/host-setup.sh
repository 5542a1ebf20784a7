#!/usr/bin/env bash
# Prepares a Debian 12 host (or CI machine) for vifd and its test lab, as root.
# Idempotent: every step checks before it acts, and services that already run
# (for example under systemd on a real host) are used as they are.
# One line per step; the first failing step stops the script with its reason.
set -euo pipefail

OVS_RUNDIR=/var/run/openvswitch
OVS_DB=/etc/openvswitch/conf.db
LIBVIRT_SOCK=/var/run/libvirt/libvirt-sock
PACKAGES=(
  openvswitch-switch          # ovsdb-server, ovs-vswitchd, ovs-vsctl
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt0
  qemu-system-x86             # the guests (TCG where KVM cannot boot them)
  iproute2 iputils-ping       # namespaces, veth, probes
  cpio                        # Debian's cpio builds the guest initramfs
  ca-certificates
  netcat-openbsd              # nc -U -N: the libvirt hook's fast path to vifd's hook socket
  openssl                     # test certificates for XAPI over https
  systemd util-linux          # vifd's unit tested under a private systemd (unshare, nsenter)
  groff-base man-db bash-completion  # the man pages and completion are rendered and run by tests
  shellcheck vagrant vagrant-libvirt # the Vagrant lab is validated and its scripts checked (not booted)
)

step() { printf 'host-setup: %-44s ' "$1"; }
ok()   { echo "${1:-ok}"; }
fail() { echo "FAILED"; echo "host-setup: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || { echo "host-setup: error: must run as root (it installs packages and starts daemons)" >&2; exit 1; }
[ -r /etc/debian_version ] || { echo "host-setup: error: needs Debian 12 (no /etc/debian_version)" >&2; exit 1; }

systemd_running() { [ -d /run/systemd/system ]; }

step "Debian packages"
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then ok "already installed"; else
  log=$(mktemp)
  # Package scripts must not start services (policy-rc.d exit 101): this script
  # starts them below, in the way this host needs. Removed even if apt fails.
  if [ ! -e /usr/sbin/policy-rc.d ] && ! systemd_running; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2; fail "apt-get could not install: ${missing[*]} (log above)"
  fi
  rm -f "$log"; ok "installed ${missing[*]}"
fi

step "users and groups for libvirt"
getent group kvm >/dev/null || groupadd --system kvm
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent group libvirt >/dev/null || groupadd --system libvirt
getent passwd libvirt-qemu >/dev/null || useradd --system --no-create-home --home-dir /var/lib/libvirt \
  --shell /usr/sbin/nologin -g libvirt-qemu -G kvm libvirt-qemu
ok

step "libvirt directories"
mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/cache/libvirt /var/run/libvirt /etc/libvirt/hooks
ok

# Open vSwitch ------------------------------------------------------------
ovs_up() { timeout 5 ovs-vsctl --timeout=3 show >/dev/null 2>&1; }
step "ovsdb-server"
if ovs_up; then ok "already running"
elif systemd_running && systemctl cat openvswitch-switch >/dev/null 2>&1; then
  systemctl start openvswitch-switch || fail "systemctl start openvswitch-switch failed"
  ovs_up || fail "openvswitch-switch started but ovs-vsctl cannot reach it"; ok "started (systemd)"
else
  mkdir -p "$OVS_RUNDIR" /var/log/openvswitch /etc/openvswitch
  if [ ! -s "$OVS_DB" ]; then ovsdb-tool create "$OVS_DB" /usr/share/openvswitch/vswitch.ovsschema \
      || fail "ovsdb-tool create $OVS_DB"
  elif [ "$(ovsdb-tool needs-conversion "$OVS_DB" /usr/share/openvswitch/vswitch.ovsschema)" = yes ]; then
    ovsdb-tool convert "$OVS_DB" /usr/share/openvswitch/vswitch.ovsschema || fail "ovsdb-tool convert $OVS_DB"
  fi
  # A stale pid file from a killed server would make --detach refuse to start.
  rm -f "$OVS_RUNDIR/ovsdb-server.pid"
  ovsdb-server "$OVS_DB" --remote="punix:$OVS_RUNDIR/db.sock" \
    --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
    -vconsole:off --pidfile="$OVS_RUNDIR/ovsdb-server.pid" --detach --log-file=/var/log/openvswitch/ovsdb-server.log \
    || fail "ovsdb-server did not start (see /var/log/openvswitch/ovsdb-server.log)"
  ovs-vsctl --no-wait init || fail "ovs-vsctl --no-wait init"
  ok "started"
fi

vswitchd_up() { [ -S "$OVS_RUNDIR/ovs-vswitchd.$(cat "$OVS_RUNDIR/ovs-vswitchd.pid" 2>/dev/null).ctl" ] \
  && timeout 5 ovs-appctl --timeout=3 version >/dev/null 2>&1; }
step "ovs-vswitchd"
if vswitchd_up; then ok "already running"
else
  rm -f "$OVS_RUNDIR/ovs-vswitchd.pid"
  ovs-vswitchd "unix:$OVS_RUNDIR/db.sock" -vconsole:off --pidfile="$OVS_RUNDIR/ovs-vswitchd.pid" --detach \
    --log-file=/var/log/openvswitch/ovs-vswitchd.log \
    || fail "ovs-vswitchd did not start (see /var/log/openvswitch/ovs-vswitchd.log)"
  for _ in $(seq 50); do vswitchd_up && break; sleep 0.1; done
  vswitchd_up || fail "ovs-vswitchd started but does not answer ovs-appctl"
  ok "started"
fi

step "OVS datapath"
# Without the kernel module, bridges must be created with datapath_type=netdev.
if [ -d /sys/module/openvswitch ] || modprobe -q openvswitch 2>/dev/null; then ok "system (kernel)"
else ok "netdev (userspace; no kernel datapath)"; fi

# libvirt -----------------------------------------------------------------
libvirt_up() { timeout 10 virsh -q -c qemu:///system version >/dev/null 2>&1; }
step "virtlogd"
if pgrep -x virtlogd >/dev/null || systemd_running; then ok "already running or socket-activated"
else virtlogd --daemon || fail "virtlogd --daemon"; ok "started"; fi

step "libvirtd"
if libvirt_up; then ok "already running"
elif systemd_running && systemctl cat libvirtd >/dev/null 2>&1; then
  systemctl start libvirtd || fail "systemctl start libvirtd failed"; ok "started (systemd)"
else
  # Only a libvirtd this script starts itself gets the lab's simple QEMU settings:
  # root-run QEMU and no security driver (no AppArmor/SELinux profiles here).
  conf=/etc/libvirt/qemu.conf
  touch "$conf"
  for kv in 'user = "root"' 'group = "root"' 'security_driver = "none"'; do
    key=${kv%% *}
    grep -q "^$key *=" "$conf" && sed -i "s|^$key *=.*|$kv|" "$conf" || echo "$kv" >>"$conf"
  done
  rm -f /var/run/libvirtd.pid
  libvirtd --daemon || fail "libvirtd --daemon"
  for _ in $(seq 100); do libvirt_up && break; sleep 0.1; done
  libvirt_up || fail "libvirtd started but virsh cannot connect to qemu:///system"
  ok "started"
fi

step "/dev/net/tun"
[ -c /dev/net/tun ] || fail "/dev/net/tun missing: the kernel needs CONFIG_TUN"
ok
echo "host-setup: done"
