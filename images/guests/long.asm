; Switches to 64-bit long mode (PAE page tables mapping the first 4 MiB with
; 2 MiB pages), prints from 64-bit code, exits with status 0x14 (QEMU: 41).
%include "common.inc"

start:
    ; page tables live in .bss, 4 KiB aligned
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
    mov rsi, msg
.next:
    lodsb
    test al, al
    jz .done
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
.done:
    mov rax, 0x123456789a
    shr rax, 32
    add al, 0x14 - 0x12               ; 0x14 only if 64-bit arithmetic worked
    out DEBUG_EXIT, al
.halt:
    hlt
    jmp .halt

msg: db "hello from 64-bit long mode", 10, 0
bits 32
load_end:
    section .bss align=4096
pml4: resb 4096
pdpt: resb 4096
pd:   resb 4096
    resb 8192
stack_top:
bss_end:
