; A boot sector (not multiboot: boot it with -hda) that puts known text on
; the VGA text screen for the screendump tests: a mode set through the
; BIOS (which loads the BIOS's font), a line by teletype, a line of cells
; written straight to B800h with colours and line-drawing characters, the
; cursor at row 3 column 2, then "vga-text ready" on COM1 and a halt.
bits 16
org 0x7c00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov ax, 0x0003              ; mode 3: 80x25 text, screen cleared
    int 0x10
    mov si, hello
.teletype:
    lodsb
    test al, al
    jz .cells
    mov ah, 0x0e
    mov bx, 0x0007
    int 0x10
    jmp .teletype
.cells:
    mov ax, 0xb800
    mov es, ax
    mov di, 160                 ; row 1, column 0
    mov si, cells
    mov cx, cells_end - cells
    rep movsb
    mov ah, 0x02                ; cursor to row 3, column 2
    xor bh, bh
    mov dx, 0x0302
    int 0x10
    mov si, ready
    mov dx, 0x3f8
.serial:
    lodsb
    test al, al
    jz .halt
    out dx, al
    jmp .serial
.halt:
    hlt
    jmp .halt

hello: db "Hello, VGA!", 0
; (character, attribute) pairs: letters in colours, then C4h (horizontal
; line), B1h (shade), DBh (full block), CDh (double line) and B3h (vertical
; line), each twice so neighbouring cells show the ninth-dot rule.
cells:
    db 'A', 0x1f, 'g', 0x2e, 'W', 0x4a, 'y', 0x70
    db 0xc4, 0x0e, 0xc4, 0x0e, 0xb1, 0x3c, 0xb1, 0x3c
    db 0xdb, 0x0c, 0xdb, 0x0c, 0xcd, 0x5b, 0xcd, 0x5b, 0xb3, 0x6d, 0xb3, 0x6d
cells_end:
ready: db "vga-text ready", 10, 0

    times 510 - ($ - $$) db 0
    dw 0xaa55
    times 65536 - ($ - $$) db 0
