#!/usr/bin/env bash
# From a fresh clone: install, build the Debian i386 test guest, and boot it on tsvm's own CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash images/linux/build.sh i386
exec bin/tsvm -accel tcg -m 256 \
  -kernel images/build/linux-i386/vmlinuz \
  -initrd images/build/linux-i386/initramfs.cpio.gz \
  -append console=ttyS0 -nographic
