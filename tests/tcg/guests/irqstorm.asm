; Device interrupts landing anywhere in translated code: a multiboot guest
; run under qemu-system-i386 and under tsvm (translator and interpreter);
; all three must print the same report to port 0xE9.
;
; Each of ITERATIONS rounds runs a call-heavy checksum over a random number
; of steps (nested calls on this page and on another, stack and memory
; read-modify-writes) and, at a random step, asks the i8042 for one
; keyboard interrupt (command 0xD2: the next byte appears in the output
; buffer as if the keyboard had sent it; IRQ 1 follows). The IRQ 1 handler
; does what Linux's handle_level_irq and floppy driver do: masks IRQ 1 and
; sends EOI, re-enables interrupts, works, reads the byte (the line drops),
; unmasks. A handler entered with nothing in the output buffer counts as
; an unexpected interrupt: a request delivered twice. The PIT ticks at
; about 6 kHz meanwhile, its handler nesting into IRQ 1's.
; The report holds no timing-dependent number (ticks, spins).
bits 32
org 0x100000

MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00010000          ; address fields valid (a.out kludge)

header:
  dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
  dd header, header, 0, 0, start

%ifndef ITERATIONS
%define ITERATIONS 4000
%endif
SPIN_LIMIT equ 2000000           ; waits for one interrupt before calling it lost
PIT_DIVISOR equ 200              ; 1193182 / 200: about 6 kHz
KBD_DATA equ 0x60
KBD_STATUS equ 0x64
DEBUGCON equ 0xe9
DEBUG_EXIT equ 0xf4

start:
  cli
  lgdt [gdtr]
  jmp 0x08:.flat
.flat:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov fs, ax
  mov gs, ax
  mov ss, ax
  mov esp, stack_top

  ; Every vector to `stray`, then the three this guest expects.
  mov edi, idt
  mov ecx, 256
.gates:
  mov eax, stray
  call set_gate
  add edi, 8
  loop .gates
  mov edi, idt + 0x20 * 8
  mov eax, irq0
  call set_gate
  mov edi, idt + 0x21 * 8
  mov eax, irq1
  call set_gate
  mov edi, idt + 0x27 * 8
  mov eax, irq7
  call set_gate
  lidt [idtr]

  ; 8259s: master at vectors 0x20-0x27, slave at 0x28-0x2F, all masked.
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
  mov al, 0xff
  out 0x21, al
  out 0xa1, al

  ; PIT channel 0, mode 2 (rate generator).
  mov al, 0x34
  out 0x43, al
  mov ax, PIT_DIVISOR
  out 0x40, al
  mov al, ah
  out 0x40, al

  ; i8042: empty the output buffer; command byte: keyboard interrupt on, system flag, no translation.
.drain:
  in al, KBD_STATUS
  test al, 1
  jz .drained
  in al, KBD_DATA
  jmp .drain
.drained:
  call wait_input_empty
  mov al, 0x60
  out KBD_STATUS, al
  call wait_input_empty
  mov al, 0x05
  out KBD_DATA, al

  mov al, 0xfc                   ; IRQ 0 and IRQ 1 on
  out 0x21, al
  sti

  xor esi, esi                   ; esi: the round
round:
  call random
  mov ecx, eax
  and ecx, 63
  add ecx, 8                     ; ecx: steps this round, 8-71
  shr eax, 6
  xor edx, edx
  div ecx
  mov [request_at], edx          ; the step before which the interrupt is requested
  xor ebx, ebx
.step:
  cmp ebx, [request_at]
  jne .mix
  call request
.mix:
  mov eax, ebx
  call mix
  inc ebx
  cmp ebx, ecx
  jb .step

  mov ecx, SPIN_LIMIT
.wait:
  cmp [kbd_count], esi
  ja .next
  call spin
  dec ecx
  jnz .wait
  inc dword [lost]
  jmp report
.next:
  inc esi
  cmp esi, ITERATIONS
  jb round

report:
  cli
  mov esi, s_irq1
  call print
  mov eax, [kbd_count]
  call print_hex
  mov esi, s_unexpected
  call print
  mov eax, [unexpected]
  call print_hex
  mov esi, s_wrong
  call print
  mov eax, [wrong]
  call print_hex
  mov esi, s_lost
  call print
  mov eax, [lost]
  call print_hex
  mov esi, s_sum
  call print
  mov eax, [sum]
  call print_hex
  mov esi, s_newline
  call print
  xor eax, eax
  out DEBUG_EXIT, al
  hlt

