; Guest-visible disk checks through the ATA PIO command set (ATA/ATAPI-6,
; T13/1410D) on the primary channel's master (ports 0x1F0-0x1F7, 0x3F6).
; Interrupts stay off (nIEN set); the guest polls Status.
;
; The mode is the word after the kernel path in the multiboot command line
; (QEMU and tsvm pass "<kernel> <-append>"):
;
;   (none)  verify: IDENTIFY; WRITE SECTORS (30h) and WRITE MULTIPLE (C5h) in
;           LBA28, WRITE SECTORS EXT (34h) at the last sectors of the disk;
;           FLUSH CACHE (E7h); read everything back with READ SECTORS (20h),
;           READ MULTIPLE (C4h) and READ SECTORS EXT (24h) and compare.
;   loop    write sector LOOP_BASE + n*LOOP_STRIDE for n = 0, 1, 2, ... one
;           WRITE SECTORS each; after every LOOP_FLUSH sectors, FLUSH CACHE
;           and print "flushed N" (N = sectors written so far, hex): sectors
;           0..N-1 are then on stable storage. Runs until killed.
;   unflushed
;           verify mode's writes without FLUSH CACHE, then "written" and a
;           halt: whoever stops the VM must get the data to the image.
;   probe   every command must fail: READ SECTORS (EXT) one sector past the
;           end (IDNF or ABRT), then WRITE SECTORS, WRITE MULTIPLE and WRITE
;           SECTORS EXT, which a read-only drive must abort (ABRT).
;
; Each command prints "<name> lba L count C: ok", or the Status and Error
; registers it ended with. Exit: 0x10 (QEMU: 33) when every check passed,
; 0x11 (QEMU: 35) otherwise.
;
; Sector L of the disk is written with the pattern "dword i holds
; (L*128 + i) XOR A5A5A5A5h": its own dword address, salted so that zeros
; never match. Only 32-bit LBAs are used (disks under 2 TiB).
%include "common.inc"

ATA_DATA     equ 0x1f0
ATA_ERROR    equ 0x1f1
ATA_COUNT    equ 0x1f2
ATA_LBA_LOW  equ 0x1f3        ; LBA_MID and LBA_HIGH follow
ATA_DEVICE   equ 0x1f6
ATA_STATUS   equ 0x1f7        ; reads Status, writes Command
ATA_CONTROL  equ 0x3f6        ; reads Alternate Status, writes Device Control

; Status register bits
ST_ERR       equ 0x01
ST_DRQ       equ 0x08
ST_BSY       equ 0x80
; Error register bits
ERR_ABRT     equ 0x04
ERR_IDNF     equ 0x10

; Device register: LBA addressing, device 0 (bits 7 and 5 are obsolete "ones")
DEV_LBA      equ 0xe0
; Device Control: nIEN, no interrupts
CTL_NIEN     equ 0x02

CMD_READ_SECTORS       equ 0x20
CMD_READ_SECTORS_EXT   equ 0x24
CMD_WRITE_SECTORS      equ 0x30
CMD_WRITE_SECTORS_EXT  equ 0x34
CMD_READ_MULTIPLE      equ 0xc4
CMD_WRITE_MULTIPLE     equ 0xc5
CMD_SET_MULTIPLE_MODE  equ 0xc6
CMD_FLUSH_CACHE        equ 0xe7
CMD_IDENTIFY           equ 0xec

PATTERN_SALT equ 0xa5a5a5a5
MULTIPLE     equ 4            ; sectors per DRQ block for READ/WRITE MULTIPLE
LBA28_FIRST  equ 16           ; WRITE SECTORS: 4 sectors from here
LBA28_COUNT  equ 4
MULT_FIRST   equ 100          ; WRITE MULTIPLE: 10 sectors, so the last block is short
MULT_COUNT   equ 10
EXT_COUNT    equ 4            ; WRITE SECTORS EXT: the last 4 sectors of the disk
LOOP_BASE    equ 2048
LOOP_STRIDE  equ 17           ; odd: every offset within a cluster; over 4 KiB, a new cluster each
LOOP_FLUSH   equ 8

PASS         equ 0x10
FAIL         equ 0x11

MBI_FLAGS_CMDLINE equ 1 << 2

