; -smp 2: counts the processors in the MP table, then starts the second CPU
; with INIT-SIPI-SIPI through the local APIC. Each CPU prints its APIC ID;
; exits with status 0x16 (QEMU: 45) once the AP has reported in.
%include "common.inc"

LAPIC       equ 0xfee00000
LAPIC_ID    equ LAPIC + 0x20
LAPIC_SVR   equ LAPIC + 0xf0
LAPIC_ICR   equ LAPIC + 0x300
LAPIC_ICR2  equ LAPIC + 0x310
TRAMPOLINE  equ 0x8000              ; SIPI vector 0x08

start:
    call count_mp_cpus
    mov esi, mp_msg
    call puts
    call putc                       ; AL: the count as a digit
    mov esi, cpus_msg
    call puts

    call report_in

    ; the AP's real-mode entry, below 1 MiB
    mov esi, trampoline
    mov edi, TRAMPOLINE
    mov ecx, trampoline_end - trampoline
    rep movsb

    mov dword [LAPIC_SVR], 0x1ff    ; software-enable the local APIC
    mov dword [LAPIC_ICR2], 0
    mov dword [LAPIC_ICR], 0x000c4500   ; INIT, all excluding self
    call delay
    mov dword [LAPIC_ICR], 0x000c4600 | (TRAMPOLINE >> 12)   ; STARTUP
    call delay
    mov dword [LAPIC_ICR], 0x000c4600 | (TRAMPOLINE >> 12)

.wait:
    pause
    cmp dword [aps_up], 1
    jb .wait
    mov esi, all_msg
    call puts
    mov al, 0x16
    jmp exit

; "CPU <APIC ID> up"
report_in:
    mov esi, cpu_msg
    call puts
    mov eax, [LAPIC_ID]
    shr eax, 24
    call puthex8
    mov esi, up_msg
    call puts
    ret

delay:
    mov ecx, 1000000
.spin:
    loop .spin
    ret

; AL = number of enabled processor entries in the MP configuration table, as
; an ASCII digit ('0' when there is no table). Searches the last KiB of base
; memory, then the BIOS area (MP spec 1.4, 4).
count_mp_cpus:
    mov esi, 0x9fc00
    mov ecx, 0xa0000
    call find_mp
    jnc .found
    mov esi, 0xf0000
    mov ecx, 0x100000
    call find_mp
    jnc .found
    mov al, '0'
    ret
.found:
    mov esi, [esi + 4]              ; configuration table
    movzx ecx, word [esi + 34]      ; entry count
    add esi, 44
    xor eax, eax
.entry:
    cmp byte [esi], 0
    jne .other
    test byte [esi + 3], 1
    jz .skip
    inc eax
.skip:
    add esi, 20
    jmp .next
.other:
    add esi, 8
.next:
    loop .entry
    add al, '0'
    ret

; ESI..ECX: 16-byte aligned search for "_MP_"; CF clear and ESI at it when found.
find_mp:
    cmp dword [esi], '_MP_'
    je .hit
    add esi, 16
    cmp esi, ecx
    jb find_mp
    stc
    ret
.hit:
    clc
    ret

; The AP, in 32-bit protected mode
ap_entry32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, ap_stack_top
%ifdef AP_SOFTWARE_INTERRUPT
    lidt [ap_idt_desc]
    int 0x40                        ; see smp-int.asm
%endif
    call report_in
    lock inc dword [aps_up]
.halt:
    cli
    hlt
    jmp .halt

%ifdef AP_SOFTWARE_INTERRUPT
ap_int_handler:
    iret
align 8
ap_idt_desc:
    dw 0x41 * 8 - 1
    dd ap_idt
ap_idt:
    times 0x40 dq 0
    ; vector 0x40: a 32-bit interrupt gate to ap_int_handler (the image sits at 1 MiB, below 0x110000)
    dw ap_int_handler - mb_header, 0x08, 0x8e00, 0x0010
%endif

bits 16
; Copied to TRAMPOLINE: the AP starts here in real mode at TRAMPOLINE:0000.
trampoline:
    cli
    xor ax, ax
    mov ds, ax
    o32 lgdt [TRAMPOLINE + (tramp_gdt_desc - trampoline)]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword 0x08:ap_entry32
tramp_gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
trampoline_end:
bits 32

mp_msg:   db "MP table: ", 0
cpus_msg: db " CPUs", 10, 0
cpu_msg:  db "CPU ", 0
up_msg:   db " up", 10, 0
all_msg:  db "all CPUs up", 10, 0
align 4
aps_up:   dd 0
    times 1024 db 0
ap_stack_top:
GUEST_END
