; The exit round-trip benchmark: 1,000,000 byte writes to a port nobody
; claims (0x3e0), then debug-exit with status 0 (QEMU: 1).
%include "common.inc"

start:
    mov ecx, 1000000
    mov dx, 0x3e0
.loop:
    out dx, al
    dec ecx
    jnz .loop
    jmp bench_done
GUEST_END