; An interrupt gate at [edi] to the handler at eax (kernel code, DPL 0).
set_gate:
  mov [edi], ax
  mov word [edi + 2], 0x08
  mov word [edi + 4], 0x8e00
  shr eax, 16
  mov [edi + 6], ax
  ret

wait_input_empty:
  in al, KBD_STATUS
  test al, 2
  jnz wait_input_empty
  ret

; One keyboard interrupt, carrying the round's low byte. Keeps all but eax.
request:
  call wait_input_empty
  mov al, 0xd2
  out KBD_STATUS, al
  call wait_input_empty
  mov eax, esi
  mov [expected], al
  out KBD_DATA, al
  ret

; xorshift32 in [seed]: eax.
random:
  mov eax, [seed]
  mov edx, eax
  shl edx, 13
  xor eax, edx
  mov edx, eax
  shr edx, 17
  xor eax, edx
  mov edx, eax
  shl edx, 5
  xor eax, edx
  mov [seed], eax
  ret

; sum = f(sum, step eax, round esi). Keeps ebx, ecx, esi, edi.
mix:
  push ecx
  push ebx
  mov edx, [sum]
  rol edx, 5
  xor edx, eax
  add edx, esi
  push edx
  call far_mix
  add esp, 4
  imul eax, eax, 0x9e3779b1
  add [sum], eax
  xor [sum], edx
  pop ebx
  pop ecx
  ret

; Waiting: work that leaves the checksum alone.
spin:
  push eax
  mov eax, [scratch]
  inc eax
  mov [scratch], eax
  pop eax
  ret

; Handler work: a call to the other page on scratch data.
handler_work:
  push dword [scratch]
  call far_mix
  add esp, 4
  mov [scratch], eax
  ret

irq0:
  pushad
  call handler_work
  mov al, 0x20
  out 0x20, al
  popad
  iretd

irq1:
  pushad
  in al, 0x21                    ; mask IRQ 1, then EOI (Linux's mask_and_ack)
  or al, 2
  out 0x21, al
  mov al, 0x20
  out 0x20, al
  sti
  call handler_work
  in al, KBD_STATUS
  test al, 1
  jz .unexpected
  in al, KBD_DATA
  cmp al, [expected]
  jne .wrong
  inc dword [kbd_count]
  jmp .done
.unexpected:
  inc dword [unexpected]
  jmp .done
.wrong:
  inc dword [wrong]
.done:
  cli
  in al, 0x21
  and al, ~2
  out 0x21, al
  popad
  iretd

; Spurious IRQ 7: no EOI.
irq7:
  iretd

stray:
  mov esi, s_stray
  call print
  mov al, 1
  out DEBUG_EXIT, al
  hlt

; The NUL-terminated string at esi to the debug console.
print:
  push eax
.next:
  lodsb
  test al, al
  jz .end
  out DEBUGCON, al
  jmp .next
.end:
  pop eax
  ret

; eax as 8 hex digits.
print_hex:
  push ecx
  push edx
  mov ecx, 8
.digit:
  rol eax, 4
  mov edx, eax
  and edx, 15
  push eax
  mov al, [hex_digits + edx]
  out DEBUGCON, al
  pop eax
  loop .digit
  pop edx
  pop ecx
  ret

; On a page of its own: calls here cross pages.
align 4096
far_mix:
  mov eax, [esp + 4]
  mov ecx, eax
  shr ecx, 3
  xor eax, ecx
  lea eax, [eax + eax * 4 + 0x1234567]
  call leaf
  ret

leaf:
  add eax, 0x55555555
  ror eax, 7
  ret

align 4096
gdt:
  dq 0
  dq 0x00cf9a000000ffff          ; 0x08: code, flat
  dq 0x00cf92000000ffff          ; 0x10: data, flat
gdtr:
  dw 3 * 8 - 1
  dd gdt
idtr:
  dw 256 * 8 - 1
  dd idt

seed: dd 0x2545f491
sum: dd 0x6a09e667
request_at: dd 0
expected: db 0
align 4
kbd_count: dd 0
unexpected: dd 0
wrong: dd 0
lost: dd 0
scratch: dd 0

hex_digits: db '0123456789abcdef'
s_irq1: db 'irq1 ', 0
s_unexpected: db ' unexpected ', 0
s_wrong: db ' wrong ', 0
s_lost: db ' lost ', 0
s_sum: db ' sum ', 0
s_newline: db 10, 0
s_stray: db 'stray interrupt or exception', 10, 0

align 4096
idt: times 256 * 8 db 0
stack: times 4096 db 0
stack_top:
