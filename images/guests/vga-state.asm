; Prints the VGA state the -kernel boot path hands a kernel, one labelled
; line of hex bytes each: the attribute index register (bit 5: the screen
; is on), misc output, sequencer, CRTC,
; graphics controller, attribute controller and DAC registers, the BIOS
; data area from its video fields on, and plane 2's first 8 KiB (font block 0). It
; reads registers only through their index/data ports, then maps plane 2 at
; A0000h to read the font. Ends with "vga-state done" and status 0x10 (QEMU: 33).
%include "common.inc"

SEQ     equ 0x3c4
CRTC    equ 0x3d4
GC      equ 0x3ce
ATTR    equ 0x3c0
IS1     equ 0x3da
DAC_RD  equ 0x3c7
DAC_DAT equ 0x3c9

start:
    mov esi, l_attrx
    call puts
    mov dx, IS1
    in al, dx                   ; 3C0h reads the index in the flip-flop's index state
    mov dx, ATTR
    in al, dx
    call puthex8
    call newline

    mov esi, l_misc
    call puts
    mov dx, 0x3cc
    in al, dx
    call puthex8
    call newline

    mov esi, l_seq
    mov dx, SEQ
    mov ecx, 5
    call indexed

    mov esi, l_crtc
    mov dx, CRTC
    mov ecx, 0x19
    call indexed

    mov esi, l_gc
    mov dx, GC
    mov ecx, 9
    call indexed

    call attributes
    call dac

    mov esi, l_bda
    call puts
    mov esi, 0x449              ; 449h (video mode) to 48Ah (display combination)
    mov ecx, 0x48b - 0x449
    call hexbytes
    call newline

    call font
    mov esi, done
    call puts
    mov al, 0x10
    jmp exit

; indexed: label ESI, then ECX registers of the index/data pair at DX.
indexed:
    call puts
    xor ebx, ebx
.next:
    mov al, bl
    out dx, al
    inc dx
    in al, dx
    dec dx
    call puthex8
    inc ebx
    loop .next
    jmp newline

; attributes: registers 0-14h, index bit 5 set so the screen stays on.
attributes:
    mov esi, l_attr
    call puts
    xor ebx, ebx
.next:
    mov dx, IS1
    in al, dx                   ; flip-flop to "index"
    mov dx, ATTR
    mov al, bl
    or al, 0x20
    out dx, al
    inc dx
    in al, dx
    call puthex8
    inc ebx
    cmp ebx, 0x15
    jb .next
    mov dx, IS1
    in al, dx
    jmp newline

; dac: all 256 entries, red, green and blue each.
dac:
    mov esi, l_dac
    call puts
    mov dx, DAC_RD
    xor al, al
    out dx, al
    mov dx, DAC_DAT
    mov ecx, 256 * 3
.next:
    in al, dx
    call puthex8
    loop .next
    jmp newline

; font: plane 2 read at A0000h (read map 2, odd/even off, 64 KiB window), 32 bytes a glyph.
font:
    mov dx, GC
    mov ax, 0x0204              ; read map select: plane 2
    out dx, ax
    mov ax, 0x0005              ; read mode 0, no odd/even
    out dx, ax
    mov ax, 0x0406              ; A0000h, 64 KiB, graphics addressing
    out dx, ax
    mov esi, l_font
    call puts
    mov esi, 0xa0000
    mov ecx, 8192
    call hexbytes
    jmp newline

; hexbytes: ECX bytes from ESI as hex.
hexbytes:
    lodsb
    call puthex8
    loop hexbytes
    ret

newline:
    mov al, 10
    jmp putc

l_attrx: db "attr-index ", 0
l_misc:  db "misc ", 0
l_seq:   db "seq ", 0
l_crtc:  db "crtc ", 0
l_gc:    db "gc ", 0
l_attr:  db "attr ", 0
l_dac:   db "dac ", 0
l_bda:   db "bda ", 0
l_font:  db "font ", 0
done:    db "vga-state done", 10, 0
GUEST_END
