#!/usr/bin/env bash
# Installs a built vifd with its production dependencies, the libvirt hook, the
# Xen vif hotplug script (SYSCONFDIR/xen/scripts/vif-vifd), the systemd unit and the example config under PREFIX/share/doc/vifd/examples;
# --uninstall removes exactly that again (never the config, never /var/lib/vifd).
# It never writes the live config: an example there would name bridges this
# host may not have, and vifd refuses clearly to start without one instead.
# Repeatable: files whose content and mode already match are left untouched.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/install.sh [--prefix DIR] [--destdir DIR] [--sysconfdir DIR] [--uninstall]
  --prefix DIR      programs go to DIR/lib/vifd and DIR/bin, the example config to
                    DIR/share/doc/vifd/examples (default /usr/local)
  --destdir DIR     stage everything under DIR, e.g. for a package (default $DESTDIR or none)
  --sysconfdir DIR  hooks (libvirt's, and Xen's DIR/xen/scripts/vif-vifd) and unit go
                    under DIR, and vifd reads DIR/vifd/vifd.yaml,
                    which install.sh never writes (default /etc)
  --uninstall       remove what an install put there; the config file stays
Run after `make build`.
EOF
}

die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
note() { printf 'note: %s\n' "$*"; }

prefix=/usr/local
sysconfdir=/etc
destdir=${DESTDIR:-}
uninstall=false
while [ $# -gt 0 ]; do
  case $1 in
    --prefix | --destdir | --sysconfdir)
      [ $# -ge 2 ] || { usage >&2; die "$1 needs a value"; }
      case $1 in
        --prefix) prefix=$2 ;;
        --destdir) destdir=$2 ;;
        --sysconfdir) sysconfdir=$2 ;;
      esac
      shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --destdir=*) destdir=${1#*=}; shift ;;
    --sysconfdir=*) sysconfdir=${1#*=}; shift ;;
    --uninstall) uninstall=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

# These paths are written into sh scripts and the unit file by sed, so they are
# limited to characters that need no quoting in either.
safe_path() {
  [[ $2 =~ ^/[A-Za-z0-9._/+-]*$ ]] || die "$1 must be an absolute path of A-Z a-z 0-9 . _ / + - (got '$2')"
}
safe_path --prefix "$prefix"
safe_path --sysconfdir "$sysconfdir"
prefix=${prefix%/}
sysconfdir=${sysconfdir%/}
if [ -n "$destdir" ]; then
  # Resolved before the cd below, so a relative --destdir means what the caller meant.
  destdir=$(realpath -m -- "$destdir")
  [ "$destdir" != / ] || destdir=
fi
cd "$(dirname -- "$0")/.."

libdir=$prefix/lib/vifd
bindir=$prefix/bin
hook=$sysconfdir/libvirt/hooks/qemu.d/vifd
# Where xl and libvirt's libxl driver find `script=vif-vifd`; xenopsd is pointed at it by
# `vif-script=` in xenopsd.conf (README, "Xen hosts").
xen_hook=$sysconfdir/xen/scripts/vif-vifd
unit=$sysconfdir/systemd/system/vifd.service
config=$sysconfdir/vifd/vifd.yaml
# Where src/cli/vifd-config.ts looks for it, relative to the installed program.
examples=$prefix/share/doc/vifd/examples
example=$examples/vifd.yaml.example
# Installed modes must not depend on the caller's umask (root's may be 077).
umask 022

systemd_running() { [ -z "$destdir" ] && [ -d /run/systemd/system ]; }

# Reads /proc directly: pgrep is not on every minimal host.
process_running() {
  local comm name
  for comm in /proc/[0-9]*/comm; do
    { read -r name <"$comm"; } 2>/dev/null || continue
    [ "$name" = "$1" ] && return 0
  done
  return 1
}

pending=
trap 'rm -rf -- "${pending:-}"' EXIT

# place TMP DEST MODE: TMP replaces DEST unless DEST already matches. A rename,
# so libvirt never runs a half-written hook nor finds none mid-update.
place() {
  local tmp=$1 dest=$2 mode=$3
  chmod "$mode" "$tmp"
  if [ -f "$dest" ] && [ ! -L "$dest" ] && cmp -s "$tmp" "$dest" && [ "$(stat -c %a "$dest")" = "$(stat -c %a "$tmp")" ]; then
    rm -f -- "$tmp"
    printf '  unchanged  %s\n' "$dest"
  else
    mv -f -- "$tmp" "$dest"
    printf '  installed  %s\n' "$dest"
  fi
  pending=
}

# Staged one directory above DEST: libvirt runs every executable file in
# qemu.d, hidden ones included, so a staged hook there would run twice.
new_temp() {
  local dir
  dir=$(dirname -- "$1")
  mkdir -p -- "$dir"
  pending=$(mktemp "$(dirname -- "$dir")/.vifd-install.XXXXXX")
}

# render SRC DEST MODE: SRC with @NAME@ placeholders filled in.
render() {
  local src=$1 dest=$2 mode=$3
  new_temp "$dest"
  sed -e "s|@NODE@|$node|g" -e "s|@LIBDIR@|$libdir|g" -e "s|@BINDIR@|$bindir|g" \
    -e "s|@SYSCONFDIR@|$sysconfdir|g" -- "$src" >"$pending"
  if grep -q '@[A-Z_]\+@' "$pending"; then
    die "$src has a placeholder install.sh does not know: $(grep -o '@[A-Z_]\+@' "$pending" | head -n 1)"
  fi
  place "$pending" "$dest" "$mode"
}

