#!/usr/bin/env bash
# Builds the firmware test guests from Debian's syslinux, isolinux, mtools and
# xorriso, with the i386 kernel and busybox initramfs of images/linux/build.sh.
#
#   images/disk/build.sh
#
# Outputs (git-ignored), in images/build/disk/:
#   disk.img     64 MiB raw disk: syslinux's mbr.bin, one bootable FAT16
#                partition at 1 MiB with syslinux, vmlinuz, initramfs.cpio.gz
#   boot.iso     El Torito no-emulation CD: isolinux, the same kernel/initramfs
#   floppy.img   1.44 MiB FAT12 floppy with syslinux and a config whose only
#                label, "tsvm", names a kernel that is not there (the kernel
#                does not fit): typing "tsvm" at its prompt proves the config
#                was read and the keyboard works
#   bootsect.img 1 MiB disk whose boot sector writes a sector through INT 13h
# Every syslinux.cfg uses the serial console (SERIAL 0 115200, console=ttyS0).
# Idempotent: existing outputs are kept (delete the directory to rebuild).
# Runs as any user: no loop mounts (mtools and syslinux --offset work on files).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT="$ROOT/images/build/disk"
LINUX="$ROOT/images/build/linux-i386"
SYSLINUX_BIOS=/usr/lib/syslinux/modules/bios
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PART_START=2048        # sectors: the partition starts at 1 MiB
DISK_MIB=64

die() {
  echo "images/disk/build.sh: $*" >&2
  exit 1
}

need() {
  for f in "$@"; do [[ -e $f ]] || die "$f is missing (apt-get install -y syslinux syslinux-common isolinux mtools xorriso nasm)"; done
}

need /usr/bin/syslinux /usr/bin/mformat /usr/bin/mcopy /usr/bin/xorriso /usr/bin/nasm \
  /usr/lib/syslinux/mbr/mbr.bin /usr/lib/ISOLINUX/isolinux.bin "$SYSLINUX_BIOS/ldlinux.c32"
[[ -f $LINUX/vmlinuz && -f $LINUX/initramfs.cpio.gz ]] || bash "$ROOT/images/linux/build.sh" i386
mkdir -p "$OUT"
export MTOOLS_SKIP_CHECK=1

syslinux_cfg() {
  cat <<CFG
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  APPEND initrd=initramfs.cpio.gz console=ttyS0
CFG
}

# Little-endian bytes of a number, as printf escapes.
le() { # $1 value, $2 byte count
  local i out=""
  for ((i = 0; i < $2; i++)); do out+=$(printf '\\x%02x' $((($1 >> (8 * i)) & 255))); done
  printf '%s' "$out"
}

# CHS bytes (head, sector | cylinder high bits, cylinder low) of an LBA for 16 heads x 63 sectors.
chs() {
  local c=$(($1 / (16 * 63))) h=$((($1 / 63) % 16)) s=$(($1 % 63 + 1))
  ((c > 1023)) && { c=1023; h=15; s=63; }
  printf '\\x%02x\\x%02x\\x%02x' $h $((s | ((c >> 2) & 0xc0))) $((c & 255))
}

# The MBR's first partition entry: active, FAT16 (type 06h), and the 55AAh signature.
write_partition() { # $1 image, $2 first sector, $3 sector count
  printf "\\x80$(chs $2)\\x06$(chs $(($2 + $3 - 1)))$(le $2 4)$(le $3 4)" | dd of="$1" bs=1 seek=446 conv=notrunc status=none
  printf '\x55\xaa' | dd of="$1" bs=1 seek=510 conv=notrunc status=none
}

build_disk() {
  local img="$WORK/disk.img" part_bytes=$((PART_START * 512))
  truncate -s ${DISK_MIB}M "$img"
  local sectors=$(( DISK_MIB * 2048 - PART_START ))
  dd if=/usr/lib/syslinux/mbr/mbr.bin of="$img" bs=440 count=1 conv=notrunc status=none
  write_partition "$img" $PART_START $sectors
  mformat -i "$img@@$part_bytes" -T $sectors -h 16 -s 63 -H $PART_START -v TSVMDISK ::
  syslinux --install --offset $part_bytes "$img"
  syslinux_cfg > "$WORK/syslinux.cfg"
  mcopy -i "$img@@$part_bytes" "$WORK/syslinux.cfg" "$LINUX/vmlinuz" "$LINUX/initramfs.cpio.gz" ::
  mv "$img" "$OUT/disk.img"
}

build_iso() {
  local dir="$WORK/iso"
  mkdir -p "$dir/isolinux"
  cp /usr/lib/ISOLINUX/isolinux.bin "$SYSLINUX_BIOS/ldlinux.c32" "$dir/isolinux/"
  cp "$LINUX/vmlinuz" "$LINUX/initramfs.cpio.gz" "$dir/"
  syslinux_cfg | sed 's|KERNEL vmlinuz|KERNEL /vmlinuz|; s|initrd=|initrd=/|' > "$dir/isolinux/isolinux.cfg"
  xorriso -as mkisofs -quiet -o "$WORK/boot.iso" -V TSVMCD -b isolinux/isolinux.bin -c isolinux/boot.cat \
    -no-emul-boot -boot-load-size 4 -boot-info-table "$dir"
  mv "$WORK/boot.iso" "$OUT/boot.iso"
}

build_floppy() {
  local img="$WORK/floppy.img"
  mformat -C -i "$img" -f 1440 -v TSVMFLOPPY ::
  syslinux --install "$img"
  cat > "$WORK/syslinux.cfg" <<CFG
SERIAL 0 115200
PROMPT 1
TIMEOUT 0
LABEL tsvm
  KERNEL tsvm-floppy-kernel
CFG
  mcopy -i "$img" "$WORK/syslinux.cfg" ::
  mv "$img" "$OUT/floppy.img"
}

build_bootsect() {
  nasm -f bin -o "$WORK/bootsect.bin" "$ROOT/images/disk/write-sector.asm"
  truncate -s 1M "$WORK/bootsect.img"
  dd if="$WORK/bootsect.bin" of="$WORK/bootsect.img" conv=notrunc status=none
  mv "$WORK/bootsect.img" "$OUT/bootsect.img"
}

[[ -f $OUT/disk.img ]] || build_disk
[[ -f $OUT/boot.iso ]] || build_iso
[[ -f $OUT/floppy.img ]] || build_floppy
[[ -f $OUT/bootsect.img && $OUT/bootsect.img -nt $ROOT/images/disk/write-sector.asm ]] || build_bootsect
echo "images/disk/build.sh: outputs in $OUT"
