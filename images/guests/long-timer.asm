; Long mode with a periodic timer interrupt, for the gdb tests under KVM.
; Enters 64-bit mode (page tables as long.asm), points IDT vector 20h at a
; handler that counts ticks, moves the master PIC to 20h with only IRQ 0
; unmasked, runs the PIT at about 12 kHz, prints "long-timer ready" and
; loops over known instructions with interrupts on:
;   0x100400 loop:  inc rcx               48 ff c1
;   0x100403        add rdx, rcx          48 01 ca
;   0x100406        lea r8, [rel data]    4c 8d 05 ...  (r8 = 0x100600)
;   0x10040d        mov r9, [rel data]    4c 8b 0d ...  (r9 = 0x1122334455667788)
;   0x100414        jmp loop
;   0x100480 isr    (the timer handler)
;   0x100600 data:  dq 0x1122334455667788
;   0x100608 ticks: dq timer interrupts so far
; RAX = 0x1122334455667788 and RBX = 0x8877665544332211 throughout the loop.
%include "common.inc"

PIT_COUNT equ 100             ; 1.193182 MHz / 100: about 12 kHz

start:
    mov edi, pml4
    xor eax, eax
    mov ecx, 3 * 4096 / 4
    rep stosd
    mov dword [pml4], pdpt + 3
    mov dword [pdpt], pd + 3
    mov dword [pd], 0x000083          ; 0-2 MiB: present, writable, 2 MiB page
    mov dword [pd + 8], 0x200083      ; 2-4 MiB
    mov eax, pml4
    mov cr3, eax
    mov eax, cr4
    or eax, 1 << 5                    ; PAE
    mov cr4, eax
    mov ecx, 0xc0000080               ; EFER
    rdmsr
    or eax, 1 << 8                    ; LME
    wrmsr
    mov eax, cr0
    or eax, 1 << 31                   ; PG
    mov cr0, eax
    jmp 0x18:long_entry

bits 64
long_entry:
    ; interrupt gate for vector 20h: offset, selector 18h, present DPL 0 type Eh
    mov rax, isr
    mov rdi, idt + 0x20 * 16
    mov [rdi], ax
    mov word [rdi + 2], 0x18
    mov word [rdi + 4], 0x8e00
    shr rax, 16
    mov [rdi + 6], ax
    shr rax, 16
    mov [rdi + 8], eax
    mov dword [rdi + 12], 0
    lidt [idt_desc]
    ; PIC: ICW1-4 with the master at 20h, the slave at 28h; only IRQ 0 unmasked
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
    ; PIT channel 0, mode 2 (rate generator)
    mov al, 0x34
    out 0x43, al
    mov al, PIT_COUNT
    out 0x40, al
    xor al, al
    out 0x40, al
    mov rsi, msg
.next:
    lodsb
    test al, al
    jz .ready
    mov bl, al
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    mov al, bl
    mov dx, COM1
    out dx, al
    jmp .next
.ready:
    mov rax, 0x1122334455667788
    mov rbx, 0x8877665544332211
    xor ecx, ecx
    xor edx, edx
    sti
    jmp loop

msg: db "long-timer ready", 10, 0

    times 0x400 - ($ - $$) db 0x90
loop:                                 ; 0x100400
    inc rcx
    add rdx, rcx
    lea r8, [rel data]
    mov r9, [rel data]
    jmp loop

    times 0x480 - ($ - $$) db 0x90
isr:                                  ; 0x100480
    inc qword [rel ticks]
    push rax
    mov al, 0x20
    out 0x20, al
    pop rax
    iretq

idt_desc:
    dw 0x21 * 16 - 1
    dq idt

    times 0x600 - ($ - $$) db 0
data:                                 ; 0x100600
    dq 0x1122334455667788
ticks:                                ; 0x100608
    dq 0
bits 32
load_end:
    section .bss align=4096
pml4: resb 4096
pdpt: resb 4096
pd:   resb 4096
idt:  resb 4096
    resb 8192
stack_top:
bss_end:
