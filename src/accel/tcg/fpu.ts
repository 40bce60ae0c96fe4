/**
 * The x87 FPU for TCG (work in progress: this first version only keeps the
 * control/status/tag words so the CPU can import the unit).
 */
import { X87_DONE, X87_UD, type FpuHost, type X87Unit } from './fpu-types.js';

export class X87 implements X87Unit {
  private fcw = 0x40;
  private fsw = 0;
  private ftw = 0xffff;

  constructor(private readonly host: FpuHost) {}

  reset(): void {
    this.fcw = 0x40;
    this.fsw = 0;
    this.ftw = 0xffff;
  }

  execute(opcode: number, modrm: number, _linear: number, _opsize32: boolean, _protectedMode: boolean): number {
    if (opcode === 0xdb && modrm === 0xe3) {
      this.fcw = 0x37f;
      this.fsw = 0;
      this.ftw = 0xffff;
      return X87_DONE;
    }
    if (opcode === 0xdf && modrm === 0xe0) return this.fsw;
    return X87_UD;
  }

  wait(): void {
    if (this.fsw & 0x80) this.host.raiseMathFault();
  }

  setLastInstruction(_cs: number, _eip: number, _opcode11: number, _dataSelector: number, _dataOffset: number): void {}
  fxsave(_linear: number): void {}
  fxrstor(_linear: number): void {}
  get controlWord(): number { return this.fcw; }
  get statusWord(): number { return this.fsw; }
  get tagWord(): number { return this.ftw; }
  st(_i: number): number { return NaN; }
}
