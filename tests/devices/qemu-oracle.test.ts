/**
 * qemu-system-i386 as the oracle for the PC chips: the same port (and HPET
 * MMIO) accesses go to tsvm's chips and, through QEMU's qtest protocol
 * (-qtest stdio, CPU held by -S so no firmware touches anything), to QEMU's
 * `pc` machine; every value read must agree. The few reads where tsvm follows the datasheet rather than
 * a QEMU quirk are marked with the reason and left out of the comparison.
 *
 * Debian's QEMU has no qtest accelerator (no clock_step), so guest time
 * stands still on both sides: these are the time-independent behaviours.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { pcChips } from './pc-chips.js';
import { requireTool } from '../helpers/tools.js';

requireTool('qemu-system-i386', 'qemu-system-x86');
const RTC_BASE = '2024-02-29T13:45:30';
const RAM = 128 * 1024 * 1024;

type Size = 1 | 2 | 4;
type Op =
  | { out: [number, Size, number] }
  | { in: [number, Size]; differs?: string }
  | { writel: [number, number] }
  | { readl: number; differs?: string };
type Read = Extract<Op, { in: unknown } | { readl: unknown }>;

const o = (port: number, value: number, size: Size = 1): Op => ({ out: [port, size, value] });
const i = (port: number, size: Size = 1, differs?: string): Op => ({ in: [port, size], differs });
/** 32-bit MMIO: a write and a read at a physical address. */
const wl = (addr: number, value: number): Op => ({ writel: [addr, value] });
const rl = (addr: number, differs?: string): Op => ({ readl: addr, differs });

const isRead = (op: Op): op is Read => 'in' in op || 'readl' in op;
const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

const SUFFIX = { 1: 'b', 2: 'w', 4: 'l' } as const;

