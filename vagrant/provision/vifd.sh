#!/usr/bin/env bash
# Vagrant lab, step 3 (both hosts): build vifd's Debian package from the
# synced tree (make deb), write the host config, install the package with
# apt (which resolves its dependencies from Debian) and wait until vifd
# answers. The config is written first, so the package's postinst enables and
# starts the service itself.
set -euo pipefail

CONFIG=/etc/vifd/vifd.yaml
MARKER='# written by the vifd Vagrant lab (vagrant/provision/vifd.sh)'
export DEBIAN_FRONTEND=noninteractive

cd /vifd
make deb
debs=(dist/deb/vifd_*.deb)
deb=${debs[0]}

# Networks v100 and v200: access ports on br-trunk, whose trunk port carries
# both VLANs to the other host. An operator's own config is never replaced.
if [ -e "$CONFIG" ] && ! grep -qxF "$MARKER" "$CONFIG"; then
  echo "lab: $CONFIG is not the lab's; leaving it as it is"
else
  mkdir -p "$(dirname "$CONFIG")"
  cat >"$CONFIG" <<CONFIG
$MARKER
hypervisor: kvm
networks:
  v100: { bridge: br-trunk, vlan: 100 }
  v200: { bridge: br-trunk, vlan: 200 }
CONFIG
  chmod 0640 "$CONFIG"
fi

apt-get install -y -q --no-install-recommends "./$deb"
# An upgrade of a running daemon is restarted by postinst; a config changed
# just now needs a restart as well.
systemctl restart vifd.service
for _ in $(seq 60); do
  if vifctl status >/dev/null 2>&1; then break; fi
  sleep 0.5
done
vifctl status >/dev/null || { journalctl -u vifd --no-pager -n 30; exit 1; }
echo "lab: $(dpkg-query -W -f='${Package} ${Version}' vifd) installed and answering"
