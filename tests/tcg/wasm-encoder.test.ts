/**
 * jit/wasm-encoder.ts: modules it builds validate, compile and compute what
 * their instructions say, on memory shared with JavaScript.
 */
import { describe, expect, it } from 'vitest';
import { Code, moduleBytes, Op, type ModuleSpec } from '../../src/accel/tcg/jit/wasm-encoder.js';

const memory = new WebAssembly.Memory({ initial: 1 });

function instantiate(spec: ModuleSpec, f: Record<string, (...a: number[]) => number | void> = {}): (...a: number[]) => number {
  const bytes = moduleBytes(spec);
  expect(WebAssembly.validate(bytes)).toBe(true);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { m: { memory }, f });
  return instance.exports.run as (...a: number[]) => number;
}

describe('wasm-encoder', () => {
  it('encodes constants across the signed LEB128 boundaries', () => {
    for (const v of [0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, -8193, 0x7fffffff, -0x80000000, 0x12345678]) {
      const run = instantiate({ imports: [], run: { params: 0, results: 1, locals: 0, code: new Code().i32(v) } });
      expect(run()).toBe(v);
    }
  });

  it('runs arithmetic on parameters and locals', () => {
    // (a - b) rotated left by 5, xor a * b
    const code = new Code().get(0).get(1).op(Op.I32Sub).i32(5).op(Op.I32Rotl).set(2).get(0).get(1).op(Op.I32Mul).get(2).op(Op.I32Xor);
    const run = instantiate({ imports: [], run: { params: 2, results: 1, locals: 1, code } });
    const rotl = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) | 0;
    expect(run(1000, 7)).toBe(rotl(993, 5) ^ Math.imul(1000, 7));
    expect(run(-5, 0x7fffffff)).toBe(rotl((-5 - 0x7fffffff) | 0, 5) ^ Math.imul(-5, 0x7fffffff));
  });

  it('loops and branches: sums 1..n', () => {
    // local 1: sum; loop: sum += n; n -= 1; br_if n != 0
    const code = new Code().block().get(0).op(Op.I32Eqz).brIf(0).loop().get(1).get(0).op(Op.I32Add).set(1).get(0).i32(1).op(Op.I32Sub).tee(0).brIf(0).end().end().get(1);
    const run = instantiate({ imports: [], run: { params: 1, results: 1, locals: 1, code } });
    expect(run(0)).toBe(0);
    expect(run(100)).toBe(5050);
  });

  it('dispatches with br_table', () => {
    // block $d block $c block $b block $a (br_table $a $b $c $d x) ... each returns its own number
    const code = new Code().block().block().block().block().get(0).brTable([0, 1, 2], 3).end().i32(10).op(Op.Return).end().i32(11).op(Op.Return).end().i32(12).op(Op.Return).end().i32(13);
    const run = instantiate({ imports: [], run: { params: 1, results: 1, locals: 0, code } });
    expect([0, 1, 2, 3, 99].map((x) => run(x))).toEqual([10, 11, 12, 13, 13]);
  });

  it('loads and stores the shared memory at offsets, in each width, little-endian', () => {
    const view = new DataView(memory.buffer);
    view.setUint32(0x100, 0x8899aabb, true);
    // store32 [0x200] = load32 [0x100]; store16 [0x208] = load16u [0x101]; store8 [0x20c] = load8s [0x103] (sign-extended into the result)
    const code = new Code()
      .i32(0x1f0).i32(0x100).memory(Op.I32Load, 0, 4).memory(Op.I32Store, 0x10, 4)
      .i32(0x208).i32(0x101).memory(Op.I32Load16U, 0, 2).memory(Op.I32Store16, 0, 2)
      .i32(0x20c).i32(0x103).memory(Op.I32Load8S, 0, 1).memory(Op.I32Store8, 0, 1)
      .i32(0x103).memory(Op.I32Load8S, 0, 1);
    const run = instantiate({ imports: [], run: { params: 0, results: 1, locals: 0, code } });
    expect(run()).toBe(-0x78);
    expect(view.getUint32(0x200, true)).toBe(0x8899aabb);
    expect(view.getUint16(0x208, true)).toBe(0x99aa);
    expect(view.getUint8(0x20c)).toBe(0x88);
  });

  it('calls imported functions by index, with their results', () => {
    const seen: number[] = [];
    const code = new Code().get(0).call(0).get(0).i32(3).call(1);
    const run = instantiate(
      { imports: [{ name: 'note', params: 1, results: 0 }, { name: 'mul', params: 2, results: 1 }], run: { params: 1, results: 1, locals: 0, code } },
      { note: (x) => void seen.push(x), mul: (a, b) => a * b },
    );
    expect(run(7)).toBe(21);
    expect(seen).toEqual([7]);
  });

  it("computes a 32x32 unsigned product's high half through i64", () => {
    const code = new Code().get(0).op(Op.I64ExtendI32U).get(1).op(Op.I64ExtendI32U).op(Op.I64Mul).i64(32).op(Op.I64ShrU).op(Op.I32WrapI64);
    const run = instantiate({ imports: [], run: { params: 2, results: 1, locals: 0, code } });
    expect(run(0xffffffff, 3)).toBe(2);
    expect(run(0x12345678, 0x9abcdef0) >>> 0).toBe(Number((0x12345678n * 0x9abcdef0n) >> 32n));
  });
});
