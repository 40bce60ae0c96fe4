; The block-transition benchmark: 10,000,000 passes of a loop that calls a
; function on another page, which calls one on a third page; each returns.
; tsvm's translator and QEMU's leave their block at each of those CALLs and
; RETs (neither callee is a short straight-line leaf, which tsvm would take
; into its caller's block), so the run measures the way from one block to
; the next. Then bench_done (common.inc).
%include "common.inc"

PASSES equ 10000000

start:
    mov ecx, PASSES
    xor eax, eax
    mov ebx, 7
.loop:
    call outer
    add eax, ebx
    dec ecx
    jnz .loop
    jmp bench_done

align 4096
outer:
    push ebx
    mov ebx, eax
    call inner
    xor eax, ebx
    pop ebx
    ret

align 4096
; Two ways out, so that it is not a straight-line leaf a translator may take into its caller.
inner:
    test eax, 1
    jz .even
    lea eax, [eax + ebx * 2 + 1]
    ret
.even:
    lea eax, [eax + ebx + 3]
    ret
GUEST_END