/** Runs the ops on QEMU's pc machine and returns what each `in` read. */
async function onQemu(ops: Op[]): Promise<number[]> {
  const args = ['-M', 'pc', '-m', '128', '-display', 'none', '-nodefaults', '-S', '-serial', 'null'];
  args.push('-rtc', `base=${RTC_BASE},clock=vm`, '-qtest', 'stdio', '-qtest-log', '/dev/null');
  const qemu = spawn('qemu-system-i386', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const replies: string[] = [];
  const finished = new Promise<void>((resolve, reject) => {
    createInterface({ input: qemu.stdout }).on('line', (line) => {
      if (!/^(OK|ERR|FAIL)/.test(line)) return;
      replies.push(line);
      if (replies.length === ops.length) resolve();
    });
    qemu.on('exit', () => reject(new Error(`qemu exited after ${replies.length} of ${ops.length} replies`)));
  });
  const command = (op: Op) => {
    if ('out' in op) return `out${SUFFIX[op.out[1]]} ${hex(op.out[0])} ${hex(op.out[2])}`;
    if ('in' in op) return `in${SUFFIX[op.in[1]]} ${hex(op.in[0])}`;
    if ('writel' in op) return `writel ${hex(op.writel[0])} ${hex(op.writel[1])}`;
    return `readl ${hex(op.readl)}`;
  };
  qemu.stdin.write(ops.map(command).join('\n') + '\n');
  try {
    await finished;
  } finally {
    qemu.kill();
  }
  return ops.flatMap((op, k) => (isRead(op) ? [Number(replies[k]!.split(' ')[1])] : []));
}

/** The same ops on tsvm's chips, wired as on the pc machine. */
function onTsvm(ops: Op[]): number[] {
  const { io, mem } = pcChips({ ramBytes: RAM, rtcBase: Date.parse(`${RTC_BASE}Z`), serials: [undefined] });
  return ops.flatMap((op) => {
    if ('in' in op) return [io.read(op.in[0], op.in[1])];
    if ('readl' in op) return [mem.read32(op.readl)];
    if ('out' in op) io.write(op.out[0], op.out[1], op.out[2]);
    else mem.write32(op.writel[0], op.writel[1]);
    return [];
  });
}

async function compare(ops: Op[]): Promise<void> {
  const [qemu, tsvm] = [await onQemu(ops), onTsvm(ops)];
  const reads = ops.filter(isRead);
  const describeRead = (k: number) => {
    const op = reads[k]!;
    return `read #${k} (${'in' in op ? `in ${hex(op.in[0])}` : `readl ${hex(op.readl)}`})`;
  };
  const mismatches = reads.flatMap((op, k) => (!op.differs && qemu[k] !== tsvm[k] ? [`${describeRead(k)}: qemu ${hex(qemu[k]!)}, tsvm ${hex(tsvm[k]!)}`] : []));
  expect(mismatches).toEqual([]);
}

/** Config mechanism #1 dword reads of a function's whole configuration space. */
function configDump(devfn: number, differs: Record<number, string> = {}): Op[] {
  return Array.from({ length: 64 }, (_, k) => [
    o(0xcf8, (0x8000_0000 | (devfn << 8) | (k * 4)) >>> 0, 4),
    i(0xcfc, 4, differs[k * 4]),
  ]).flat();
}

const PM_DIFFERENCES = {
  0x40: 'PM base 0x600 enabled at power-on for direct kernel boot (QEMU waits for firmware)',
  0x58: 'DEVACTB APMC_EN set: tsvm has no SMM (QEMU with smm=off does the same)',
  0x64: 'serial port decode bits, which QEMU fills from the COM ports it has; nothing reads them',
  0x80: 'PMIOSE on at power-on',
  0x90: 'SMBus not implemented, so not configured',
  0xd0: 'SMBus not implemented, so not enabled',
};

describe('qemu-system-i386 oracle (qtest, time standing still)', () => {
  it('PCI configuration spaces of 00.0, 01.0, 01.1 and 01.3', async () => {
    await compare([...configDump(0x00), ...configDump(0x08), ...configDump(0x09), ...configDump(0x0b, PM_DIFFERENCES)]);
  });

  it('PCI write masks: all-ones then zero written to every register', async () => {
    const ops: Op[] = [];
    for (const devfn of [0x00, 0x08, 0x09]) {
      for (let reg = 0; reg < 256; reg += 4) {
        const address = o(0xcf8, (0x8000_0000 | (devfn << 8) | reg) >>> 0, 4);
        const differs =
          devfn === 0 && reg === 0x58 ? 'PAM0 bits 3:0 are reserved' : devfn === 0 && reg === 0x70 ? 'SMRAM: C_BASE_SEG fixed, D_LCK locks' : undefined;
        ops.push(address, o(0xcfc, 0xffff_ffff, 4), address, i(0xcfc, 4, differs), address, o(0xcfc, 0, 4), address, i(0xcfc, 4, differs));
      }
    }
    await compare(ops);
  });

  it('the simple ports at power-on', async () => {
    await compare([i(0x43), i(0x70), i(0x80), i(0x80, 2), i(0x80, 4), i(0xcf9), i(0x92), i(0xcf8, 4), i(0x64), i(0x60), i(0x4d0), i(0x4d1), i(0xb2)]);
  });

  it('PIC programming, IMR, ISR/IRR, poll and ELCR', async () => {
    await compare([
      o(0x20, 0x11), o(0x21, 0x08), o(0x21, 0x04), o(0x21, 0x01),
      o(0xa0, 0x11), o(0xa1, 0x70), o(0xa1, 0x02), o(0xa1, 0x01),
      o(0x21, 0xfa), i(0x21), o(0xa1, 0x5a), i(0xa1),
      o(0x43, 0x34), o(0x40, 0x00), o(0x40, 0x01),
      o(0x20, 0x0a), i(0x20), o(0x20, 0x0b), i(0x20), o(0x20, 0x0c), i(0x20), i(0x20),
      i(0x4d0), o(0x4d0, 0xff), i(0x4d0), o(0x4d1, 0xff), i(0x4d1),
    ]);
  });

  it('PIT counts, latches, read-back and port 0x61 at load time', async () => {
    await compare([
      o(0x43, 0x34), o(0x40, 0xa9), o(0x40, 0x04), o(0x43, 0x00), i(0x40), i(0x40),
      o(0x43, 0xc2), i(0x40, 1, 'mode 2 OUT is high between pulses (datasheet); QEMU models the pulse inverted'), i(0x40), i(0x40),
      o(0x61, 0x01), o(0x43, 0xb0), o(0x42, 0xff), o(0x42, 0xff),
      i(0x61, 1, 'the refresh bit toggles with time here, with each read in QEMU'),
      o(0x43, 0x80), i(0x42), i(0x42),
      o(0x43, 0xb6), o(0x42, 0x00), o(0x42, 0x10), o(0x43, 0xe8), i(0x42), i(0x42), i(0x42),
      o(0x43, 0x91), o(0x42, 0x99), i(0x42),
      o(0x43, 0x70), o(0x43, 0xe4), i(0x41, 1, 'NULL COUNT until the count is written (datasheet); QEMU has no such bit'),
    ]);
  });

  it('RTC time registers, formats and control registers', async () => {
    const read = (reg: number) => [o(0x70, reg), i(0x71)];
    await compare([
      ...[0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32, 0x0a, 0x0b, 0x0c, 0x0d].flatMap(read),
      o(0x70, 0x0b), o(0x71, 0x06), ...[0x00, 0x02, 0x04, 0x09].flatMap(read),
      o(0x70, 0x0b), o(0x71, 0x04), ...read(0x04),
      o(0x70, 0x0b), o(0x71, 0x02), o(0x70, 0x00), o(0x71, 0x45), ...read(0x00), ...read(0x02),
      o(0x70, 0x0b), o(0x71, 0x82), o(0x70, 0x00), o(0x71, 0x59), o(0x70, 0x02), o(0x71, 0x10),
      o(0x70, 0x0b), o(0x71, 0x02), ...[0x00, 0x02, 0x04].flatMap(read),
      o(0x70, 0x40), o(0x71, 0x5a), i(0x71), i(0x70),
    ]);
  });

  it('UART registers, scratch, divisor, FIFO detection and loopback data', async () => {
    await compare([
      i(0x3f9), i(0x3fa), i(0x3fb), i(0x3fc, 1, 'MCR resets to 0 (datasheet); QEMU presets OUT2'), i(0x3fd), i(0x3fe),
      o(0x3f9, 0x0f), i(0x3f9), o(0x3f9, 0x00),
      o(0x3fc, 0x1a), i(0x3fe, 1, 'loopback still latches modem deltas (datasheet); QEMU shows none'),
      o(0x3fc, 0x00),
      o(0x3fa, 0x01), i(0x3fa), o(0x3fa, 0xc7), i(0x3fa),
      o(0x3fb, 0x83), i(0x3f8), i(0x3f9), o(0x3f8, 0x01), o(0x3f9, 0x00), i(0x3f8), o(0x3fb, 0x03), i(0x3fb),
      o(0x3f9, 0x02), i(0x3fa), i(0x3fa),
      o(0x3fc, 0x10), o(0x3f8, 0x41), i(0x3fd), i(0x3f8), i(0x3fd), o(0x3f9, 0x05),
      ...Array.from({ length: 17 }, (_, k) => o(0x3f8, k)), i(0x3fa), i(0x3fd), i(0x3fd), i(0x3fa), i(0x3f8),
      o(0x3ff, 0x77), i(0x3ff),
    ]);
  });

  it('i8042 controller commands, keyboard and mouse replies', async () => {
    const status = (why: string) => i(0x64, 1, why);
    const cmdBit = 'status bit 3 reports the last port written (datasheet); QEMU leaves it set';
    await compare([
      i(0x64), o(0x64, 0x20), i(0x64), i(0x60), o(0x64, 0xaa), i(0x64), i(0x60), i(0x64),
      o(0x64, 0xab), i(0x60), o(0x64, 0xa9), i(0x60), o(0x64, 0xd0), i(0x60), o(0x64, 0xc0), i(0x60),
      o(0x64, 0x60), o(0x60, 0x65), o(0x64, 0x20), i(0x60),
      o(0x60, 0xf2), status(cmdBit), i(0x60), i(0x60), i(0x60),
      o(0x60, 0xff), i(0x60), i(0x60),
      o(0x60, 0xed), i(0x60), o(0x60, 0x07), i(0x60), o(0x60, 0xf0), i(0x60), o(0x60, 0x00), i(0x60), i(0x60),
      o(0x60, 0xee), i(0x60), o(0x60, 0x42), i(0x60),
      o(0x64, 0xa8), o(0x64, 0xd4), o(0x60, 0xff), i(0x60), i(0x60), i(0x60),
      o(0x64, 0xd4), o(0x60, 0xf2), status(cmdBit), i(0x60), i(0x60),
      o(0x64, 0xd4), o(0x60, 0xe9), i(0x60), i(0x60), i(0x60), i(0x60),
      o(0x64, 0xd3), o(0x60, 0x5a), status(cmdBit), i(0x60),
      o(0x64, 0xa7), o(0x64, 0x20), i(0x60), o(0x64, 0xad), o(0x64, 0x20), i(0x60), i(0x92),
    ]);
  });

  it('ACPI PM block once firmware has mapped it, and the APM ports', async () => {
    await compare([
      o(0xcf8, 0x8000_0b40, 4), o(0xcfc, 0x601, 4), o(0xcf8, 0x8000_0b80, 4), o(0xcfc, 0x01, 1),
      i(0x600, 2, 'TMR_STS: QEMU sets it at time 0, before bit 23 ever changed'), i(0x602, 2),
      i(0x604, 2, 'SCI_EN starts set: tsvm\'s FADT has no SMI_CMD'),
      i(0x608, 4), o(0x602, 0x0101, 2), i(0x602, 2),
      o(0xb2, 0xf0), i(0x604, 2), o(0xb2, 0xf1), i(0x604, 2), i(0xb2), o(0xb3, 0x33), i(0xb3),
      i(0x606, 2), i(0x60c, 4), i(0x610, 4),
    ]);
  });

  it('HPET registers: capabilities, reset values, write masks, 32-bit mode, the counter while halted', async () => {
    const HPET = 0xfed0_0000;
    const ROUTE = 'Tn_INT_ROUTE_CNF keeps a route outside Tn_INT_ROUTE_CAP out (spec 2.3.8); QEMU takes any';
    const FSB = 'no FSB delivery (Tn_FSB_INT_DEL_CAP 0): tsvm keeps Tn_FSB_EN_CNF and the FSB route register at 0; QEMU stores them';
    const timerRegs = (n: number) => [0, 4, 8, 0xc].map((r) => rl(HPET + 0x100 + 0x20 * n + r));
    await compare([
      rl(HPET), rl(HPET + 4), rl(HPET + 0x10), rl(HPET + 0x20), rl(HPET + 0xf0), rl(HPET + 0xf4),
      ...timerRegs(0), ...timerRegs(1), ...timerRegs(2), ...timerRegs(3), rl(HPET + 0x3fc),
      wl(HPET + 0x10, 0xffff_ffff), rl(HPET + 0x10), wl(HPET + 0x10, 0),
      wl(HPET + 0x100, 0xffff_ffff), rl(HPET + 0x100, `${ROUTE}; ${FSB}`), rl(HPET + 0x108), rl(HPET + 0x10c),
      wl(HPET + 0x100, 0x0400), rl(HPET + 0x100), // route IRQ 2, the one offered
      wl(HPET + 0x108, 0x1234_5678), wl(HPET + 0x10c, 9), rl(HPET + 0x108), rl(HPET + 0x10c), // 64-bit one-shot
      wl(HPET + 0x120, 0x0a00), rl(HPET + 0x120, ROUTE),
      wl(HPET + 0x140, 0x0142), rl(HPET + 0x140), wl(HPET + 0x148, 0xabcd), wl(HPET + 0x14c, 0x1), rl(HPET + 0x148),
      rl(HPET + 0x14c, 'in 32-bit mode tsvm keeps the upper half of the comparator 0 (spec 2.3.8 Tn_32MODE_CNF); QEMU stores the write'),
      wl(HPET + 0x150, 0xabc), rl(HPET + 0x150, FSB),
      wl(HPET + 0xf0, 0x77), wl(HPET + 0xf4, 1), rl(HPET + 0xf0), rl(HPET + 0xf4),
      wl(HPET + 0x20, 0xffff_ffff), rl(HPET + 0x20), wl(HPET + 0, 0), rl(HPET),
    ]);
  });
});
