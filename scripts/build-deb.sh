#!/usr/bin/env bash
# Builds the Debian package of a built vifd (make build) with dpkg-deb alone:
# vifd in /usr/sbin, vifctl in /usr/bin, the program and its production
# node_modules in /usr/lib/vifd, the unit in /lib/systemd/system, the libvirt
# hook, man pages, bash completion and the example config (never a live one).
# The same inputs and SOURCE_DATE_EPOCH give the same bytes: sorted entries,
# root:root, every mtime clamped to SOURCE_DATE_EPOCH, modes normalised.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/build-deb.sh [--out DIR]
  --out DIR   where vifd_<version>_<arch>.deb goes (default dist/deb)
Run after `make build`. SOURCE_DATE_EPOCH defaults to the last commit's time.
EOF
}

die() { printf 'build-deb: %s\n' "$*" >&2; exit 1; }

out=dist/deb
while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || { usage >&2; die "--out needs a value"; }; out=$2; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
out=$(realpath -m -- "$out")
cd "$(dirname -- "$0")/.."

# The paths the package installs to; the wrappers, hook and unit name them.
LIBDIR=/usr/lib/vifd
NODE=/usr/bin/node
SBINDIR=/usr/sbin
BINDIR=/usr/bin
UNITDIR=/lib/systemd/system
HOOK_LINK=/etc/libvirt/hooks/qemu.d/vifd
HOOK=$LIBDIR/hooks/qemu
# Xen's vif hotplug script: xl and libvirt-libxl find `vif-vifd` in /etc/xen/scripts.
XEN_HOOK_LINK=/etc/xen/scripts/vif-vifd
XEN_HOOK=$LIBDIR/hooks/vif-vifd
DOCDIR=/usr/share/doc/vifd
MANPAGES=(man/vifd.8 man/vifctl.8 man/vifd.yaml.5)

for entry in vifd vifctl hook xen-hook; do
  [ -f "dist/src/cli/$entry.js" ] || die "dist/src/cli/$entry.js is missing: run make build first"
done
for tool in dpkg-deb dpkg npm node gzip md5sum; do
  command -v "$tool" >/dev/null || die "$tool is not in PATH"
