; Prints a line, then halts with interrupts off forever: an idle guest,
; which should cost the host next to no CPU.
%include "common.inc"

start:
    mov esi, msg
    call puts
.idle:
    cli
    hlt
    jmp .idle

msg: db "idling", 10, 0
GUEST_END
