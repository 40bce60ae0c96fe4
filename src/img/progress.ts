/** qemu-img's -p progress line, "    (42.00/100%)", redrawn in place; only on a terminal. */

export class Progress {
  private shown = -1;

  constructor(private readonly enabled: boolean) {
    this.enabled = enabled && process.stdout.isTTY === true;
  }

  update(done: number, total: number): void {
    if (!this.enabled) return;
    const percent = total === 0 ? 100 : Math.floor((done * 10000) / total) / 100;
    // Whole steps only; finish() prints the final 100%.
    if (percent - this.shown < 1 || percent >= 100) return;
    this.shown = percent;
    process.stdout.write(`    (${percent.toFixed(2)}/100%)\r`);
  }

  finish(): void {
    if (!this.enabled) return;
    process.stdout.write('    (100.00/100%)\n');
  }
}
