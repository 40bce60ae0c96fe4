; MMIO: the VGA text window (device memory without a KVM slot) written and
; read back in each size, an unassigned address in the PCI hole (all-ones),
; and the I/O APIC version register. Exits with status 0x12 (QEMU: 37).
%include "common.inc"

VGA equ 0xb8000
HOLE equ 0xe0001000

start:
    mov dword [VGA], 0x44434241
    mov eax, [VGA]
    call puthex32
    call space
    mov word [VGA + 4], 0x4645
    mov ax, [VGA + 4]
    call puthex8
    shr ax, 8
    call puthex8
    call space
    mov byte [VGA + 6], 0x47
    mov al, [VGA + 6]
    call puthex8
    call space
    ; a string instruction through MMIO
    mov esi, VGA
    mov edi, copy
    mov ecx, 7
    rep movsb
    mov byte [copy + 7], 0
    mov esi, copy
    call puts
    call space
    mov eax, [HOLE]
    call puthex32
    call space
    mov dword [0xfec00000], 1      ; IOREGSEL: version register
    mov eax, [0xfec00010]          ; IOWIN
    call puthex32
    mov al, 10
    call putc
    mov al, 0x12
    jmp exit

space:
    push eax
    mov al, ' '
    call putc
    pop eax
    ret

copy: times 8 db 0
GUEST_END
