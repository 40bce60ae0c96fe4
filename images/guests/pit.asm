; PIT channel 0 at 1 kHz through the i8259 (IRQ 0 -> vector 0x20): waits in
; HLT for 20 ticks, then prints and exits with status 0x13 (QEMU: 39).
;
; The handler does not IRET: it drops its frame and jumps back to the wait
; loop. (This host's paravirtual KVM cannot emulate a 32-bit kernel-mode
; IRET; see iret.asm.)
%include "common.inc"

TICKS equ 20

start:
    ; IDT: vectors 0x20-0x2f to irq_handler, everything else to bad_interrupt
    mov edi, idt
    mov ecx, 256
    xor ebx, ebx
.fill:
    mov eax, bad_interrupt
    cmp ebx, 0x20
    jne .gate
    mov eax, irq0_handler
.gate:
    mov [edi], ax
    mov word [edi + 2], 0x08
    mov word [edi + 4], 0x8e00
    shr eax, 16
    mov [edi + 6], ax
    add edi, 8
    inc ebx
    loop .fill
    lidt [idt_desc]

    ; i8259: ICW1-4, master at 0x20, slave at 0x28, only IRQ 0 unmasked
    mov al, 0x11
    out 0x20, al
    out 0xa0, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x28
    out 0xa1, al
    mov al, 4
    out 0x21, al
    mov al, 2
    out 0xa1, al
    mov al, 1
    out 0x21, al
    out 0xa1, al
    mov al, 0xfe
    out 0x21, al
    mov al, 0xff
    out 0xa1, al

    ; PIT channel 0, mode 2, divisor 1193 (about 1 kHz)
    mov al, 0x34
    out 0x43, al
    mov al, 1193 & 0xff
    out 0x40, al
    mov al, 1193 >> 8
    out 0x40, al

    mov esi, waiting
    call puts
wait_loop:
    cmp dword [ticks], TICKS
    jae .done
    sti
    hlt
    jmp wait_loop
.done:
    cli
    mov esi, done
    call puts
    mov al, 0x13
    jmp exit

irq0_handler:
    add esp, 12                       ; EIP, CS, EFLAGS: we do not return
    inc dword [ticks]
    mov al, 0x20
    out 0x20, al
    jmp wait_loop

bad_interrupt:
    mov esi, bad
    call puts
    mov al, 0x7f
    jmp exit

waiting: db "waiting for the PIT", 10, 0
done:    db "20 timer interrupts", 10, 0
bad:     db "unexpected interrupt", 10, 0
ticks:   dd 0
align 8
idt_desc:
    dw 256 * 8 - 1
    dd idt
GUEST_END
idt equ bss_end
