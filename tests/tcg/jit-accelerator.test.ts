/**
 * The accelerator's default path: guest code through the translator, with
 * timers, interrupts and lifecycle requests between blocks.
 */
import { describe, expect, it } from 'vitest';
import { TcgAccelerator } from '../../src/accel/tcg/tcg.js';
import { assemble } from './harness.js';
import { flatState, makeBus } from './accelerator-bus.js';

/**
 * Resolves once the guest loop `acc` runs has been spinning a while: 100 ms,
 * and with the translator until it has translated a block (on a loaded
 * machine 100 ms may not make the loop hot).
 */
async function whileSpinning(acc: TcgAccelerator): Promise<void> {
  await new Promise((r) => setTimeout(r, 100));
  for (let waited = 0; acc.jitStats() !== undefined && acc.jitStats()!.translated === 0 && waited < 60_000; waited += 50) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('TcgAccelerator with the translator (the default)', () => {
  it('translates a hot loop and gets the interpreter\'s result', async () => {
    const { bus } = makeBus(
      assemble(`
        xor eax, eax
        mov ecx, 100000
      top:
        add eax, ecx
        xor eax, 0x5a5a
        dec ecx
        jnz top
        mov ebx, eax
        mov al, 9
        out 0xf4, al
        jmp $`),
    );
    const results: bigint[] = [];
    for (const oneInsnPerTb of [true, false]) {
      const b = oneInsnPerTb ? bus : makeBus(bus.mem.readBytes(0x10000, 64)).bus;
      const acc = new TcgAccelerator(b, { oneInsnPerTb });
      acc.vcpus[0]!.setState(flatState(0x10000));
      expect(await acc.run()).toBe('request');
      expect(b.lifecycle.take()).toMatchObject({ kind: 'exit', status: 9 });
      results.push(acc.vcpus[0]!.getState().gpr[3]!);
      if (!oneInsnPerTb) {
        expect(acc.jitStats()!.translated).toBeGreaterThan(0);
        expect(acc.executed).toBeGreaterThan(400000);
      } else {
        expect(acc.jitStats()).toBeUndefined();
      }
      acc.destroy();
    }
    expect(results[1]).toBe(results[0]);
  });

  it('takes an interrupt that arrives while translated code spins', async () => {
    const { bus, intr } = makeBus(
      assemble(`
        lidt [idtr]
        sti
      spin:
        inc edx
        cmp ecx, 0x77
        jne spin
        mov al, 3
        out 0xf4, al
      handler:
        mov ecx, 0x77
        iretd
      idtr: dw 0x7ff
        dd 0x1000`),
    );
    const acc = new TcgAccelerator(bus, { oneInsnPerTb: false });
    acc.vcpus[0]!.setState(flatState(0x10000));
    const code = bus.mem.readBytes(0x10000, 64);
    let off = 0;
    while (!(code[off] === 0xe6 && code[off + 1] === 0xf4)) off++;
    const target = 0x10000 + off + 2;
    bus.mem.write32(0x1000 + 0x20 * 8, (0x08 << 16) | (target & 0xffff));
    bus.mem.write32(0x1000 + 0x20 * 8 + 4, (target & 0xffff0000) | 0x8e00);
    const running = acc.run();
    await whileSpinning(acc);
    intr.vector = 0x20;
    expect(await running).toBe('request');
    expect(bus.lifecycle.take()).toMatchObject({ kind: 'exit', status: 3 });
    expect(acc.jitStats()!.translated).toBeGreaterThan(0);
    acc.destroy();
  });

  it('takes an interrupt that STI lets in only after the instruction in its shadow', async () => {
    // A hot loop with interrupts enabled only from the STI to the CLI: the instruction after STI
    // copies ECX to EBX, so a handler entered in the shadow finds EBX 0. The handler reports
    // whether EBX and ECX agree (exit status 3) or not (4).
    const { bus, intr } = makeBus(
      assemble(`
        lidt [idtr]
        xor ecx, ecx
      top:
        cli
        inc ecx
        xor ebx, ebx
        sti
        mov ebx, ecx
        nop
        jmp top
      handler:
        cmp ebx, ecx
        mov al, 3
        je report
        mov al, 4
      report:
        out 0xf4, al
      idtr: dw 0x7ff
        dd 0x1000`),
    );
    const code = bus.mem.readBytes(0x10000, 64);
    // The handler starts at CMP EBX, ECX (39 CB).
    let off = 0;
    while (!(code[off] === 0x39 && code[off + 1] === 0xcb)) off++;
    const target = 0x10000 + off;
    bus.mem.write32(0x1000 + 0x20 * 8, (0x08 << 16) | (target & 0xffff));
    bus.mem.write32(0x1000 + 0x20 * 8 + 4, (target & 0xffff0000) | 0x8e00);
    const image = bus.mem.readBytes(0, 0x11000);
    for (const oneInsnPerTb of [true, false]) {
      bus.mem.writeBytes(0, image);
      const acc = new TcgAccelerator(bus, { oneInsnPerTb });
      acc.vcpus[0]!.setState(flatState(0x10000));
      const running = acc.run();
      await whileSpinning(acc);
      intr.vector = 0x20;
      expect(await running).toBe('request');
      expect(bus.lifecycle.take()).toMatchObject({ kind: 'exit', status: 3 });
      if (!oneInsnPerTb) expect(acc.jitStats()!.translated).toBeGreaterThan(0);
      acc.destroy();
    }
  });
});
