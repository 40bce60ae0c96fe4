; System-level probe guest: run under qemu-system-i386 (multiboot -kernel)
; and under tsvm's TCG CPU; both print the same report to port 0xE9.
; Each probe arms a recovery point, runs an instruction sequence, and prints
; which exception (vector, error code, CR2) it raised, or "-" for none.
; Not probed: data-segment limit/type checks and null-selector use, which
; QEMU's TCG does not implement (tests/tcg/system.test.ts covers them).
bits 32
org 0x100000

%macro PROBE_START 1
  mov dword [recover], %%resume
  mov [saved_esp], esp
  mov dword [vec], -1
  mov dword [err], -1
  mov esi, %1
  call print
  jmp %%body
%%resume:
  jmp %1_end
%%body:
%endmacro

%macro PROBE_END 1
%1_end:
  mov ax, KDATA
  mov ds, ax
  mov es, ax
  mov fs, ax
  mov gs, ax
  mov ss, ax
  mov esp, [saved_esp]
  call report
%endmacro

%macro USER_RUN 1
  mov esi, %1
  mov edi, 0x400000
  mov ecx, u_end - %1
  rep movsb
  mov ax, UDATA
  mov ds, ax
  mov es, ax
  push UDATA
  push 0x401000
  push 0x2                        ; IF=0: QEMU's BIOS left the PIT ticking on vector 8
  push UCODE
  push 0x400000
  iretd
%endmacro


MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00010000          ; address fields valid (a.out kludge)

header:
  dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
  dd header, header, 0, 0, start

