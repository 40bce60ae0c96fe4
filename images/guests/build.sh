#!/bin/sh
# Assembles every test guest into images/build/guests/<name>.bin (multiboot
# v1 kernels in the a.out-kludge format; load with -kernel).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../build/guests"
mkdir -p "$out"
for src in "$here"/*.asm; do
    name=$(basename "$src" .asm)
    nasm -f bin -I "$here/" -o "$out/$name.bin" "$src"
done