start:
    cld
    mov esi, ebx
    call parse_mode
    mov al, CTL_NIEN
    mov dx, ATA_CONTROL
    out dx, al
    call identify
    jc finish
    mov eax, [mode]
    jmp eax

; ---------------------------------------------------------------- modes

verify_mode:
    mov byte [io_write], 1
    call write_read_steps
    mov eax, CMD_FLUSH_CACHE
    mov esi, s_flush
    call nodata_step
    mov byte [io_write], 0
    call write_read_steps
    jmp finish

; The three ranges with the write commands (io_write = 1) or the matching reads (0).
write_read_steps:
    mov eax, CMD_SET_MULTIPLE_MODE
    mov bl, MULTIPLE
    mov esi, s_set_multiple
    call nodata_step_count
    mov dword [io_lba], LBA28_FIRST
    mov dword [io_count], LBA28_COUNT
    mov dword [io_block], 1
    mov byte [io_ext], 0
    mov eax, CMD_WRITE_SECTORS
    mov ebx, CMD_READ_SECTORS
    mov esi, s_sectors
    call io_step
    mov dword [io_lba], MULT_FIRST
    mov dword [io_count], MULT_COUNT
    mov dword [io_block], MULTIPLE
    mov eax, CMD_WRITE_MULTIPLE
    mov ebx, CMD_READ_MULTIPLE
    mov esi, s_multiple
    call io_step
    mov eax, [sectors48]
    sub eax, EXT_COUNT
    mov [io_lba], eax
    mov dword [io_count], EXT_COUNT
    mov dword [io_block], 1
    mov byte [io_ext], 1
    mov eax, CMD_WRITE_SECTORS_EXT
    mov ebx, CMD_READ_SECTORS_EXT
    mov esi, s_sectors_ext
    jmp io_step

unflushed_mode:
    mov byte [io_write], 1
    call write_read_steps
    mov esi, s_written
    call puts
.halt:
    cli
    hlt
    jmp .halt

loop_mode:
    mov byte [io_write], 1
    mov byte [io_ext], 0
    mov dword [io_count], 1
    mov dword [io_block], 1
    xor edi, edi                        ; sectors written
.next:
    imul eax, edi, LOOP_STRIDE
    add eax, LOOP_BASE
    cmp eax, [sectors28]
    jae .full
    mov [io_lba], eax
    mov al, CMD_WRITE_SECTORS
    call ata_pio
    jc .error
    inc edi
    test edi, LOOP_FLUSH - 1
    jnz .next
    mov al, CMD_FLUSH_CACHE
    xor bl, bl
    call ata_nodata
    jc .error
    mov esi, s_flushed
    call puts
    mov eax, edi
    call puthex32
    call newline
    jmp .next
.full:
    mov esi, s_full
    call puts
    mov al, FAIL
    jmp exit
.error:
    mov esi, s_loop_error
    call puts
    call put_registers
    mov al, FAIL
    jmp exit

probe_mode:
    mov byte [io_write], 0
    mov dword [io_count], 1
    mov dword [io_block], 1
    mov byte [io_ext], 0
    mov eax, [sectors28]
    mov [io_lba], eax
    mov al, CMD_READ_SECTORS
    mov esi, s_read_past_end
    call refused_step
    mov byte [io_ext], 1
    mov eax, [sectors48]
    mov [io_lba], eax
    mov al, CMD_READ_SECTORS_EXT
    mov esi, s_read_ext_past_end
    call refused_step
    mov byte [io_write], 1
    mov byte [io_ext], 0
    mov dword [io_lba], LBA28_FIRST
    mov al, CMD_WRITE_SECTORS
    mov esi, s_write_sectors
    call refused_step
    mov dword [io_lba], MULT_FIRST
    mov dword [io_count], MULTIPLE
    mov dword [io_block], MULTIPLE
    mov al, CMD_WRITE_MULTIPLE
    mov esi, s_write_multiple
    call refused_step
    mov byte [io_ext], 1
    mov dword [io_count], 1
    mov dword [io_block], 1
    mov eax, [sectors48]
    dec eax
    mov [io_lba], eax
    mov al, CMD_WRITE_SECTORS_EXT
    mov esi, s_write_sectors_ext
    call refused_step
    jmp finish

finish:
    mov esi, s_pass
    mov al, PASS
    cmp byte [failed], 0
    je .out
    mov esi, s_fail
    mov al, FAIL
