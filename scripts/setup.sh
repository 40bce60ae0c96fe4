#!/usr/bin/env bash
# Installs everything tsvm's build and tests need on a fresh Debian 12 machine of this kind:
# the Debian tools the tests compare against or build guests with, and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
packages=(nasm gcc qemu-system-x86 qemu-utils socat syslinux syslinux-common isolinux mtools xorriso cpio seabios gdb linux-libc-dev acpica-tools kmod xz-utils tmux)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi
# i386 packages (the Linux test guest's kernel and busybox) come from Debian's i386 archive.
if ! dpkg --print-foreign-architectures | grep -qx i386; then
  dpkg --add-architecture i386
  apt-get update -q
fi
npm ci
npm run build
