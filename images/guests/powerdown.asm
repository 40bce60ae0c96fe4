; Waits for the ACPI power button (system_powerdown) and powers off, as an
; ACPI guest's button handler does: enables PWRBTN_EN (QEMU latches the
; button only when enabled), polls PWRBTN_STS in PM1a_STS, clears it, then
; enters S5 (SLP_TYP 0 with SLP_EN in PM1a_CNT). The PIIX4 PM block is at
; 0x600 (where QEMU's firmware and tsvm put it).
%include "common.inc"

PM1_STS     equ 0x600
PM1_EN      equ 0x602
PM1_CNT     equ 0x604
PWRBTN_STS  equ 0x0100
SLP_EN      equ 0x2000

start:
    mov esi, msg
    call puts
    mov dx, PM1_EN
    mov ax, PWRBTN_STS         ; PWRBTN_EN is the same bit in PM1a_EN
    out dx, ax
    mov dx, PM1_STS
.poll:
    in ax, dx
    test ax, PWRBTN_STS
    jz .poll
    out dx, ax                 ; write 1 to clear the status
    mov esi, bye
    call puts
    mov dx, PM1_CNT
    mov ax, SLP_EN             ; SLP_TYP 0: S5
    out dx, ax
.halt:
    hlt
    jmp .halt

msg: db "waiting for the power button", 10, 0
bye: db "powering off", 10, 0
GUEST_END
