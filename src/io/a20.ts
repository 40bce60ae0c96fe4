/**
 * The A20 gate. With it closed, address bit 20 is forced to zero (the 8086
 * wrap-around at 1 MiB). Port 0x92 and the i8042 output port drive it;
 * TCG masks physical addresses with `mask`, KVM has no A20 (always open,
 * like QEMU's KVM).
 */
export class A20Gate {
  private open = true;
  private readonly listeners: ((open: boolean) => void)[] = [];

  get enabled(): boolean {
    return this.open;
  }

  /** Physical address mask: ~(1 << 20) while closed. */
  get mask(): number {
    return this.open ? 0xffff_ffff : 0xffef_ffff;
  }

  set(open: boolean): void {
    if (open === this.open) return;
    this.open = open;
    for (const l of this.listeners) l(open);
  }

  onChange(listener: (open: boolean) => void): void {
    this.listeners.push(listener);
  }
}
