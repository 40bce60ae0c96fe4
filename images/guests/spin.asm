; Prints a line, then spins with interrupts off and never exits: the host
; must still serve its event loop (monitor, Ctrl-A x, SIGTERM).
%include "common.inc"

start:
    mov esi, msg
    call puts
    cli
.spin:
    jmp .spin

msg: db "spinning", 10, 0
GUEST_END