KCODE equ 0x08
KDATA equ 0x10
UCODE equ 0x1b
UDATA equ 0x23
TSS_SEL equ 0x28
SMALL equ 0x30                   ; data segment, limit 0xFFF
RODATA equ 0x38                  ; read-only data segment
NOTPRES equ 0x40                 ; not-present data segment
TSS2_SEL equ 0x48
SMALLSS equ 0x50                 ; stack segment, limit 0xFFF
ACC_DATA equ 0x58                ; descriptors with the accessed bit clear
ACC_STACK equ 0x60               ; (QEMU leaves a CS descriptor's accessed bit clear, so CS is not probed here)
TSS16_SEL equ 0x68
TASKGATE_SEL equ 0x70
DATA16 equ 0x78
TASK16_CODE equ 0x8000

PD equ 0x200000                  ; page directory
PT equ 0x201000                  ; page table for 0-4 MiB

start:
  cli
  mov eax, tss
  mov [tss_desc+2], ax
  shr eax, 16
  mov [tss_desc+4], al
  mov [tss_desc+7], ah
  mov eax, tss2
  mov [tss2_desc+2], ax
  shr eax, 16
  mov [tss2_desc+4], al
  mov [tss2_desc+7], ah
  lgdt [gdtr]
  jmp KCODE:.cs
.cs:
  mov ax, KDATA
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov fs, ax
  mov gs, ax
  mov esp, stack_top
  call build_idt
  lidt [idtr]
  ; TSS: ring-0 stack for interrupts from ring 3 / v86 mode
  mov dword [tss+4], stack0_top
  mov dword [tss+8], KDATA
  mov word [tss+102], 104        ; I/O bitmap right after the TSS
  mov byte [tss+104+(0x81>>3)], 1 << (0x81 & 7)   ; deny port 0x81
  mov ax, TSS_SEL
  ltr ax

  ; ---- exceptions in ring 0 ----
  PROBE_START p_ud
  ud2
  PROBE_END p_ud

  PROBE_START p_de
  xor ecx, ecx
  div ecx
  PROBE_END p_de

  PROBE_START p_bp
  int3
  PROBE_END p_bp

  PROBE_START p_of
  mov al, 0x7f
  add al, 1
  into
  PROBE_END p_of

  PROBE_START p_br
  mov eax, 30
  bound eax, [bounds]
  PROBE_END p_br

  PROBE_START p_selbig
  mov ax, 0x1000
  mov ds, ax
  PROBE_END p_selbig

  PROBE_START p_notpres
  mov ax, NOTPRES
  mov es, ax
  PROBE_END p_notpres

  PROBE_START p_sscode
  mov ax, KCODE
  mov ss, ax
  PROBE_END p_sscode





  PROBE_START p_cr5
  db 0x0f, 0x20, 0xe8            ; mov eax, cr5
  PROBE_END p_cr5

  PROBE_START p_lar
  mov eax, 0x12345678
  lar eax, [sel_udata]
  pushfd
  pop ebx
  and ebx, 0x40
  call print_eax
  call print_ebx
  PROBE_END p_lar

  PROBE_START p_lsl
  mov ax, SMALL
  lsl ecx, ax
  call print_ecx
  mov ax, TSS_SEL
  lsl ecx, ax
  call print_ecx
  PROBE_END p_lsl

  PROBE_START p_verw
  mov ax, RODATA
  verw ax
  pushfd
  pop ebx
  and ebx, 0x40
  call print_ebx
  mov ax, KCODE
  verr ax
  pushfd
  pop ebx
  and ebx, 0x40
  call print_ebx
  PROBE_END p_verw

  ; ---- paging ----
  call setup_paging
  PROBE_START p_pf_np
  mov eax, [0x3ff000]
  PROBE_END p_pf_np

  PROBE_START p_pf_ro
  mov dword [0x3fe000], 1
  PROBE_END p_pf_ro

  PROBE_START p_ad
  mov eax, [0x3fd000]
  mov ebx, [PT + 0x3fd*4]
  and ebx, 0x60
  call print_ebx
  mov dword [0x3fd000], 5
  mov ebx, [PT + 0x3fd*4]
  and ebx, 0x60
  call print_ebx
  PROBE_END p_ad

  PROBE_START p_wp0
  mov eax, cr0
  and eax, ~0x10000
  mov cr0, eax
  mov dword [0x3fe000], 7       ; WP=0: supervisor writes to read-only pages
  mov eax, cr0
  or eax, 0x10000
  mov cr0, eax
  mov eax, [0x3fe000]
  call print_eax
  PROBE_END p_wp0

  PROBE_START p_invlpg
  mov dword [PT + 0x3fd*4], 0    ; unmap, but the TLB still has it until INVLPG
  invlpg [0x3fd000]
  mov eax, [0x3fd000]
  PROBE_END p_invlpg

  ; ---- ring 3 ----
  PROBE_START p_u_cli
  USER_RUN u_cli
  PROBE_END p_u_cli

  PROBE_START p_u_super
  USER_RUN u_super
  PROBE_END p_u_super

  PROBE_START p_u_int
  USER_RUN u_int
  PROBE_END p_u_int

  PROBE_START p_u_io
  USER_RUN u_io
  PROBE_END p_u_io

  PROBE_START p_u_ok
  USER_RUN u_ok
  PROBE_END p_u_ok

  ; ---- double fault: #DE with its gate not present ----
  PROBE_START p_df
  and byte [idt + 0*8 + 5], 0x7f
  xor ecx, ecx
  div ecx
  PROBE_END p_df
  or byte [idt + 0*8 + 5], 0x80

  ; ---- task switch ----
  PROBE_START p_task
  mov dword [tss2+32], task2
  mov dword [tss2+36], 2
  mov dword [tss2+56], stack2_top
  mov dword [tss2+72], KDATA
  mov dword [tss2+76], KCODE
  mov dword [tss2+80], KDATA
  mov dword [tss2+84], KDATA
  mov dword [tss2+88], KDATA
  mov dword [tss2+92], KDATA
  mov eax, cr3
  mov [tss2+28], eax
  mov [tss+28], eax               ; a task switch never saves CR3: the way back loads it from here
  mov ebx, 0x1111
  call TSS2_SEL:0
  call print_ebx                  ; our EBX, restored from our TSS
  mov ebx, [tss2+52]
  call print_ebx                  ; task 2's EBX, saved in its TSS
  movzx ebx, word [tss2]
  call print_ebx                  ; back link
  mov ebx, [gdt + TSS2_SEL + 4]
  and ebx, 0x200
  call print_ebx                  ; busy bit after return
  pushfd
  pop ebx
  and ebx, 0x4000
  call print_ebx                  ; NT
  PROBE_END p_task

  ; ---- v86 mode: INT with IOPL 0 is #GP(0) ----
  PROBE_START p_v86
  mov esi, v86code
  mov edi, 0x20000
  mov ecx, v86end - v86code
  rep movsb
  push 0
  push 0
  push 0x3000
  push 0
  push 0x2000
  push 0x100
  push 0x20002                  ; VM, IOPL 0
  push 0x2000
  push 0
  iretd
  PROBE_END p_v86

  ; ---- debug registers (a #DB handler that records and returns) ----
  mov eax, db_handler
  mov [idt + 1*8], ax
  shr eax, 16
  mov [idt + 1*8 + 6], ax

  PROBE_START p_dbi                ; instruction breakpoint; the handler sets RF to go on
  mov dword [db_or], 0x10000
  mov eax, dbi_t
  mov dr0, eax
  mov eax, 1
  mov dr7, eax
  xor ecx, ecx
dbi_t:
  inc ecx
  mov ebx, dbi_t
  call db_report
  call print_ecx
  PROBE_END p_dbi

  PROBE_START p_dbw                ; write breakpoint, LEN 4: trap after the store
  mov dword [db_or], 0
  mov eax, dbvar
  mov dr0, eax
  mov eax, 1 | (1 << 16) | (3 << 18)
  mov dr7, eax
  mov eax, [dbvar]                ; a read: no hit
  mov byte [dbvar + 3], 7
dbw_t:
  mov ebx, dbw_t
  call db_report
  PROBE_END p_dbw

  PROBE_START p_dbrw               ; read/write breakpoint, LEN 2, hit by a read
  mov eax, dbvar + 5
  mov dr2, eax
  mov eax, 0x20 | (3 << 24) | (1 << 26)
  mov dr7, eax
  mov ecx, [dbvar + 2]            ; bytes 2..5: overlaps 4..5
dbrw_t:
  mov ebx, dbrw_t
  call db_report
  PROBE_END p_dbrw

  PROBE_START p_dbs                ; single-step: the trap after the instruction after POPF
  xor eax, eax
  mov dr7, eax
  pushfd
  or dword [esp], 0x100
  popfd
  nop
dbs_t:
  mov ebx, dbs_t
  call db_report
  PROBE_END p_dbs

  PROBE_START p_dbss               ; MOV SS holds the single-step trap for one instruction
  mov ax, ss
  pushfd
  or dword [esp], 0x100
  popfd
  mov ss, ax
  mov esp, esp
dbss_t:
  mov ebx, dbss_t
  call db_report
  PROBE_END p_dbss

  xor eax, eax
  mov dr7, eax

  ; ---- accessed bits: set in the GDT by segment loads ----
  PROBE_START p_acc
  mov ax, ACC_DATA
  mov ds, ax
  mov ax, KDATA
  mov ds, ax
  mov eax, [gdt + ACC_DATA + 4]
  call print_eax
  mov ax, ACC_STACK
  mov ss, ax
  mov ax, KDATA
  mov ss, ax
  mov eax, [gdt + ACC_STACK + 4]
  call print_eax
  PROBE_END p_acc

  ; ---- 16-bit TSS: CALL to it, IRET back; then JMP through a task gate and back ----
  PROBE_START p_task16
  mov esi, task16
  mov edi, TASK16_CODE
  mov ecx, task16_end - task16
  rep movsb
  mov eax, tss16
  mov [tss16_desc+2], ax
  shr eax, 16
  mov [tss16_desc+4], al
  mov [tss16_desc+7], ah
  mov word [tss16+14], TASK16_CODE
  mov word [tss16+16], 0x0002
  mov word [tss16+18], 0x1234     ; AX
  mov word [tss16+26], 0x9000     ; SP
  mov word [tss16+34], KDATA
  mov word [tss16+36], KCODE
  mov word [tss16+38], DATA16
  mov word [tss16+40], KDATA
  mov word [tss16+42], 0          ; LDT
  mov eax, 0x0009                 ; L0 and G1 (execute at 0): the task switch clears L0
  mov dr7, eax
  mov eax, 0xdead0000
  mov ebx, 0x11111111
  call TSS16_SEL:0
  call print_ebx                  ; ours, from our TSS
  mov eax, dr7
  call print_eax
  xor eax, eax
  mov dr7, eax
  mov eax, [t16_eax]
  call print_eax                  ; the task's EAX: AX from its TSS, and the upper half?
  movzx eax, word [t16_fs]
  call print_eax                  ; FS in the task: null
  mov eax, [t16_flags]
  and eax, 0x4000
  call print_eax                  ; NT in the called task
  movzx eax, word [tss16+24]
  call print_eax                  ; BX saved in the 16-bit TSS
  movzx eax, word [tss16]
  call print_eax                  ; back link
  movzx eax, word [tss16+14]
  call print_eax                  ; IP saved
  movzx eax, word [tss16+42]
  call print_eax                  ; LDT field untouched
  movzx eax, word [tss16+44]
  call print_eax                  ; nor the word after the TSS
  mov eax, [gdt + TSS16_SEL + 4]
  and eax, 0x200
  call print_eax                  ; not busy after the IRET
  mov byte [t16_mode], 1
  mov ebx, 0x33333333
  jmp TASKGATE_SEL:0
  call print_ebx
  movzx eax, word [tss16+24]
  call print_eax
  mov eax, [gdt + TSS16_SEL + 4]
  and eax, 0x200
  call print_eax
  mov eax, [t16_flags]
  and eax, 0x4000
  call print_eax                  ; NT: a JMP does not nest
  PROBE_END p_task16

  mov esi, done_msg
  call print
  mov dx, 0xf4
  mov eax, 0
  out dx, al
  hlt
  jmp $

task2:
  mov ebx, 0x2222
  iretd
  jmp task2

; The 16-bit task's code (copied below 64 KiB: a 16-bit TSS holds IP only)
task16:
  mov [t16_eax], eax
  mov [t16_fs], fs
  mov ax, KDATA
  mov fs, ax                      ; not saved: a 16-bit TSS has no FS field
  pushfd
  pop dword [t16_flags]
  mov bx, 0x2222
  cmp byte [t16_mode], 0
  jne .jmp
  iretd
  jmp task16
.jmp:
  jmp TSS_SEL:0
  jmp task16
task16_end:

; #DB: count, DR6 (then cleared), the EIP and EFLAGS of the frame; ORs [db_or] into EFLAGS, clears TF
db_handler:
  push eax
  inc dword [ss:dbcount]
  mov eax, dr6
  mov [ss:dbdr6], eax
  mov eax, 0xffff0ff0
  mov dr6, eax
  mov eax, [esp + 4]
  mov [ss:dbeip], eax
  mov eax, [esp + 12]
  mov [ss:dbflags], eax
  mov eax, [ss:db_or]
  or [esp + 12], eax
  and dword [esp + 12], ~0x100
  pop eax
  iretd

db_report:                         ; count, DR6, EIP - EBX, EFLAGS.RF|TF of the last #DB; then resets them
  mov eax, [dbcount]
  call print_hex
  mov eax, [dbdr6]
  call print_hex
  mov eax, [dbeip]
  sub eax, ebx
  call print_hex
  mov eax, [dbflags]
  and eax, 0x10100
  call print_hex
  mov dword [dbcount], 0
  mov dword [dbdr6], 0
  mov dword [dbeip], 0
  mov dword [dbflags], 0
  ret

bits 16
v86code:
  mov ax, 0x1234
  int 0x21
v86end:
bits 32

; User-mode bodies (copied to the user page at 0x400000 and run there)
u_cli:
  cli
  ud2
u_super:
  mov eax, [0x100000]
  ud2
u_int:
  int 0x40                        ; gate DPL 0
  ud2
u_io:
  mov al, 1
  out 0x80, al                    ; allowed by the bitmap
  out 0x81, al                    ; denied
  ud2
u_ok:
  mov eax, 0x55
  int 0x41                        ; gate DPL 3: the "syscall" that ends a user probe
u_end:

; ---- exception handlers: record vector/error code (and CR2 for #PF), resume at [recover] ----
%macro HANDLER 2               ; vector, has error code
handler_%1:
  %if %2
  pop dword [ss:err]
  %endif
  mov dword [ss:vec], %1
  jmp handler_common
%endmacro
%assign v 0
%rep 0x42
  %if v = 8 || (v >= 10 && v <= 14) || v = 17
    HANDLER v, 1
  %else
    HANDLER v, 0
  %endif
  %assign v v+1
%endrep

handler_common:
  mov ax, KDATA
  mov ds, ax
  mov eax, cr2
  mov [cr2v], eax
  mov eax, [vec]
  cmp eax, 0x41
  jne .notsys
  mov dword [vec], -1             ; int 0x41 from ring 3: a clean return
.notsys:
  mov esp, [saved_esp]
  jmp [recover]

build_idt:
  xor ecx, ecx
.l:
  mov eax, [handlers + ecx*4]
  mov [idt + ecx*8], ax
  mov word [idt + ecx*8 + 2], KCODE
  mov word [idt + ecx*8 + 4], 0x8e00
  shr eax, 16
  mov [idt + ecx*8 + 6], ax
  inc ecx
  cmp ecx, 0x42
  jb .l
  mov word [idt + 3*8 + 4], 0xee00     ; INT3 and INTO callable from ring 3
  mov word [idt + 4*8 + 4], 0xee00
  mov word [idt + 0x41*8 + 4], 0xee00
  ret

handlers:
%assign v 0
%rep 0x42
  dd handler_ %+ v
  %assign v v+1
%endrep

setup_paging:
  ; identity-map 0-4 MiB with 4K pages (user below 1 MiB): 0x3ff000 not present, 0x3fe000 read-only,
  ; 0x3fd000 clean (A=D=0); 4-8 MiB user 4 MiB page.
  xor ecx, ecx
.l:
  mov eax, ecx
  shl eax, 12
  or eax, 3
  cmp ecx, 0x100
  jae .super
  or eax, 4                       ; the first MiB is user-accessible (v86 code)
.super:
  mov [PT + ecx*4], eax
  inc ecx
  cmp ecx, 1024
  jb .l
  mov dword [PT + 0x3ff*4], 0
  and dword [PT + 0x3fe*4], ~2
  mov dword [PD], PT | 7
  mov dword [PD + 4], 0x400000 | 0x87
  mov eax, cr4
  or eax, 0x10
  mov cr4, eax
  mov eax, PD
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80010000
  mov cr0, eax
  ret

; ---- output on port 0xE9 ----
print:                             ; esi: NUL-terminated string
  push eax
  push edx
  mov dx, 0xe9
.l:
  lodsb
  test al, al
  jz .d
  out dx, al
  jmp .l
.d:
  pop edx
  pop eax
  ret

print_hex:                         ; eax, followed by a space
  push ecx
  push edx
  push eax
  mov dx, 0xe9
  mov ecx, 8
.l:
  rol eax, 4
  push eax
  and al, 0xf
  add al, '0'
  cmp al, '9'
  jbe .o
  add al, 'a' - '0' - 10
.o:
  out dx, al
  pop eax
  loop .l
  mov al, ' '
  out dx, al
  pop eax
  pop edx
  pop ecx
  ret

print_eax:
  call print_hex
  ret
print_ebx:
  push eax
  mov eax, ebx
  call print_hex
  pop eax
  ret
print_ecx:
  push eax
  mov eax, ecx
  call print_hex
  pop eax
  ret

report:                            ; "vec err cr2\n" or "-\n"
  mov eax, [vec]
  cmp eax, -1
  je .none
  call print_hex
  mov eax, [err]
  call print_hex
  cmp dword [vec], 14
  jne .nl
  mov eax, [cr2v]
  call print_hex
  jmp .nl
.none:
  mov esi, dash
  call print
.nl:
  mov esi, newline
  call print
  ret

section .data
align 8
gdt:
  dq 0
  dq 0x00cf9a000000ffff            ; 08 kernel code
  dq 0x00cf92000000ffff            ; 10 kernel data
  dq 0x00cffa000000ffff            ; 18 user code
  dq 0x00cff2000000ffff            ; 20 user data
tss_desc:
  dw 104 + 8192 + 1, 0, 0x8900, 0  ; 28 TSS (base patched below)
  dq 0x0040920000000fff            ; 30 small data (limit 0xFFF, byte granular)
  dq 0x00cf90000000ffff            ; 38 read-only data
  dq 0x00cf12000000ffff            ; 40 not present
tss2_desc:
  dw 103, 0, 0x8900, 0             ; 48 TSS 2
  dq 0x0040920000000fff            ; 50 small stack
  dq 0x00cf92000000ffff            ; 58 data, accessed clear
  dq 0x00cf92000000ffff            ; 60 stack, accessed clear
tss16_desc:
  dw 43, 0, 0x8100, 0              ; 68 16-bit TSS (base patched)
  dw 0, TSS16_SEL, 0x8500, 0       ; 70 task gate to it
  dq 0x000092000000ffff            ; 78 16-bit data (SP, not ESP, for the 16-bit task)
gdt_end:
gdtr: dw gdt_end - gdt - 1
  dd gdt
idtr: dw 0x42*8 - 1
  dd idt
bounds: dd 10, 20
sel_udata: dw UDATA
recover: dd 0
saved_esp: dd 0
vec: dd 0
err: dd 0
cr2v: dd 0
dbcount: dd 0
dbdr6: dd 0
dbeip: dd 0
dbflags: dd 0
db_or: dd 0
t16_eax: dd 0
t16_fs: dw 0
t16_flags: dd 0
t16_mode: db 0
align 8
dbvar: dd 0, 0
dash: db "- ", 0
newline: db 10, 0
done_msg: db "done", 10, 0
p_ud: db "ud2: ", 0
p_de: db "div0: ", 0
p_bp: db "int3: ", 0
p_of: db "into: ", 0
p_br: db "bound: ", 0
p_selbig: db "selector beyond GDT: ", 0
p_notpres: db "not-present segment: ", 0
p_sscode: db "ss=code: ", 0
p_rowrite: db "write read-only segment: ", 0
p_limit: db "beyond limit: ", 0
p_sslimit: db "stack beyond limit: ", 0
p_nullds: db "null fs use: ", 0
p_cr5: db "mov cr5: ", 0
p_lar: db "lar: ", 0
p_lsl: db "lsl: ", 0
p_verw: db "verw/verr: ", 0
p_pf_np: db "pf not present: ", 0
p_pf_ro: db "pf read-only: ", 0
p_ad: db "accessed/dirty: ", 0
p_wp0: db "cr0.wp=0 write: ", 0
p_invlpg: db "invlpg: ", 0
p_u_cli: db "user cli: ", 0
p_u_super: db "user reads supervisor page: ", 0
p_u_int: db "user int to dpl0 gate: ", 0
p_u_io: db "user io bitmap: ", 0
p_u_ok: db "user syscall: ", 0
p_df: db "double fault: ", 0
p_task: db "task switch: ", 0
p_v86: db "v86 int iopl0: ", 0
p_dbi: db "instruction breakpoint: ", 0
p_dbw: db "write breakpoint: ", 0
p_dbrw: db "read/write breakpoint: ", 0
p_dbs: db "single-step: ", 0
p_dbss: db "single-step after mov ss: ", 0
p_acc: db "accessed bits: ", 0
p_task16: db "16-bit task switch: ", 0

section .bss
alignb 4096
idt: resb 0x42*8
alignb 16
tss: resb 104 + 8192 + 2
alignb 16
tss2: resb 104
alignb 16
tss16: resb 44
tss16_after: resw 1
alignb 16
resb 4096
stack0_top:
resb 4096
stack_top:
resb 4096
stack2_top:
