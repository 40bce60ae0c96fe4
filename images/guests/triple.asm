; A triple fault: an empty IDT, then an invalid opcode. QEMU resets (or with
; -no-reboot exits 0).
%include "common.inc"

start:
    mov esi, msg
    call puts
    lidt [empty_idt]
    ud2

msg: db "about to triple fault", 10, 0
empty_idt:
    dw 0
    dd 0
GUEST_END