done
version=$(node -p 'require("./package.json").version')
[[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "package.json version '$version' is not a Debian version"
arch=$(dpkg --print-architecture)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || stat -c %Y package.json)
fi
[[ $SOURCE_DATE_EPOCH =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH '$SOURCE_DATE_EPOCH' is not a number"
export SOURCE_DATE_EPOCH
umask 022

stage=$(mktemp -d "${TMPDIR:-/tmp}/vifd-deb.XXXXXX")
trap 'rm -rf -- "$stage"' EXIT
root=$stage/root

# render SRC DEST MODE: SRC with install.sh's @NAME@ placeholders filled in.
render() {
  mkdir -p -- "$(dirname -- "$2")"
  sed -e "s|@NODE@|$NODE|g" -e "s|@LIBDIR@|$LIBDIR|g" -e "s|@BINDIR@|$SBINDIR|g" \
    -e "s|@SYSCONFDIR@|/etc|g" -- "$1" >"$2"
  if grep -q '@[A-Z_]\+@' "$2"; then
    die "$1 has a placeholder build-deb.sh does not know: $(grep -o '@[A-Z_]\+@' "$2" | head -n 1)"
  fi
  chmod "$3" "$2"
}

# Same form as install.sh's wrappers: the node the package depends on, by path.
wrapper() {
  mkdir -p -- "$(dirname -- "$1")"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$NODE" "$LIBDIR/dist/src/cli/$2" >"$1"
  chmod 0755 "$1"
}

# What a Debian host never uses: koffi's musl build (Debian is glibc), the
# modules' command-line links, their lint/VCS/npm dotfiles. An executable
# bit stays only on real scripts (npm leaves it on some plain modules).
prune_node_modules() {
  rm -rf -- "$1/.bin" "$1"/@koromix/koffi-*/musl_*
  find "$1" -type f \( -name '.eslintrc*' -o -name '.npmignore' -o -name '.gitattributes' -o -name '.travis.yml' \) -delete
  find "$1" -type f -perm /111 -print0 | while IFS= read -r -d '' file; do
    [ "$(head -c 2 -- "$file")" = '#!' ] || chmod a-x -- "$file"
  done
}

echo "build-deb: vifd $version ($arch), SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
mkdir -p "$root$LIBDIR/dist"
cp -R dist/src "$root$LIBDIR/dist/src"
cp -R xml-templates "$root$LIBDIR/xml-templates"
cp package.json package-lock.json "$root$LIBDIR/"
# Explicit, so an ignore-scripts=true in someone's npmrc cannot skip koffi's
# install script (it checks for, or builds, the native binary).
(cd "$root$LIBDIR" && npm ci --omit=dev --prefer-offline --no-audit --no-fund --ignore-scripts=false --loglevel=error >&2) ||
  die "npm ci --omit=dev failed in the staging tree"

prune_node_modules "$root$LIBDIR/node_modules"
chmod 0755 "$root$LIBDIR"/dist/src/cli/{vifd,vifctl,hook,xen-hook}.js

wrapper "$root$SBINDIR/vifd" vifd.js
wrapper "$root$BINDIR/vifctl" vifctl.js
render hooks/qemu.d/vifd "$root$HOOK" 0755
# A link, not a copy: a removed (not purged) package must leave no hook behind
# that would run a missing program and so refuse every VM's start.
mkdir -p "$root$(dirname -- "$HOOK_LINK")"
ln -s "$HOOK" "$root$HOOK_LINK"
# The same for Xen: a dangling script would fail every VIF's plug, a missing one fails only loudly.
render hooks/xen/vif-vifd "$root$XEN_HOOK" 0755
mkdir -p "$root$(dirname -- "$XEN_HOOK_LINK")"
ln -s "$XEN_HOOK" "$root$XEN_HOOK_LINK"
render systemd/vifd.service "$root$UNITDIR/vifd.service" 0644

for page in "${MANPAGES[@]}"; do
  section=${page##*.}
  mkdir -p "$root/usr/share/man/man$section"
  name=$(basename -- "$page")
  gzip -9n <"$page" >"$root/usr/share/man/man$section/$name.gz"
done
mkdir -p "$root/usr/share/bash-completion/completions"
cp completion/vifctl.bash "$root/usr/share/bash-completion/completions/vifctl"
mkdir -p "$root$DOCDIR/examples"
cp systemd/vifd.yaml.example "$root$DOCDIR/examples/vifd.yaml.example"
{
  cat packaging/deb/copyright.in
  # shellcheck disable=SC2016 # JavaScript, not shell: nothing to expand
  node -e '
    const lock = require(process.argv[1]);
    const lines = Object.entries(lock.packages).filter(([path]) => path !== "")
      .map(([path, entry]) => ` ${path.replace(/^.*node_modules\//, "")} ${entry.version}: ${entry.license ?? "see its folder"}`);
    console.log("\nFiles: usr/lib/vifd/node_modules/*\nCopyright: the authors of each module\nLicense: various\n The bundled modules and their licenses:");
    console.log(lines.sort().join("\n"));
  ' "$root$LIBDIR/node_modules/.package-lock.json"
} >"$root$DOCDIR/copyright"
date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
printf 'vifd (%s) unstable; urgency=medium\n\n  * Built from the vifd source tree (scripts/build-deb.sh).\n\n -- vifd developers <vifd@vifd.dev>  %s\n' \
  "$version" "$date" | gzip -9n >"$root$DOCDIR/changelog.gz"

# Normalised before sizing and checksumming: what the archive records is what was measured.
chmod -R u+rwX,go+rX,go-w "$root"
find "$root" -depth -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$root/DEBIAN"
installed_size=$(du -sk --apparent-size "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@INSTALLED_SIZE@|$installed_size|" \
  packaging/deb/control.in >"$root/DEBIAN/control"
for script in postinst prerm postrm; do
  install -m 0755 "packaging/deb/$script" "$root/DEBIAN/$script"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"
find "$root/DEBIAN" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$out"
deb=$out/vifd_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "build-deb: $deb ($(du -h "$deb" | cut -f1))"
