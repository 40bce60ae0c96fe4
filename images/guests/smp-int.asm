; smp.asm with the AP taking a software interrupt (INT 0x40, IRET) before it
; reports in. Hardware KVM runs it like smp.asm; on this host's paravirtual
; KVM the AP stops with "KVM internal error. Suberror: 1" (see iret.asm),
; which tsvm must report from the AP's thread as from the boot CPU.
%define AP_SOFTWARE_INTERRUPT
%include "smp.asm"
