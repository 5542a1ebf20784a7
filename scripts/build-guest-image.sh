#!/usr/bin/env bash
# Builds the tiny test guest into DIR (default /var/cache/vifd-test/guest):
#   vmlinuz      Debian 12 cloud kernel (the package is downloaded, never installed)
#   initrd.img   busybox-static, the virtio-net modules, test/fixtures/guest/init
#   VERSION      kernel version and the hash of the inputs
# A cache whose inputs hash matches is reused as it is; a changed init or build
# script rebuilds it. The build happens in a temporary folder that replaces DIR
# in one rename, so a killed build never leaves a half-made guest behind.
set -euo pipefail

DIR=${1:-/var/cache/vifd-test/guest}
HERE=$(cd "$(dirname "$0")/.." && pwd)
INIT="$HERE/test/fixtures/guest/init"
# Loaded in this order by the guest's init; a module built into the kernel has no .ko.
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net)

say()  { echo "guest-image: $*"; }
fail() { echo "guest-image: error: $*" >&2; exit 1; }

[ -r "$INIT" ] || fail "missing $INIT"
inputs_hash=$(cat "$INIT" "$0" | sha256sum | cut -c1-16)

if [ -r "$DIR/VERSION" ] && grep -qx "inputs $inputs_hash" "$DIR/VERSION" \
   && [ -s "$DIR/vmlinuz" ] && [ -s "$DIR/initrd.img" ]; then
  say "cached ($(head -n 1 "$DIR/VERSION"))"
  echo "$DIR"
  exit 0
fi

command -v cpio >/dev/null || fail "cpio is missing (make setup installs it)"
kernel_pkg() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n 1; }
pkg=$(kernel_pkg)
if [ -z "$pkg" ]; then
  say "refreshing the package lists"
  apt-get update -q >/dev/null || fail "apt-get update failed"
  pkg=$(kernel_pkg)
fi
[ -n "$pkg" ] || fail "cannot find the Debian cloud kernel package (apt-cache depends linux-image-cloud-amd64)"
kver=${pkg#linux-image-}

mkdir -p "$(dirname "$DIR")"
work=$(mktemp -d "$DIR.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "downloading $pkg and busybox-static"
(cd "$work" && apt-get download -q "$pkg" busybox-static >/dev/null 2>"$work/download.log") \
  || { cat "$work/download.log" >&2; fail "apt-get download $pkg busybox-static failed"; }
say "unpacking"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done

say "assembling the initramfs"
initramfs="$work/initramfs"
mkdir -p "$initramfs"/{bin,dev,proc,sys,lib/modules}
# Debian 12's packages ship /bin and /lib; Debian 13's (merged /usr) /usr/bin and /usr/lib.
usr_or_root() { if [ -e "$work/root/usr/$1" ]; then echo "$work/root/usr/$1"; else echo "$work/root/$1"; fi; }
cp "$(usr_or_root bin/busybox)" "$initramfs/bin/busybox"
for applet in $("$initramfs/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$initramfs/bin/$applet"
done
moddir="$(usr_or_root "lib/modules/$kver")/kernel"
[ -d "$moddir" ] || fail "no modules for $kver in $pkg"
for module in "${MODULES[@]}"; do
  file=$(find "$moddir" -name "$module.ko" -o -name "$module.ko.xz" | head -n 1)
  [ -n "$file" ] || continue # built in
  case "$file" in
    *.xz) xz -dc "$file" >"$initramfs/lib/modules/$module.ko" ;;
    *) cp "$file" "$initramfs/lib/modules/$module.ko" ;;
  esac
done
install -m 0755 "$INIT" "$initramfs/init"

out="$work/out"
mkdir -p "$out"
(cd "$initramfs" && find . | cpio -o -H newc --quiet | gzip -9) >"$out/initrd.img"
cp "$work/root/boot/vmlinuz-$kver" "$out/vmlinuz"
printf 'kernel %s\ninputs %s\n' "$kver" "$inputs_hash" >"$out/VERSION"

say "installing into $DIR"
rm -rf "$DIR.old"
[ -e "$DIR" ] && mv "$DIR" "$DIR.old"
mv "$out" "$DIR"
rm -rf "$DIR.old"
say "built (kernel $kver, initrd $(du -k "$DIR/initrd.img" | cut -f1) KiB)"
echo "$DIR"
