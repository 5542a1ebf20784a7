#!/usr/bin/env bash
# libvirtd looks for hook scripts once, at its own start: a daemon that started
# before /etc/libvirt/hooks/qemu.d/ held any hook never runs one (verified with
# libvirt 9.0; once it has found a hook it rescans the directory at each call).
# So after vifd's hook is installed, a libvirtd older than the hook file is
# restarted. Running guests survive a libvirtd restart; libvirt reconnects.
set -euo pipefail

HOOK=${1:-/etc/libvirt/hooks/qemu.d/vifd}
[ -x "$HOOK" ] || { echo "libvirt-reload-hooks: no hook at $HOOK; nothing to do"; exit 0; }

pid=$(pgrep -o -x libvirtd || true)
if [ -z "$pid" ]; then
  echo "libvirt-reload-hooks: libvirtd is not running; it will find the hook when it starts"
  exit 0
fi

# Start time of the process in seconds since the epoch, from /proc (no ps parsing).
boot=$(awk '/^btime/ {print $2}' /proc/stat)
ticks=$(awk '{print $22}' "/proc/$pid/stat")
started=$(( boot + ticks / $(getconf CLK_TCK) ))
if [ "$(stat -c %Y "$HOOK")" -lt "$started" ]; then
  echo "libvirt-reload-hooks: libvirtd (pid $pid) started after the hook was installed; nothing to do"
  exit 0
fi

echo "libvirt-reload-hooks: restarting libvirtd so it runs $HOOK"
if [ -d /run/systemd/system ] && systemctl is-active --quiet libvirtd; then
  systemctl restart libvirtd
  exit 0
fi
kill "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { echo "libvirt-reload-hooks: libvirtd (pid $pid) did not stop" >&2; exit 1; }
exec "$(dirname -- "$0")/host-setup.sh"
