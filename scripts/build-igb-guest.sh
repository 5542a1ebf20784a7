#!/usr/bin/env bash
# Builds the SR-IOV test guest (test/e2e/sriov/) into two caches under CACHE
# (default /var/cache/vifd-test), each reused while its inputs hash matches:
#   qemu-backports/  QEMU >= 8 (it has the emulated igb NIC, which does SR-IOV)
#                    from bookworm-backports, extracted with dpkg-deb -x, never
#                    installed: the system QEMU that libvirt uses stays as it is.
#                    Run it with QEMU_MODULE_DIR and -L pointing inside.
#   igb-guest/       vmlinuz of Debian's generic kernel (the cloud kernel has no
#                    igb/igbvf) and an initramfs: busybox, the modules the guest
#                    loads (in load order, listed in modules/load.list) and
#                    test/fixtures/sriov-guest/init. Node, iproute2 and vifd come
#                    from the host over read-only 9p shares at run time.
# apt runs with a private configuration and state (sources, lists, caches in a
# temporary folder), so the host's apt sources and lists are never touched.
# Exit status 3: the Debian archive (bookworm-backports) is unreachable.
set -euo pipefail

CACHE=${1:-/var/cache/vifd-test}
HERE=$(cd "$(dirname "$0")/.." && pwd)
INIT="$HERE/test/fixtures/sriov-guest/init"
QEMU_DIR="$CACHE/qemu-backports"
GUEST_DIR="$CACHE/igb-guest"
MIRROR=${VIFD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${VIFD_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
QEMU_PACKAGES=(qemu-system-x86 qemu-system-common qemu-system-data seabios)
# What the guest loads; modprobe --show-depends adds their dependencies in order.
MODULES=(virtio_pci virtio_console 9pnet_virtio 9p igb igbvf 8021q vfio_pci vfio_iommu_type1)

say()  { echo "igb-guest: $*"; }
fail() { echo "igb-guest: error: $1" >&2; exit "${2:-1}"; }

[ -r "$INIT" ] || fail "missing $INIT"
# Bump QEMU_RECIPE when build_qemu changes what it makes: editing the rest of this script
# must not download QEMU again.
QEMU_RECIPE=1
qemu_hash=$(echo "${QEMU_PACKAGES[*]} recipe $QEMU_RECIPE" | sha256sum | cut -c1-16)
guest_hash=$(cat "$INIT" "$0" | sha256sum | cut -c1-16)

cached() { [ -r "$1/VERSION" ] && grep -qx "inputs $2" "$1/VERSION" && [ -s "$1/$3" ]; }

qemu_cached() { cached "$QEMU_DIR" "$qemu_hash" usr/bin/qemu-system-x86_64; }
guest_cached() { cached "$GUEST_DIR" "$guest_hash" initrd.img && [ -s "$GUEST_DIR/vmlinuz" ]; }
if qemu_cached && guest_cached; then
  say "cached ($(head -n 1 "$QEMU_DIR/VERSION"); $(head -n 1 "$GUEST_DIR/VERSION"))"
  exit 0
fi

for tool in apt-get dpkg-deb cpio gzip depmod modprobe; do
  command -v "$tool" >/dev/null || fail "$tool is missing"
done
[ -r "$KEYRING" ] || fail "missing $KEYRING (package debian-archive-keyring)"

mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/.igb-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A private apt: its own sources, lists and caches; dpkg's status is only read.
apt="$work/apt"
mkdir -p "$apt/parts" "$apt/state/lists/partial" "$apt/cache/archives/partial"
cat >"$apt/sources.list" <<EOF
deb [signed-by=$KEYRING] $MIRROR bookworm main
deb [signed-by=$KEYRING] $MIRROR bookworm-updates main
deb [signed-by=$KEYRING] $MIRROR bookworm-backports main
deb [signed-by=$KEYRING] $SECURITY bookworm-security main
EOF
apt_opts=(-q -o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/parts"
  -o "Dir::State=$apt/state" -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root")
say "reading the package lists of bookworm and bookworm-backports (private apt state)"
apt-get "${apt_opts[@]}" update >"$work/update.log" 2>&1 || { cat "$work/update.log" >&2; fail "apt-get update of $MIRROR failed" 3; }
grep -q '^W: .*bookworm-backports' "$work/update.log" && { cat "$work/update.log" >&2; fail "bookworm-backports is unavailable" 3; }

download() { # into $1: the packages after it
  local into=$1; shift
  mkdir -p "$into"
  (cd "$into" && apt-get "${apt_opts[@]}" download "$@" >"$work/download.log" 2>&1) \
    || { cat "$work/download.log" >&2; fail "apt-get download $* failed" 3; }
}

install_dir() { # moves the built folder $1 into place as $2 in one rename
  rm -rf "$2.old"
  [ -e "$2" ] && mv "$2" "$2.old"
  mv "$1" "$2"
  rm -rf "$2.old"
}

build_qemu() {
  say "downloading ${QEMU_PACKAGES[*]} from bookworm-backports"
  download "$work/qemu-debs" "${QEMU_PACKAGES[@]/%//bookworm-backports}"
  local out="$work/qemu" size
  for deb in "$work/qemu-debs"/*.deb; do dpkg-deb -x "$deb" "$out"; done
  size=$(du -cb "$work/qemu-debs"/*.deb | tail -n 1 | cut -f1)
  local qemu="$out/usr/bin/qemu-system-x86_64" version
  missing=$(ldd "$qemu" | grep 'not found' || true)
  [ -z "$missing" ] || fail "the backports QEMU needs libraries this host lacks: $missing"
  version=$(QEMU_MODULE_DIR="$out/usr/lib/x86_64-linux-gnu/qemu" "$qemu" --version | sed -n 's/^QEMU emulator version \([0-9][0-9.]*\).*/\1/p')
  [ "${version%%.*}" -ge 8 ] 2>/dev/null || fail "the backports QEMU is version '$version', the igb NIC needs >= 8"
  QEMU_MODULE_DIR="$out/usr/lib/x86_64-linux-gnu/qemu" "$qemu" -machine q35 -device igb,help >/dev/null 2>&1 \
    || fail "QEMU $version has no igb device"
  printf 'qemu %s\ndownload-bytes %s\ninputs %s\n' "$version" "$size" "$qemu_hash" >"$out/VERSION"
  install_dir "$out" "$QEMU_DIR"
  say "QEMU $version in $QEMU_DIR (downloaded $((size / 1024)) KiB)"
}

kernel_package() {
  apt-cache "${apt_opts[@]}" depends linux-image-amd64 2>/dev/null \
    | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1
}

# Copies each wanted module and its dependencies into $2/modules, listing them in load order.
copy_modules() {
  local root=$1 initramfs=$2 kver=$3 module line file
  depmod -b "$root" "$kver"
  mkdir -p "$initramfs/modules"
  : >"$initramfs/modules/load.list"
  for module in "${MODULES[@]}"; do
    modprobe -d "$root" -S "$kver" --show-depends "$module" >"$work/deps" || fail "module $module not in $kver"
    while read -r line; do
      case "$line" in insmod\ *) ;; *) continue ;; esac
      file=${line#insmod }; file=${file%% *}
      name=$(basename "$file"); name=${name%.xz}
      grep -qx "$name" "$initramfs/modules/load.list" && continue
      case "$file" in *.xz) xz -dc "$file" >"$initramfs/modules/$name" ;; *) cp "$file" "$initramfs/modules/$name" ;; esac
      echo "$name" >>"$initramfs/modules/load.list"
    done <"$work/deps"
  done
}