.out:
    call puts
    jmp exit

; ---------------------------------------------------------------- steps

; io_step: runs the write command EAX or the read command EBX (by io_write)
; over io_*; ESI names it ("write " or "read " is prefixed).
io_step:
    cmp byte [io_write], 0
    jne .named
    mov eax, ebx
.named:
    push esi
    mov esi, s_write
    cmp byte [io_write], 0
    jne .prefix
    mov esi, s_read
.prefix:
    call puts
    pop esi
    call puts
    call put_range
    call ata_pio
    jmp report

; refused_step: command AL over io_*, named ESI, must end in ERR with ABRT or IDNF.
refused_step:
    call puts
    call put_range
    call ata_pio
    jc .refused
    mov esi, s_not_refused
    call puts
    mov byte [failed], 1
    ret
.refused:
    call put_registers
    test byte [last_error], ERR_ABRT | ERR_IDNF
    jnz .done
    mov byte [failed], 1
.done:
    ret


; nodata_step: command EAX with a zero sector count, named ESI.
nodata_step:
    xor bl, bl
; nodata_step_count: command EAX with sector count BL, named ESI.
nodata_step_count:
    call puts
    call put_colon
    call ata_nodata
    jmp report

; report: after a command (CF = the device reported an error), prints "ok"
; or the registers, and counts pattern mismatches of a read.
report:
    jc .error
    cmp dword [mismatches], 0
    jne .mismatch
    mov esi, s_ok
    jmp puts
.mismatch:
    mov eax, [mismatches]
    call puthex32
    mov esi, s_differ
    call puts
    mov byte [failed], 1
    ret
.error:
    call put_registers
    mov byte [failed], 1
    ret

; ---------------------------------------------------------------- ATA

; identify: IDENTIFY DEVICE; prints the model (words 27-46) and the sector
; counts (words 60-61 for LBA28, 100-103 for LBA48). CF on failure.
identify:
    mov esi, s_identify
    call puts
    mov dx, ATA_DEVICE
    mov al, DEV_LBA
    out dx, al
    mov dx, ATA_STATUS
    mov al, CMD_IDENTIFY
    out dx, al
    call ata_wait
    jc .error
    test al, ST_DRQ
    jz .error
    mov edi, id_data
    mov ecx, 256
    mov dx, ATA_DATA
    rep insw
    mov esi, s_ok
    call puts
    ; The model is ASCII with the two bytes of each word swapped; trailing spaces are padding.
    mov esi, id_data + 27 * 2
    mov edi, model
    mov ecx, 20
.swap:
    lodsw
    xchg al, ah
    stosw
    loop .swap
.trim:
    dec edi
    cmp edi, model
    jb .trimmed
    cmp byte [edi], ' '
    je .trim
.trimmed:
    mov byte [edi + 1], 0
    mov esi, s_model
    call puts
    mov esi, model
    call puts
    call newline
    mov eax, [id_data + 60 * 2]
    mov [sectors28], eax
    mov esi, s_sectors28
    call puts
    call puthex32
    call newline
    mov eax, [id_data + 100 * 2]
    mov [sectors48], eax
    mov esi, s_sectors48
    call puts
    mov eax, [id_data + 100 * 2 + 4]
    call puthex32
    mov eax, [sectors48]
    call puthex32
    call newline
    clc
    ret
.error:
    call put_registers
    mov byte [failed], 1
    stc
    ret

; ata_nodata: non-data command AL with sector count BL. CF if the device reported an error.
ata_nodata:
    mov dword [mismatches], 0
    push eax
    mov dx, ATA_DEVICE
    mov al, DEV_LBA
    out dx, al
    mov dx, ATA_COUNT
    mov al, bl
    out dx, al
    pop eax
    mov dx, ATA_STATUS
    out dx, al
    jmp ata_wait

; ata_pio: PIO command AL over io_count sectors from io_lba, io_block
; sectors per DRQ block; writes send each sector's pattern, reads compare
; with it (mismatches counted). CF if the device reported an error or
; asked for no data when it should have.
ata_pio:
    pushad
    mov dword [mismatches], 0
    call ata_taskfile
    mov dx, ATA_STATUS
    out dx, al
    mov ebx, [io_lba]                   ; next sector
    mov ecx, [io_count]                 ; sectors left
