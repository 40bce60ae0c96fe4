#!/usr/bin/env bash
# Builds the Linux test guests from Debian 12 (bookworm) packages.
#
#   images/linux/build.sh [i386|amd64|d-i|all]    (default: i386)
#
# Outputs (git-ignored):
#   images/build/linux-i386/{vmlinuz,initramfs.cpio.gz}   686 kernel + i386 busybox
#   images/build/linux-amd64/{vmlinuz,initramfs.cpio.gz}  amd64 kernel + amd64 busybox
#   images/build/d-i-i386/{linux,initrd.gz}                the netboot installer
#
# The busybox initramfs also carries the kernel's modules for an IDE disk
# with a FAT filesystem and for the floppy controller (MODULES below, with
# their dependencies), so `modprobe -a ata_piix sd_mod vfat` in the guest
# reaches /dev/sda and `modprobe floppy` /dev/fd0. Nothing loads them at boot.
#
# Idempotent: a guest whose files already exist is not rebuilt (delete its
# directory to force a rebuild) unless this script changed since it was
# built; downloaded .debs are kept in images/build/debs.
# Needs root for `dpkg --add-architecture`/`apt-get update` and for the
# /dev/console node in the initramfs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="$ROOT/images/build"
DEBS="$BUILD/debs"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PROMPT='~ # '
BANNER='tsvm-guest: init ready'
# The PIIX3 IDE function (ata_piix, as QEMU's i440FX guests use), SCSI disks
# and FAT with the code pages a default vfat mount asks for; the PC's
# floppy controller (floppy).
MODULES=(ata_piix sd_mod vfat nls_cp437 nls_ascii nls_iso8859-1 floppy)
# A busybox guest records the recipe it was built from: any edit to this
# script rebuilds it.
RECIPE=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)

die() {
  echo "images/linux/build.sh: $*" >&2
  exit 1
}

need_tools() {
  local tool pkg
  for tool in "$@"; do
    case $tool in
      dpkg-deb) pkg=dpkg ;;
      flock) pkg=util-linux ;;
      depmod | modprobe) pkg=kmod ;;
      xz) pkg=xz-utils ;;
      *) pkg=$tool ;;
    esac
    command -v "$tool" >/dev/null || die "'$tool' is not installed (apt-get install -y $pkg)"
  done
}

# The package index must know the architecture: foreign ones are added once.
ensure_architecture() {
  local arch=$1
  if [[ $arch != "$(dpkg --print-architecture)" ]] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    [[ $(id -u) == 0 ]] || die "run as root once to enable the $arch architecture"
    dpkg --add-architecture "$arch"
    update_index
  fi
  if ! apt-cache show "busybox-static:$arch" >/dev/null 2>&1; then
    [[ $(id -u) == 0 ]] || die "the package index is empty: run 'apt-get update' as root"
    update_index
  fi
  apt-cache show "busybox-static:$arch" >/dev/null 2>&1 || die "the package index has no $arch packages (apt-get update failed?)"
}

# A mirror of one suite being mid-sync fails `apt-get update` as a whole while
# the main suite is fine; the caller checks that what it needs is indexed.
update_index() {
  apt-get update -qq || echo "images/linux/build.sh: warning: apt-get update reported errors" >&2
}

# linux-image-686 -> linux-image-6.1.0-NN-686 (the metapackage's versioned kernel).
resolve_kernel_package() {
  local meta=$1 arch=$2 pkg
  pkg=$(apt-cache depends "$meta:$arch" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { sub(/:.*$/, "", $2); print $2; exit }')
  [[ -n $pkg ]] || die "cannot resolve the kernel behind $meta:$arch"
  echo "$pkg"
}

# Downloads PKG for ARCH (or an Architecture: all PKG when ARCH is "all")
# into the deb cache, once, and prints the .deb's path.
fetch_deb() {
  local pkg=$1 arch=$2 spec deb
  spec=$pkg
  [[ $arch == all ]] || spec="$pkg:$arch"
  mkdir -p "$DEBS"
  deb=$(ls "$DEBS/${pkg}_"*"_$arch.deb" 2>/dev/null | head -n1 || true)
  if [[ -z $deb ]]; then
    (cd "$DEBS" && apt-get download -q -o APT::Sandbox::User=root "$spec" >&2) || die "apt-get download $spec failed"
    deb=$(ls "$DEBS/${pkg}_"*"_$arch.deb" 2>/dev/null | head -n1 || true)
    [[ -n $deb ]] || die "apt-get download $spec produced no .deb"
  fi
  echo "$deb"
}

unpack_deb() {
  mkdir -p "$2"
  dpkg-deb -x "$1" "$2" || die "cannot unpack $1"
}

write_init() {
  cat >"$1/init" <<INIT
#!/bin/sh
# tsvm test guest: mount the kernel filesystems and give the console a shell.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/ PS1='$PROMPT'
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo '$BANNER'
# cttyhack makes the console the shell's controlling tty (job control, ^C);
# the loop brings a new shell back if the user leaves one.
while true; do
  setsid cttyhack sh
done
INIT
  chmod 755 "$1/init"
}

# Lays out a busybox root in DIR: the binary and /bin/sh, /init, the mount
# points and the /dev/console node the kernel opens before /init. /init links
# the other applets itself: the guest's busybox need not run on the build
# host (an i386 binary does not where the kernel has 32-bit emulation off).
make_rootfs() {
  local dir=$1 busybox=$2
  mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc}
  install -m 755 "$busybox" "$dir/bin/busybox"
  ln -s busybox "$dir/bin/sh"
  write_init "$dir"
  [[ $(id -u) == 0 ]] || die "run as root: the initramfs needs a /dev/console device node"
  mknod -m 600 "$dir/dev/console" c 5 1
}

# Copies MODULES and everything they need (dependencies and softdeps, as
# the host's kmod resolves them from the unpacked kernel KTREE) into DIR's
# /lib/modules, uncompressed because busybox's insmod may lack xz support,
# and indexes them with the host's depmod for busybox's modprobe.
install_modules() {
  local dir=$1 ktree=$2 version mod path rel
  version=$(ls "$ktree/lib/modules")
  [[ $(wc -w <<<"$version") == 1 ]] || die "expected one kernel version in the package, found: $version"
  depmod -b "$ktree" "$version" || die "depmod failed on the unpacked kernel"
  local paths
  paths=$(for mod in "${MODULES[@]}"; do
    modprobe -d "$ktree" -S "$version" --show-depends "$mod" || die "module $mod not in the kernel package"
  done | awk '$1 == "insmod" { print $2 }' | sort -u) || exit 1
  for path in $paths; do
    rel=${path#"$ktree"/}
    mkdir -p "$dir/$(dirname "$rel")"
    case $path in
      *.ko.xz) xz -dc "$path" >"$dir/${rel%.xz}" ;;
      *) cp "$path" "$dir/$rel" ;;
    esac
  done
  cp "$ktree/lib/modules/$version"/modules.{builtin,builtin.modinfo,order} "$dir/lib/modules/$version/"
  depmod -b "$dir" "$version" || die "depmod failed on the initramfs modules"
}

# Packs DIR as a gzipped newc cpio with files owned by root and dated at the
# epoch, so the same packages always give the same bytes.
pack_initramfs() {
  local dir=$1 out=$2
  find "$dir" -exec touch -h -d @0 {} +
  (cd "$dir" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9n >"$out.tmp"
  mv "$out.tmp" "$out"
}

# build_busybox_guest ARCH KERNEL_METAPACKAGE OUTDIR
build_busybox_guest() {
  local arch=$1 meta=$2 out=$3
  if [[ -s $out/vmlinuz && -s $out/initramfs.cpio.gz && $(cat "$out/RECIPE" 2>/dev/null) == "$RECIPE" ]]; then
    echo "up to date: $out"
    return
  fi
  ensure_architecture "$arch"
  local kpkg kdeb bdeb tmp
  kpkg=$(resolve_kernel_package "$meta" "$arch")
  kdeb=$(fetch_deb "$kpkg" "$arch")
  bdeb=$(fetch_deb busybox-static "$arch")
  tmp="$WORK/$arch"
  unpack_deb "$kdeb" "$tmp/kernel"
  unpack_deb "$bdeb" "$tmp/busybox"
  mkdir -p "$out"
  local vmlinuz
  vmlinuz=$(ls "$tmp"/kernel/boot/vmlinuz-* 2>/dev/null | head -n1 || true)
  [[ -n $vmlinuz ]] || die "$kdeb has no /boot/vmlinuz-*"
  make_rootfs "$tmp/root" "$tmp/busybox/bin/busybox"
  install_modules "$tmp/root" "$tmp/kernel"
  pack_initramfs "$tmp/root" "$out/initramfs.cpio.gz"
  cp "$vmlinuz" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
  echo "$kpkg + busybox-static:$arch" >"$out/SOURCES"
  echo "$RECIPE" >"$out/RECIPE"
  echo "built: $out ($kpkg)"
}

build_debian_installer() {
  local out=$BUILD/d-i-i386
  if [[ -s $out/linux && -s $out/initrd.gz ]]; then
    echo "up to date: $out"
    return
  fi
  ensure_architecture "$(dpkg --print-architecture)"
  local deb tmp dir
  deb=$(fetch_deb debian-installer-12-netboot-i386 all)
  tmp="$WORK/d-i"
  unpack_deb "$deb" "$tmp"
  # The package ships the netboot tree; the text-mode kernel and initrd sit in
  # .../debian-installer/i386/ (the gtk variant lives in a separate tree).
  dir=$(dirname "$(find "$tmp" -path '*debian-installer/i386/initrd.gz' -not -path '*gtk*' | head -n1)")
  [[ -s $dir/linux && -s $dir/initrd.gz ]] || die "$deb has no debian-installer/i386/{linux,initrd.gz}"
  mkdir -p "$out"
  cp "$dir/linux" "$dir/initrd.gz" "$out/"
  basename "$deb" >"$out/SOURCES"
  echo "built: $out"
}

main() {
  local what=${1:-i386}
  need_tools apt-get apt-cache dpkg dpkg-deb cpio gzip flock depmod modprobe xz
  # Parallel test workers may all ask for the same guest: one builds, the rest wait and find it built.
  mkdir -p "$BUILD"
  exec 9>"$BUILD/.build.lock"
  flock 9
  case $what in
    i386) build_busybox_guest i386 linux-image-686 "$BUILD/linux-i386" ;;
    amd64) build_busybox_guest amd64 linux-image-amd64 "$BUILD/linux-amd64" ;;
    d-i) build_debian_installer ;;
    all)
      build_busybox_guest i386 linux-image-686 "$BUILD/linux-i386"
      build_busybox_guest amd64 linux-image-amd64 "$BUILD/linux-amd64"
      build_debian_installer
      ;;
    *) die "unknown guest '$what' (expected i386, amd64, d-i or all)" ;;
  esac
}

main "$@"
