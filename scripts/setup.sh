#!/usr/bin/env bash
# Installs everything tsvm's build and tests need on a fresh Debian 12 machine of this kind:
# the Debian tools the tests compare against or build guests with, and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
# A Debian mirror being synced serves index files of the wrong size for a minute or so
# ("Mirror sync in progress?"), and apt-get update then fails: try again before giving up.
apt_update() {
  for attempt in 1 2 3 4 5; do
    apt-get update -q && return 0
    echo "apt-get update failed (attempt $attempt of 5); retrying in 30 s" >&2
    sleep 30
  done
  return 1
}
packages=(nasm gcc qemu-system-x86 qemu-utils socat syslinux syslinux-common isolinux mtools xorriso cpio seabios gdb linux-libc-dev acpica-tools kmod xz-utils tmux)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt_update
  apt-get install -y -q "${missing[@]}"
fi
# i386 packages (the Linux test guest's kernel and busybox) come from Debian's i386 archive.
if ! dpkg --print-foreign-architectures | grep -qx i386; then
  dpkg --add-architecture i386
  # Not fatal: images/linux/build.sh checks that the packages it needs are indexed.
  apt_update || echo "setup.sh: warning: apt-get update kept failing; the i386 index may be incomplete" >&2
fi
npm ci
npm run build
