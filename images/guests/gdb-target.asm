; A guest for the debugger tests (gdb, HMP info registers / x): known
; register values at fixed addresses, then it exits with AL as its
; debug-exit status, so a debugger that changes EAX changes the status.
;   0x100200 site:     EAX=0x10 EBX=0x12345678 ECX=0xcafe0001 EDX=0 ESI=0x100400
;   0x100205 next:     after `mov edx, 0xabcdef01` (stepi lands here)
;   0x100400 data:     the bytes "gdb-target data" (x / xp check them)
; Run alone it prints "gdb-target" and exits with 0x10 (QEMU status 33).
%include "common.inc"

start:
    mov esi, msg
    call puts
    mov eax, 0x10
    mov ebx, 0x12345678
    mov ecx, 0xcafe0001
    xor edx, edx
    mov esi, data
    jmp site

    times 0x200 - ($ - $$) db 0x90
site:                           ; 0x100200
    mov edx, 0xabcdef01
next:                           ; 0x100205
    inc dword [counter]
    add ecx, 1
    jmp exit

msg: db "gdb-target", 10, 0

    times 0x400 - ($ - $$) db 0
data:                           ; 0x100400
    db "gdb-target data", 0
counter:
    dd 0
GUEST_END
