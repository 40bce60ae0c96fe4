; A software interrupt (INT 0x40) and an IRET back, in 32-bit protected
; mode. Hardware KVM runs it (status 0x15, QEMU: 43); this host's
; paravirtual KVM cannot emulate INT n there and stops with
; "KVM internal error. Suberror: 1", which tsvm must report the same way.
%include "common.inc"

start:
    mov eax, handler
    mov [idt + 0x40 * 8], ax
    mov word [idt + 0x40 * 8 + 2], 0x08
    mov word [idt + 0x40 * 8 + 4], 0x8e00
    shr eax, 16
    mov [idt + 0x40 * 8 + 6], ax
    lidt [idt_desc]
    int 0x40
    mov esi, msg
    call puts
    mov al, 0x15
    jmp exit

handler:
    iret

msg: db "returned from interrupt", 10, 0
align 8
idt_desc:
    dw 0x41 * 8 - 1
    dd idt
idt: times 0x41 * 8 db 0
GUEST_END