# sh wrappers rather than symlinks: the daemon must run with the node found
# now, not whichever node comes first in systemd's or an operator's PATH.
wrapper() {
  local dest=$1 script=$2
  new_temp "$dest"
  printf '#!/bin/sh\n# Installed by vifd'"'"'s scripts/install.sh.\nexec "%s" "%s" "$@"\n' \
    "$node" "$libdir/dist/src/cli/$script" >"$pending"
  place "$pending" "$dest" 0755
}

# copy_tree SRC DEST: DEST becomes a copy of SRC, stale files of an older build included.
copy_tree() {
  local src=$1 dest=$2
  pending=$dest.new
  rm -rf -- "$pending"
  mkdir -p -- "$(dirname -- "$dest")"
  cp -R -- "$src" "$pending"
  if [ -d "$dest" ] && diff -r -q -- "$pending" "$dest" >/dev/null; then
    rm -rf -- "$pending"
    printf '  unchanged  %s\n' "$dest"
  else
    rm -rf -- "$dest"
    mv -- "$pending" "$dest"
    printf '  installed  %s\n' "$dest"
  fi
  pending=
}

find_node() {
  node=$(command -v node) || die "node is not in PATH; vifd needs Node.js >= 20.19"
  safe_path "node's path" "$node"
  # The build may have used another node than the one root finds here.
  "$node" -e 'const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
    die "$node is Node.js $("$node" --version); vifd needs >= 20.19"
  command -v npm >/dev/null || die "npm is not in PATH; it installs vifd's production dependencies"
}

do_install() {
  local entry
  for entry in vifd vifctl hook xen-hook; do
    [ -f "dist/src/cli/$entry.js" ] || die "dist/src/cli/$entry.js is missing: run make build first"
  done
  find_node
  local d=$destdir
  local hook_was_there=false
  [ -e "$d$hook" ] && hook_was_there=true

  echo "installing vifd into ${d:-/} (prefix $prefix, sysconfdir $sysconfdir)"
  # Only dist/src: dist/test and dist/bench are development artifacts.
  copy_tree dist/src "$d$libdir/dist/src"
  copy_tree xml-templates "$d$libdir/xml-templates"
  new_temp "$d$libdir/package.json"; cp -- package.json "$pending"; place "$pending" "$d$libdir/package.json" 0644
  new_temp "$d$libdir/package-lock.json"; cp -- package-lock.json "$pending"; place "$pending" "$d$libdir/package-lock.json" 0644
  # Explicit, so an ignore-scripts=true in someone's npmrc cannot skip koffi's
  # install script (it checks for, or builds, the native binary).
  (cd "$d$libdir" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts=false >&2)
  printf '  installed  %s\n' "$d$libdir/node_modules"

  wrapper "$d$bindir/vifd" vifd.js
  wrapper "$d$bindir/vifctl" vifctl.js
  render hooks/qemu.d/vifd "$d$hook" 0755
  render hooks/xen/vif-vifd "$d$xen_hook" 0755
  render systemd/vifd.service "$d$unit" 0644
  new_temp "$d$example"; cp -- systemd/vifd.yaml.example "$pending"; place "$pending" "$d$example" 0644
  if [ -e "$d$config" ]; then
    printf '  kept       %s (install.sh never writes the config)\n' "$d$config"
  else
    note "no config installed: vifd refuses to start without $config; copy the example $example there, name this host's networks and bridges in it, then check it with: vifd --check-config $config"
  fi

  if systemd_running; then
    systemctl daemon-reload
    note "enable and start vifd with: systemctl enable --now vifd.service"
  elif [ -n "$d" ]; then
    note "staged under $d; once installed on the target, run: systemctl daemon-reload && systemctl enable --now vifd.service"
  else
    note "systemd is not running here; where it is, run: systemctl daemon-reload && systemctl enable --now vifd.service"
  fi
  if [ -z "$d" ] && [ "$hook_was_there" = false ] && { process_running libvirtd || process_running virtqemud; }; then
    note "libvirt looks for hooks only when it starts (or reloads on SIGHUP): restart libvirtd (or virtqemud) so that vifd's hook runs"
  fi
}

do_uninstall() {
  local d=$destdir path
  echo "uninstalling vifd from ${d:-/} (prefix $prefix, sysconfdir $sysconfdir)"
  # Stopped first, so no running daemon is left without its files.
  if systemd_running && [ -e "$unit" ]; then
    systemctl disable --now vifd.service || note "could not stop and disable vifd.service; continuing"
  fi
  for path in "$d$libdir" "$d$bindir/vifd" "$d$bindir/vifctl" "$d$hook" "$d$xen_hook" "$d$unit" "$d$example"; do
    if [ -e "$path" ] || [ -L "$path" ]; then
      rm -rf -- "$path"
      printf '  removed    %s\n' "$path"
    fi
  done
  # Only the directories install.sh made for the example, and only when empty.
  rmdir --ignore-fail-on-non-empty -- "$d$examples" "$d$prefix/share/doc/vifd" 2>/dev/null || true
  if [ -e "$d$config" ]; then
    printf '  kept       %s (remove it by hand if it is no longer wanted)\n' "$d$config"
  fi
  if systemd_running; then systemctl daemon-reload; fi
}

if [ "$uninstall" = true ]; then do_uninstall; else do_install; fi