.block:
    call ata_wait
    jc .fail
    test al, ST_DRQ
    jz .fail
    mov ebp, [io_block]                 ; sectors in this block
    cmp ebp, ecx
    jbe .sized
    mov ebp, ecx
.sized:
    push ecx
    mov dx, ATA_DATA
    cmp byte [io_write], 0
    je .read
    mov edi, buffer
    mov eax, ebx
    mov ecx, ebp
.fill:
    call fill_pattern
    inc eax
    loop .fill
    mov esi, buffer
    mov ecx, ebp
    shl ecx, 8
    rep outsw
    jmp .moved
.read:
    mov edi, buffer
    mov ecx, ebp
    shl ecx, 8
    rep insw
    mov esi, buffer
    mov eax, ebx
    mov ecx, ebp
.compare:
    call check_pattern
    je .same
    inc dword [mismatches]
.same:
    inc eax
    loop .compare
.moved:
    pop ecx
    add ebx, ebp
    sub ecx, ebp
    jnz .block
    cmp byte [io_write], 0
    je .done
    call ata_wait                       ; the last block of a write is stored when BSY clears
    jc .fail
.done:
    popad
    clc
    ret
.fail:
    popad
    stc
    ret

; ata_taskfile: device, sector count and LBA registers for io_*: LBA28, or
; LBA48 when io_ext (each register written twice, "previous content" first).
ata_taskfile:
    push eax
    mov ebx, [io_lba]
    mov ecx, [io_count]
    mov dx, ATA_DEVICE
    mov eax, ebx
    shr eax, 24
    and al, 0x0f
    or al, DEV_LBA
    cmp byte [io_ext], 0
    je .device
    mov al, DEV_LBA                     ; LBA48: bits 3:0 are reserved
.device:
    out dx, al
    cmp byte [io_ext], 0
    je .current
    mov dx, ATA_COUNT
    mov al, ch                          ; count 15:8
    out dx, al
    mov dx, ATA_LBA_LOW
    mov eax, ebx
    shr eax, 24                         ; LBA 31:24
    out dx, al
    inc dx
    xor al, al                          ; LBA 39:32 and 47:40
    out dx, al
    inc dx
    out dx, al
.current:
    mov dx, ATA_COUNT
    mov al, cl
    out dx, al
    mov dx, ATA_LBA_LOW
    mov al, bl                          ; LBA 7:0
    out dx, al
    inc dx
    mov al, bh                          ; LBA 15:8
    out dx, al
    inc dx
    mov eax, ebx
    shr eax, 16                         ; LBA 23:16
    out dx, al
    pop eax
    ret

; ata_wait: waits until BSY clears; AL = Status. CF if ERR, with Status and
; Error kept in last_status and last_error.
ata_wait:
    push edx
    mov dx, ATA_CONTROL                 ; Alternate Status, four times: the 400 ns before Status is valid
    in al, dx
    in al, dx
    in al, dx
    in al, dx
    mov dx, ATA_STATUS
.poll:
    in al, dx
    test al, ST_BSY
    jnz .poll
    mov [last_status], al
    test al, ST_ERR
    jz .ok
    mov dx, ATA_ERROR
    in al, dx
    mov [last_error], al
    mov al, [last_status]
    pop edx
    stc
    ret
.ok:
    mov byte [last_error], 0
    pop edx
    clc
    ret

; ---------------------------------------------------------------- pattern

; fill_pattern: sector EAX's pattern at EDI (EDI advances by 512).
fill_pattern:
    push eax
    push ecx
    shl eax, 7
    mov ecx, 128
.dword:
    push eax
    xor eax, PATTERN_SALT
    stosd
    pop eax
    inc eax
    loop .dword
    pop ecx
    pop eax
    ret

; check_pattern: compares the 512 bytes at ESI with sector EAX's pattern
; (ESI advances by 512). ZF set when they match.
check_pattern:
    push eax
    push ecx
    push edx
    shl eax, 7
    mov ecx, 128
.dword:
    mov edx, eax
    xor edx, PATTERN_SALT
    cmp [esi], edx
    jne .differs
    add esi, 4
    inc eax
    loop .dword
    cmp eax, eax                        ; ZF: all 128 matched
    jmp .done
.differs:
    lea esi, [esi + ecx * 4]            ; skip the rest of the sector
