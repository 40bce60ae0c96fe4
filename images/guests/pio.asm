; Port I/O in every size and string I/O (rep outsb/insb/insw/outsd) against
; the UART scratch register (0x3ff) and the CMOS index/data pair (0x70/0x71).
; Prints each value read back, then exits with status 0x11 (QEMU: 35).
%include "common.inc"

start:
    ; byte: scratch register
    mov dx, 0x3ff
    mov al, 0xa5
    out dx, al
    in al, dx
    call puthex8
    call space

    ; word: AL to the CMOS index port, AH to the data port, in one access
    mov ax, 0x3c50
    out 0x70, ax
    mov al, 0x50
    out 0x70, al
    in al, 0x71
    call puthex8
    call space

    ; dword: bytes to 0x70, 0x71, then two ports nobody claims
    mov eax, 0x00005a51
    out 0x70, eax
    mov al, 0x51
    out 0x70, al
    in al, 0x71
    call puthex8
    call space

    ; rep outsb: three bytes into the scratch register, the last one stays
    mov esi, abc
    mov ecx, 3
    mov dx, 0x3ff
    rep outsb
    in al, dx
    call putc
    call space

    ; rep insb: four reads of the scratch register
    mov edi, buf
    mov ecx, 4
    rep insb
    mov byte [buf + 4], 0
    mov esi, buf
    call puts
    call space

    ; rep outsd: index/data pairs to CMOS, one dword each
    mov esi, pairs
    mov ecx, 2
    mov dx, 0x70
    rep outsd
    mov al, 0x52
    out 0x70, al
    in al, 0x71
    call puthex8
    mov al, 0x53
    out 0x70, al
    in al, 0x71
    call puthex8
    call space

    ; rep insw: CMOS[0x53] as words from 0x71 (low byte: CMOS data)
    mov al, 0x53
    out 0x70, al
    mov edi, buf
    mov ecx, 2
    mov dx, 0x71
    rep insw
    mov al, [buf]
    call puthex8
    mov al, [buf + 2]
    call puthex8
    mov al, 10
    call putc

    mov al, 0x11
    jmp exit

space:
    push eax
    mov al, ' '
    call putc
    pop eax
    ret

abc:   db "xyz"
pairs: db 0x52, 0x11, 0, 0, 0x53, 0x22, 0, 0
buf:   times 8 db 0
GUEST_END
