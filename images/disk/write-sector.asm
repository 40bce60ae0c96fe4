; A boot sector that exercises the BIOS and then ends the VM.
;   1. prints "tsvm-bootsect: hello" through INT 10h AH=0Eh;
;   2. writes sector 5 (LBA 4) of its own disk through INT 13h AH=03h (CHS):
;      the text "TSVM-WRITTEN-BY-INT13-CHS" padded with zeros;
;   3. writes LBA 6 through the extensions (AH=42h read back check, AH=43h write):
;      "TSVM-WRITTEN-BY-INT13-EDD";
;   4. reports "ok" or "fail xx" (xx = AH) and exits through isa-debug-exit
;      at port 0xF4 when present (status 1 = ok, 3 = fail), else halts.
bits 16
org 0x7c00

start:
  cli
  xor ax, ax
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov sp, 0x7c00
  sti
  mov [drive], dl
  mov si, hello
  call print

  ; CHS write of one sector: cylinder 0, head 0, sector 5
  mov si, chs_text
  mov di, buffer
  call fill
  mov ax, 0x0301
  mov cx, 0x0005
  xor dh, dh
  mov dl, [drive]
  mov bx, buffer
  int 0x13
  jc fail

  ; EDD write of LBA 6
  mov si, edd_text
  mov di, buffer
  call fill
  mov ah, 0x43
  xor al, al
  mov dl, [drive]
  mov si, dap
  int 0x13
  jc fail

  ; read LBA 4 back with EDD and compare the first byte
  mov word [dap_lba], 4
  mov byte [buffer], 0
  mov ah, 0x42
  mov dl, [drive]
  mov si, dap
  int 0x13
  jc fail
  cmp byte [buffer], 'T'
  jne fail

  mov si, ok
  call print
  mov al, 0
  out 0xf4, al
  jmp halt

fail:
  mov [code], ah
  mov si, failed
  call print
  mov al, [code]
  shr al, 4
  call hexdigit
  mov al, [code]
  and al, 15
  call hexdigit
  mov si, crlf
  call print
  mov al, 1
  out 0xf4, al
halt:
  hlt
  jmp halt

; fill: 512 bytes at DI = the zero-terminated text at SI, then zeros
fill:
  push di
  mov cx, 512
  xor al, al
  rep stosb
  pop di
.copy:
  lodsb
  test al, al
  jz .done
  stosb
  jmp .copy
.done:
  ret

print:
  lodsb
  test al, al
  jz .done
  mov ah, 0x0e
  mov bx, 0x0007
  int 0x10
  jmp print
.done:
  ret

hexdigit:
  add al, '0'
  cmp al, '9'
  jbe .out
  add al, 7
.out:
  mov ah, 0x0e
  int 0x10
  ret

hello: db 'tsvm-bootsect: hello', 13, 10, 0
ok: db 'tsvm-bootsect: ok', 13, 10, 0
failed: db 'tsvm-bootsect: fail ', 0
crlf: db 13, 10, 0
chs_text: db 'TSVM-WRITTEN-BY-INT13-CHS', 0
edd_text: db 'TSVM-WRITTEN-BY-INT13-EDD', 0
drive: db 0
code: db 0
dap: db 0x10, 0
     dw 1
     dw buffer, 0
dap_lba: dd 6, 0

times 510 - ($ - $$) db 0
dw 0xaa55
buffer:
