/**
 * The port through which the ROM's stubs (rom.ts) call the TypeScript BIOS
 * services: tsvm-private ports 0x0EF0-0x0EF3, unused on QEMU's pc machine
 * (fw_cfg is 0x510-0x51B, SeaBIOS's debug port 0x402, ACPI PM 0x600).
 *
 *   OUT 0x0EF0, AX   the caller's SS
 *   OUT 0x0EF2, AX   the caller's SP: the service for the frame's vector runs now
 *   IN  AL, 0x0EF2   0 = done, 1 = wait (the stub halts until an interrupt, then calls again)
 *
 * The same exit happens under TCG and KVM, and the service sees guest
 * memory in the state the instruction left it in.
 */
import type { PortBus } from '../../io/port-bus.js';
import type { AddressSpace } from '../../memory/address-space.js';
import { log } from '../../log.js';
import { RegisterFrame, linear } from './frame.js';

export const TRAP_PORT_SS = 0x0ef0;
export const TRAP_PORT_SP = 0x0ef2;

/** 'wait': nothing to return yet (no key, a delay running); call again after the next interrupt. */
export type ServiceResult = 'done' | 'wait';
export type Service = (frame: RegisterFrame) => ServiceResult;

export class TrapPort {
  private ss = 0;
  private status = 0;

  constructor(
    io: PortBus,
    private readonly mem: AddressSpace,
    private readonly services: ReadonlyMap<number, Service>,
  ) {
    io.register(
      'tsvm-bios',
      TRAP_PORT_SS,
      4,
      {
        read: (port) => (port === TRAP_PORT_SP ? this.status : 0),
        write: (port, _size, value) => {
          if (port === TRAP_PORT_SS) this.ss = value & 0xffff;
          else if (port === TRAP_PORT_SP) this.call(value & 0xffff);
        },
      },
      1 | 2,
    );
  }

  private call(sp: number): void {
    const frame = new RegisterFrame(this.mem, linear(this.ss, sp));
    const service = this.services.get(frame.vector);
    if (!service) {
      frame.fail(0x86); // "function not supported"
      this.status = 0;
      return;
    }
    try {
      this.status = service(frame) === 'wait' ? 1 : 0;
    } catch (err) {
      // A service bug must not take tsvm down: the caller sees a failed call.
      log.guest_errors({ vector: frame.vector, err: String(err) }, 'BIOS service failed');
      frame.fail(0x01);
      this.status = 0;
    }
  }
}