build_guest() {
  local pkg kver root="$work/kernel" initramfs="$work/initramfs" out="$work/guest"
  pkg=$(kernel_package)
  [ -n "$pkg" ] || fail "cannot find Debian's generic kernel package (linux-image-amd64 in bookworm)" 3
  kver=${pkg#linux-image-}
  say "downloading $pkg and busybox-static"
  download "$work/guest-debs" "$pkg" busybox-static/bookworm
  for deb in "$work/guest-debs"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  mkdir -p "$initramfs"/{busybox,dev,proc,sys,run,tmp,usr,vifd,etc}
  cp "$root/bin/busybox" "$initramfs/busybox/busybox"
  for applet in $("$initramfs/busybox/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$initramfs/busybox/$applet"
  done
  copy_modules "$root" "$initramfs" "$kver"
  # The host's merged /usr arrives over 9p; these make its programs and libraries resolve.
  for dir in bin sbin lib lib64; do ln -s "usr/$dir" "$initramfs/$dir"; done
  install -m 0755 "$INIT" "$initramfs/init"
  mkdir -p "$out"
  (cd "$initramfs" && find . | cpio -o -H newc --quiet | gzip -6) >"$out/initrd.img"
  cp "$root/boot/vmlinuz-$kver" "$out/vmlinuz"
  printf 'kernel %s\nmodules %s\ninputs %s\n' "$kver" "$(wc -l <"$initramfs/modules/load.list")" "$guest_hash" >"$out/VERSION"
  install_dir "$out" "$GUEST_DIR"
  say "guest in $GUEST_DIR (kernel $kver, initrd $(du -k "$GUEST_DIR/initrd.img" | cut -f1) KiB)"
}

qemu_cached || build_qemu
guest_cached || build_guest
