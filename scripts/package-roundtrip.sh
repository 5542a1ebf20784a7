#!/usr/bin/env bash
# The package's round trip on the real machine, as root: dpkg -i the .deb into
# /, check what it put in place (systemd-analyze verify of the unit where
# available), make libvirtd see the hook, optionally run a command against the
# installed package (the e2e tier), then purge and list whatever is left.
#
#   scripts/package-roundtrip.sh install DEB       install and check only
#   scripts/package-roundtrip.sh purge DEB         purge and list leftovers
#   scripts/package-roundtrip.sh all DEB [-- CMD]  install, CMD, purge (the purge
#                                                  runs even if CMD fails)
# --uninstall-dev first removes a `make install` copy (/usr/local, and its unit
# in /etc/systemd/system, which would shadow the package's unit).
# This installs into / and reloads libvirtd: never run it beside other work.
set -euo pipefail

die() { printf 'package-roundtrip: %s\n' "$*" >&2; exit 1; }
say() { printf 'package-roundtrip: %s\n' "$*"; }

[ $# -ge 2 ] || die "usage: $0 install|purge|all DEB [--uninstall-dev] [-- COMMAND...]"
phase=$1 deb=$2
shift 2
uninstall_dev=false
command=()
while [ $# -gt 0 ]; do
  case $1 in
    --uninstall-dev) uninstall_dev=true; shift ;;
    --) shift; command=("$@"); break ;;
    *) die "unknown argument: $1" ;;
  esac
done
case $phase in install | purge | all) ;; *) die "unknown phase: $phase" ;; esac
[ "$(id -u)" = 0 ] || die "must run as root (dpkg -i into /)"
[ -f "$deb" ] || die "no package at $deb (make deb builds it)"
cd "$(dirname -- "$0")/.."

UNIT=/lib/systemd/system/vifd.service
# What the package owns plus what its scripts or daemon make; none may survive a purge.
STATE_PATHS=(/etc/vifd /run/vifd /var/lib/vifd /etc/systemd/system/multi-user.target.wants/vifd.service
  /usr/lib/vifd /usr/share/doc/vifd)

systemd_running() { [ -d /run/systemd/system ]; }

refuse_dev_install() {
  local dev=(/usr/local/lib/vifd /usr/local/bin/vifd /etc/systemd/system/vifd.service)
  local path
  for path in "${dev[@]}"; do
    [ -e "$path" ] || continue
    if [ "$uninstall_dev" = true ]; then
      scripts/install.sh --uninstall
      return
    fi
    die "$path is from make install; remove it first (make uninstall) or pass --uninstall-dev"
  done
}

verify_unit() {
  if ! command -v systemd-analyze >/dev/null; then
    say "systemd-analyze is not installed; unit not verified"
    return
  fi
  local output
  output=$(systemd-analyze verify --man=no --recursive-errors=no "$UNIT" 2>&1) || die "systemd-analyze verify $UNIT: $output"
  # Unknown keys and bad values are warnings with exit status 0.
  if grep -q 'vifd\.service' <<<"$output"; then die "systemd-analyze verify $UNIT: $output"; fi
  say "systemd-analyze verify $UNIT: clean"
}

# libvirtd looks for hooks when it starts and on SIGHUP. Under systemd the
# postinst reloads it; a libvirtd started by hand (CI, make setup) is told here.
reload_libvirt_hooks() {
  systemd_running && return
  local pid
  pid=$(pgrep -o -x libvirtd || true)
  if [ -n "$pid" ]; then
    kill -HUP "$pid"
    say "libvirtd (pid $pid) reloaded, so it runs vifd's hook"
  fi
}

do_install() {
  refuse_dev_install
  say "dpkg -i $deb"
  dpkg -i "$deb" || die "dpkg -i failed (missing dependencies? apt-get install $deb resolves them)"
  [ "$(dpkg-query -W -f='${Status}' vifd)" = "install ok installed" ] || die "vifd is not installed after dpkg -i"
  local path
  for path in /usr/sbin/vifd /usr/bin/vifctl "$UNIT" /etc/libvirt/hooks/qemu.d/vifd; do
    [ -e "$path" ] || die "$path is missing after the install"
  done
  [ -x /etc/libvirt/hooks/qemu.d/vifd ] || die "the hook does not resolve to an executable"
  vifctl --help >/dev/null || die "the installed vifctl --help failed"
  verify_unit
  reload_libvirt_hooks
  say "installed: $(dpkg-query -W -f='${Package} ${Version}' vifd)"
}

do_purge() {
  local files=() path leftovers=()
  # Only files and links: directories such as /usr/bin belong to everyone.
  mapfile -t files < <(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -n 's|^\./|/|p' | grep -v '/$')
  if dpkg-query -W vifd >/dev/null 2>&1; then
    say "dpkg -P vifd"
    dpkg -P vifd || die "dpkg -P vifd failed"
  fi
  for path in "${files[@]}" "${STATE_PATHS[@]}"; do
    if [ -e "$path" ] || [ -L "$path" ]; then leftovers+=("$path"); fi
  done
  if [ ${#leftovers[@]} -gt 0 ]; then
    say "left behind after the purge:"
    printf '  %s\n' "${leftovers[@]}"
    exit 1
  fi
  say "purged: none of the package's ${#files[@]} files, nor its config, state or runtime dirs, is left"
}

case $phase in
  install) do_install ;;
  purge) do_purge ;;
  all)
    do_install
    status=0
    if [ ${#command[@]} -gt 0 ]; then
      say "running against the installed package: ${command[*]}"
      "${command[@]}" || status=$?
    fi
    do_purge
    [ "$status" = 0 ] || die "the command failed with status $status"
    ;;
esac
