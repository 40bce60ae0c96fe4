; Prints a line on COM1 and exits with status 0x10 (QEMU: 33).
%include "common.inc"

start:
    mov esi, msg
    call puts
    mov al, 0x10
    jmp exit

msg: db "Hello from a KVM guest", 10, 0
GUEST_END