.done:
    pop edx
    pop ecx
    pop eax
    ret

; ---------------------------------------------------------------- text

; parse_mode: the word after the kernel path in the multiboot command line
; (multiboot info at ESI) selects the mode; none selects verify.
parse_mode:
    mov dword [mode], verify_mode
    test dword [esi], MBI_FLAGS_CMDLINE
    jz .done
    mov esi, [esi + 16]
.path:
    lodsb
    test al, al
    jz .done
    cmp al, ' '
    jne .path
.spaces:
    cmp byte [esi], ' '
    jne .word
    inc esi
    jmp .spaces
.word:
    cmp byte [esi], 0
    je .done
    mov edi, w_loop
    call word_is
    mov dword [mode], loop_mode
    je .done
    mov edi, w_probe
    call word_is
    mov dword [mode], probe_mode
    je .done
    mov edi, w_unflushed
    call word_is
    mov dword [mode], unflushed_mode
    je .done
    mov dword [mode], unknown_mode
.done:
    ret

unknown_mode:
    mov esi, s_unknown_mode
    call puts
    mov al, FAIL
    jmp exit

; word_is: ZF set when the word at ESI (ended by a space or NUL) is the string at EDI.
word_is:
    push esi
    push edi
.char:
    mov al, [esi]
    cmp al, ' '
    jne .compare
    xor al, al
.compare:
    cmp al, [edi]
    jne .done
    test al, al
    jz .done
    inc esi
    inc edi
    jmp .char
.done:
    pop edi
    pop esi
    ret

; put_range: " lba L count C: ".
put_range:
    push esi
    push eax
    mov esi, s_lba
    call puts
    mov eax, [io_lba]
    call puthex32
    mov esi, s_count
    call puts
    mov eax, [io_count]
    call puthex8
    call put_colon
    pop eax
    pop esi
    ret

put_colon:
    push esi
    mov esi, s_colon
    call puts
    pop esi
    ret

; put_registers: "status S error E" from the last ata_wait, and a newline.
put_registers:
    mov esi, s_status
    call puts
    mov al, [last_status]
    call puthex8
    mov esi, s_error
    call puts
    mov al, [last_error]
    call puthex8
newline:
    push eax
    mov al, 10
    call putc
    pop eax
    ret

w_loop:          db "loop", 0
w_probe:         db "probe", 0
w_unflushed:     db "unflushed", 0
s_identify:      db "identify: ", 0
s_model:         db "model: ", 0
s_sectors28:     db "lba28 sectors: ", 0
s_sectors48:     db "lba48 sectors: ", 0
s_set_multiple:  db "set multiple mode 04", 0
s_flush:         db "flush cache", 0
s_write:         db "write ", 0
s_read:          db "read ", 0
s_sectors:       db "sectors", 0
s_multiple:      db "multiple", 0
s_sectors_ext:   db "sectors ext", 0
s_read_past_end: db "read sectors past end", 0
s_read_ext_past_end: db "read sectors ext past end", 0
s_write_sectors: db "write sectors", 0
s_write_multiple: db "write multiple", 0
s_write_sectors_ext: db "write sectors ext", 0
s_not_refused:   db "not refused", 10, 0
s_lba:           db " lba ", 0
s_count:         db " count ", 0
s_colon:         db ": ", 0
s_ok:            db "ok", 10, 0
s_differ:        db " sectors differ", 10, 0
s_status:        db "status ", 0
s_error:         db " error ", 0
s_flushed:       db "flushed ", 0
s_full:          db "disk full", 10, 0
s_loop_error:    db "loop: ", 0
s_unknown_mode:  db "unknown mode (verify, unflushed, loop or probe)", 10, 0
s_written:       db "written", 10, 0
s_pass:          db "PASS", 10, 0
s_fail:          db "FAIL", 10, 0

align 4
mode:        dd 0
io_lba:      dd 0
io_count:    dd 0
io_block:    dd 0
io_ext:      db 0
io_write:    db 0
failed:      db 0
last_status: db 0
last_error:  db 0
align 4
mismatches:  dd 0
sectors28:   dd 0
sectors48:   dd 0
model:       times 41 db 0
align 2
id_data:     times 512 db 0
align 4
buffer:      times MULTIPLE * 512 db 0

GUEST_END
