/**
 * The x87 unit driven directly through the X87Unit contract with a fake
 * host over a byte array: what a guest can see (memory, FSW/FCW/FTW,
 * condition codes, EFLAGS results, #MF delivery).
 */
import { describe, expect, it } from 'vitest';
import { X87_DONE, X87_UD } from '../../src/accel/tcg/fpu-types.js';
import { getHex, m80, makeFpu, putHex, run } from './fpu-harness.js';

const A = 0x100; // scratch operand address

function f64hex(x: number): string {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b.toString('hex');
}
function f32hex(x: number): string {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return b.toString('hex');
}

/** A unit after FNINIT, with helpers to load and read doubles through memory. */
function fresh() {
  const { fpu, host } = makeFpu();
  run(fpu, 'dbe3');
  const loadDouble = (x: number) => {
    putHex(host, A, f64hex(x));
    run(fpu, 'dd06', A); // FLD m64fp
  };
  const storeDouble = (): number => {
    run(fpu, 'dd1e', A); // FSTP m64fp
    return Buffer.from(host.bytes.buffer, A, 8).readDoubleLE(0);
  };
  const peekDouble = (): number => {
    run(fpu, 'dd16', A); // FST m64fp
    return Buffer.from(host.bytes.buffer, A, 8).readDoubleLE(0);
  };
  const sw = () => fpu.statusWord;
  const cc = () => {
    const s = fpu.statusWord;
    return { c3: (s >> 14) & 1, c2: (s >> 10) & 1, c1: (s >> 9) & 1, c0: (s >> 8) & 1 };
  };
  return { fpu, host, loadDouble, storeDouble, peekDouble, sw, cc };
}

describe('initialization', () => {
  it('RESET and FNINIT give the SDM states', () => {
    const { fpu } = makeFpu();
    expect([fpu.controlWord, fpu.statusWord, fpu.tagWord]).toEqual([0x0040, 0, 0xffff]);
    run(fpu, 'dbe3');
    expect([fpu.controlWord, fpu.statusWord, fpu.tagWord]).toEqual([0x037f, 0, 0xffff]);
  });

  it('FLDCW keeps the writable bits and bit 6; FNSTCW and FNSTSW m16 store them', () => {
    const { fpu, host } = fresh();
    host.mem.write16(A, 0xffff);
    run(fpu, 'd92e', A); // FLDCW
    run(fpu, 'd93e', A + 2); // FNSTCW
    expect(host.mem.read16(A + 2)).toBe(0x1f7f);
    run(fpu, 'd9e8'); // FLD1: TOP = 7
    run(fpu, 'dd3e', A + 4); // FNSTSW m16
    expect(host.mem.read16(A + 4)).toBe(0x3800);
  });
});

describe('loads and stores', () => {
  it('m80fp round-trips every encoding bit for bit', () => {
    const { fpu, host } = fresh();
    const values = [
      m80(0x3fff, 0x8000000000000000n),
      m80(0x8000, 0x0000000000000001n), // negative denormal
      m80(0x0000, 0x8000000000000001n), // pseudo-denormal
      m80(0x4005, 0x1234567890abcdefn), // unnormal
      m80(0x7fff, 0x0000000000000000n), // pseudo-infinity
      m80(0xffff, 0x8000000000000001n), // SNaN: m80 loads do not quiet
      m80(0x7ffe, 0xffffffffffffffffn),
    ];
    for (const v of values) {
      putHex(host, A, v);
      run(fpu, 'db2e', A); // FLD m80
      run(fpu, 'db3e', A + 16); // FSTP m80
      expect(getHex(host, A + 16, 10)).toBe(v);
    }
    expect(fpu.statusWord & 0x3f).toBe(0);
  });

  it('m64int loads and stores are exact at the extremes', () => {
    const { fpu, host } = fresh();
    for (const n of [0x7fffffffffffffffn, -0x8000000000000000n, 0x1234567890abcdefn, -1n, 9007199254740993n]) {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(n);
      putHex(host, A, b.toString('hex'));
      run(fpu, 'df2e', A); // FILD m64
      run(fpu, 'df3e', A + 16); // FISTP m64
      expect(Buffer.from(host.bytes.buffer, A + 16, 8).readBigInt64LE(0)).toBe(n);
    }
  });

  it('FIST rounds per RC and stores the integer indefinite when out of range', () => {
    const { fpu, host, loadDouble, sw } = fresh();
    const fist16 = () => {
      run(fpu, 'df1e', A + 32); // FISTP m16
      return host.mem.read16(A + 32);
    };
    loadDouble(2.5);
    expect(fist16()).toBe(2); // nearest-even
    loadDouble(-2.5);
    expect(fist16()).toBe(0xfffe);
    host.mem.write16(A + 8, 0x0f7f); // RC = toward zero
    run(fpu, 'd92e', A + 8);
    loadDouble(-2.7);
    expect(fist16()).toBe(0xfffe);
    expect(sw() & 0x20).toBe(0x20); // PE
    loadDouble(40000);
    expect(fist16()).toBe(0x8000);
    expect(sw() & 0x01).toBe(0x01); // IE
  });

  it('FST to m32 rounds, overflows to infinity and underflows to denormals when masked', () => {
    const { fpu, host, loadDouble, sw } = fresh();
    loadDouble(1 / 3);
    run(fpu, 'd91e', A + 16);
    expect(Buffer.from(host.bytes.buffer, A + 16, 4).toString('hex')).toBe(f32hex(1 / 3));
    loadDouble(1e300);
    run(fpu, 'd91e', A + 16);
    expect(host.mem.read32(A + 16)).toBe(0x7f800000);
    expect(sw() & 0x28).toBe(0x28); // OE PE
    loadDouble(1e-40);
    run(fpu, 'd91e', A + 16);
    expect(Buffer.from(host.bytes.buffer, A + 16, 4).readFloatLE(0)).toBe(Math.fround(1e-40));
    expect(sw() & 0x10).toBe(0x10); // UE
  });

  it('FLD m32 of an SNaN raises IE and loads it quieted', () => {
    const { fpu, host, sw } = fresh();
    host.mem.write32(A, 0x7f800001);
    run(fpu, 'd906', A);
    run(fpu, 'db3e', A + 16);
    expect(getHex(host, A + 16, 10)).toBe(m80(0x7fff, 0xc000010000000000n));
    expect(sw() & 0x41).toBe(0x01); // IE, not a stack fault
  });

  it('FBLD/FBSTP convert 18-digit packed BCD and FBSTP rounds', () => {
    const { fpu, host, loadDouble } = fresh();
    putHex(host, A, '21436587092143658780'); // digits 17..0 from byte 8 down: -876543210987654321
    run(fpu, 'df26', A); // FBLD
    run(fpu, 'df3e', A + 16); // FISTP m64
    expect(Buffer.from(host.bytes.buffer, A + 16, 8).readBigInt64LE(0)).toBe(-876543210987654321n);
    run(fpu, 'df2e', A + 16); // FILD m64 back
    run(fpu, 'df36', A + 32); // FBSTP
    expect(getHex(host, A + 32, 10)).toBe('21436587092143658780');
    loadDouble(-0.5);
    run(fpu, 'df36', A + 32);
    expect(getHex(host, A + 32, 10)).toBe('00000000000000000080'); // -0 keeps its sign
    loadDouble(1e19);
    run(fpu, 'df36', A + 32);
    expect(getHex(host, A + 32, 10)).toBe('00000000000000c0ffff'); // packed BCD indefinite
  });

  it('constants round per RC', () => {
    const { fpu, host } = fresh();
    run(fpu, 'd9eb'); // FLDPI
    run(fpu, 'db3e', A);
    expect(getHex(host, A, 10)).toBe(m80(0x4000, 0xc90fdaa22168c235n));
    host.mem.write16(A + 16, 0x077f); // RC = down
    run(fpu, 'd92e', A + 16);
    run(fpu, 'd9eb');
    run(fpu, 'db3e', A);
    expect(getHex(host, A, 10)).toBe(m80(0x4000, 0xc90fdaa22168c234n));
    host.mem.write16(A + 16, 0x0b7f); // RC = up
    run(fpu, 'd92e', A + 16);
    run(fpu, 'd9e9'); // FLDL2T
    run(fpu, 'db3e', A);
    expect(getHex(host, A, 10)).toBe(m80(0x4000, 0xd49a784bcd1b8affn));
  });
});

describe('arithmetic', () => {
  it("Linux's FDIV-bug check leaves 0", () => {
    const { fpu, host } = fresh();
    putHex(host, A, f64hex(4195835.0));
    putHex(host, A + 8, f64hex(3145727.0));
    run(fpu, 'dd06', A); // fldl x
    run(fpu, 'dc36', A + 8); // fdivl y
    run(fpu, 'dc0e', A + 8); // fmull y
    run(fpu, 'dd06', A); // fldl x
    run(fpu, 'dee9'); // fsubp %st,%st(1)
    run(fpu, 'db1e', A + 16); // fistpl
    fpu.wait();
    expect(host.mem.read32(A + 16)).toBe(0);
    expect(host.faults).toBe(0);
    expect(fpu.tagWord).toBe(0xffff);
  });

  it('keeps 64-bit precision between operations and honours precision control', () => {
    const { fpu, host, loadDouble, storeDouble } = fresh();
    // (1 + 2^-60) - 1 = 2^-60 at extended precision, 0 at double precision.
    loadDouble(1);
    putHex(host, A + 32, m80(0x3fff - 60, 0x8000000000000000n));
    run(fpu, 'db2e', A + 32);
    run(fpu, 'dec1'); // FADDP
    loadDouble(1);
    run(fpu, 'dee9'); // FSUBP: ST(1) = ST(1) - ST(0)
    expect(storeDouble()).toBe(2 ** -60);
    host.mem.write16(A + 48, 0x027f); // PC = 53 bits
    run(fpu, 'd92e', A + 48);
    loadDouble(1);
    run(fpu, 'db2e', A + 32);
    run(fpu, 'dec1');
    loadDouble(1);
    run(fpu, 'dee9');
    expect(storeDouble()).toBe(0);
  });

  it('FSQRT, FRNDINT, FSCALE, FXTRACT, FPREM, FPREM1, FCHS, FABS', () => {
    const { fpu, loadDouble, storeDouble, cc } = fresh();
    loadDouble(2);
    run(fpu, 'd9fa');
    expect(storeDouble()).toBe(Math.SQRT2);
    loadDouble(-3.5);
    run(fpu, 'd9fc');
    expect(storeDouble()).toBe(-4);
    loadDouble(3.9); // ST(1)
    loadDouble(1.5);
    run(fpu, 'd9fd'); // 1.5 × 2^3
    expect(storeDouble()).toBe(12);
    storeDouble();
    loadDouble(-48);
    run(fpu, 'd9f4'); // ST(0) = -1.5, ST(1) = 5
    expect(storeDouble()).toBe(-1.5);
    expect(storeDouble()).toBe(5);
    loadDouble(3); // ST(1)
    loadDouble(-17);
    run(fpu, 'd9f8'); // FPREM: -17 rem 3 = -2, quotient 5 (101b)
    expect(cc()).toEqual({ c3: 0, c2: 0, c1: 1, c0: 1 });
    expect(storeDouble()).toBe(-2);
    loadDouble(-17);
    run(fpu, 'd9f5'); // FPREM1: -17 - (-6 × 3) = 1, quotient 6 (110b)
    expect(cc()).toEqual({ c3: 1, c2: 0, c1: 0, c0: 1 });
    expect(storeDouble()).toBe(1);
    storeDouble();
    loadDouble(2.5);
    run(fpu, 'd9e0');
    expect(storeDouble()).toBe(-2.5);
    loadDouble(-2.5);
    run(fpu, 'd9e1');
    expect(storeDouble()).toBe(2.5);
  });

  it('FPREM of a huge quotient is partial (C2 = 1) and converges to fmod', () => {
    const { fpu, loadDouble, storeDouble, cc } = fresh();
    loadDouble(3);
    loadDouble(1e300);
    let rounds = 0;
    do {
      run(fpu, 'd9f8');
      rounds++;
    } while (cc().c2 && rounds < 100);
    expect(rounds).toBeGreaterThan(1);
    expect(storeDouble()).toBe(1e300 % 3);
  });

  it('the reversed DC/DE forms: FSUBRP and FDIVP', () => {
    const { fpu, loadDouble, storeDouble } = fresh();
    loadDouble(10);
    loadDouble(4);
    run(fpu, 'dee1'); // FSUBRP: ST(1) = ST(0) - ST(1)
    expect(storeDouble()).toBe(-6);
    loadDouble(10);
    loadDouble(4);
    run(fpu, 'def9'); // FDIVP: ST(1) = ST(1) / ST(0)
    expect(storeDouble()).toBe(2.5);
    loadDouble(10);
    loadDouble(4);
    run(fpu, 'dce9'); // FSUB ST(1), ST(0): ST(1) = ST(1) - ST(0)
    storeDouble();
    expect(storeDouble()).toBe(6);
  });

  it('integer operands: FIADD m16, FIMUL m32, FIDIVR m32', () => {
    const { fpu, host, loadDouble, storeDouble } = fresh();
    host.mem.write16(A + 16, 0xfffd); // -3
    host.mem.write32(A + 20, 7);
    loadDouble(0.5);
    run(fpu, 'de06', A + 16);
    expect(storeDouble()).toBe(-2.5);
    loadDouble(0.5);
    run(fpu, 'da0e', A + 20);
    expect(storeDouble()).toBe(3.5);
    loadDouble(2);
    run(fpu, 'da3e', A + 20); // 7 / 2
    expect(storeDouble()).toBe(3.5);
  });

  it('transcendentals agree with the host math library to about double precision', () => {
    const { fpu, host, loadDouble, storeDouble, cc } = fresh();
    const close = (x: number, y: number) => expect(Math.abs(x - y)).toBeLessThanOrEqual(Math.abs(y) * 4e-16);
    loadDouble(0.7);
    run(fpu, 'd9fe');
    close(storeDouble(), Math.sin(0.7));
    loadDouble(0.7);
    run(fpu, 'd9ff');
    close(storeDouble(), Math.cos(0.7));
    loadDouble(0.7);
    run(fpu, 'd9fb'); // FSINCOS: ST(0) = cos, ST(1) = sin
    close(storeDouble(), Math.cos(0.7));
    close(storeDouble(), Math.sin(0.7));
    loadDouble(0.7);
    run(fpu, 'd9f2'); // FPTAN pushes 1.0
    expect(storeDouble()).toBe(1);
    close(storeDouble(), Math.tan(0.7));
    loadDouble(-0.5);
    run(fpu, 'd9f0'); // F2XM1
    close(storeDouble(), Math.SQRT1_2 - 1);
    loadDouble(3); // y
    loadDouble(8); // x
    run(fpu, 'd9f1'); // FYL2X
    expect(storeDouble()).toBe(9);
    loadDouble(2); // y
    loadDouble(0.25); // x
    run(fpu, 'd9f9'); // FYL2XP1
    close(storeDouble(), 2 * Math.log2(1.25));
    loadDouble(1); // y
    loadDouble(-1); // x
    run(fpu, 'd9f3'); // FPATAN
    close(storeDouble(), (3 * Math.PI) / 4);
    // Out of range: C2 = 1 and the operand is left alone.
    loadDouble(2 ** 64);
    run(fpu, 'd9fe');
    expect(cc().c2).toBe(1);
    expect(storeDouble()).toBe(2 ** 64);
    // Tiny arguments keep extended-range values: sin(x) = x.
    putHex(host, A + 32, m80(0x0100, 0x8000000000000000n));
    run(fpu, 'db2e', A + 32);
    run(fpu, 'd9fe');
    run(fpu, 'db3e', A + 48);
    expect(getHex(host, A + 48, 10)).toBe(m80(0x0100, 0x8000000000000000n));
  });
});

describe('comparisons and classification', () => {
  it('FCOM/FUCOM condition codes and FCOMI/FUCOMI EFLAGS', () => {
    const { fpu, loadDouble, cc, sw } = fresh();
    const cases: [number, number, { c3: number; c2: number; c0: number }, number][] = [
      [1, 2, { c3: 0, c2: 0, c0: 1 }, 0x01],
      [2, 1, { c3: 0, c2: 0, c0: 0 }, 0x00],
      [-0, 0, { c3: 1, c2: 0, c0: 0 }, 0x40],
      [NaN, 1, { c3: 1, c2: 1, c0: 1 }, 0x45],
    ];
    for (const [a, b, codes, eflags] of cases) {
      loadDouble(b);
      loadDouble(a);
      run(fpu, 'ddE1'); // FUCOM ST(1)
      expect({ ...cc(), c1: undefined }).toEqual({ ...codes, c1: undefined });
      expect(run(fpu, 'dbe9')).toBe(eflags); // FUCOMI
      expect(run(fpu, 'dfe9')).toBe(eflags); // FUCOMIP pops
      run(fpu, 'ddd8'); // FSTP ST(0)
    }
    expect(sw() & 1).toBe(0); // a QNaN does not trouble the unordered compares
    loadDouble(1);
    loadDouble(NaN);
    run(fpu, 'd8d1'); // FCOM raises IE for a QNaN
    expect(sw() & 1).toBe(1);
    expect(fpu.tagWord).toBe(0x2fff);
    run(fpu, 'ded9'); // FCOMPP pops both
    expect(fpu.tagWord).toBe(0xffff);
  });

  it('FCOMI with an unmasked invalid operand keeps ZF, PF, CF (SDM), and does not pop', () => {
    const { fpu, host, loadDouble } = fresh();
    host.mem.write16(A + 16, 0x037e); // unmask IE
    run(fpu, 'd92e', A + 16);
    loadDouble(1);
    loadDouble(NaN);
    host.flags = 0x8d5 & ~0x04; // ZF CF set, PF clear, OF SF AF set
    expect(run(fpu, 'dff1')).toBe(0x41); // FCOMIP: ZF|CF as they were; the CPU clears OF SF AF
    expect(fpu.tagWord).toBe(0x2fff); // nothing popped
    expect(fpu.statusWord & 0x81).toBe(0x81);
    const codes = fpu.statusWord & 0x4500;
    run(fpu, 'd8d9'); // FCOMP: C3 C2 C0 untouched, no pop
    expect(fpu.statusWord & 0x4500).toBe(codes);
    expect(fpu.tagWord).toBe(0x2fff);
  });

  it('FXAM classes, including empty, and FTST', () => {
    const { fpu, host, loadDouble, cc } = fresh();
    const classOf = () => {
      run(fpu, 'd9e5');
      const c = cc();
      return `${c.c3}${c.c2}${c.c0} sign=${c.c1}`;
    };
    expect(classOf()).toBe('101 sign=0'); // empty
    const cases: [string, string][] = [
      [m80(0x0000, 0n), '100 sign=0'],
      [m80(0x8000, 1n), '110 sign=1'],
      [m80(0x3fff, 1n << 63n), '010 sign=0'],
      [m80(0xffff, 1n << 63n), '011 sign=1'],
      [m80(0x7fff, 3n << 62n), '001 sign=0'],
      [m80(0x4000, 1n), '000 sign=0'],
    ];
    for (const [v, want] of cases) {
      putHex(host, A, v);
      run(fpu, 'db2e', A);
      expect(classOf()).toBe(want);
      run(fpu, 'ddd8');
    }
    loadDouble(-3);
    run(fpu, 'd9e4'); // FTST: less than 0
    expect(cc()).toMatchObject({ c3: 0, c2: 0, c0: 1 });
  });

  it('FCMOVcc moves on EFLAGS', () => {
    const { fpu, host, loadDouble, storeDouble } = fresh();
    loadDouble(7);
    loadDouble(1);
    host.flags = 0x40; // ZF
    run(fpu, 'dac9'); // FCMOVE ST(0), ST(1)
    expect(storeDouble()).toBe(7);
    loadDouble(1);
    run(fpu, 'dbc9'); // FCMOVNE: not taken
    expect(storeDouble()).toBe(1);
  });
});

describe('stack faults and exceptions', () => {
  it('stack overflow and underflow: IE, SF and C1; masked responses push or produce the indefinite', () => {
    const { fpu, host, sw } = fresh();
    for (let i = 0; i < 8; i++) run(fpu, 'd9e8');
    run(fpu, 'd9e8'); // ninth push
    expect(sw() & 0x0241).toBe(0x0241); // C1 = 1, SF, IE
    run(fpu, 'db3e', A);
    expect(getHex(host, A, 10)).toBe(m80(0xffff, 0xc000000000000000n));
    run(fpu, 'dbe3');
    run(fpu, 'd8c1'); // FADD with an empty stack
    expect(sw() & 0x0241).toBe(0x0041); // C1 = 0: underflow
    expect(fpu.tagWord).toBe(0xfffe); // ST(0) now holds the indefinite (special)
  });

  it('an unmasked exception sets ES/B and is delivered at the next waiting instruction, not by no-wait ones', () => {
    const { fpu, host, loadDouble, sw } = fresh();
    host.mem.write16(A + 16, 0x037b); // unmask ZE
    run(fpu, 'd92e', A + 16);
    loadDouble(1);
    run(fpu, 'd9ee'); // FLDZ
    run(fpu, 'def9'); // FDIVP: 1 / 0
    expect(sw() & 0x8084).toBe(0x8084); // B, ES, ZE
    expect(fpu.tagWord).toBe(0x1fff); // nothing popped: the operands are kept
    expect(host.faults).toBe(0);
    run(fpu, 'dd3e', A); // FNSTSW: no-wait
    run(fpu, 'd93e', A); // FNSTCW: no-wait
    expect(host.faults).toBe(0);
    fpu.wait();
    expect(host.faults).toBe(1);
    run(fpu, 'd9e8'); // FLD1 is a waiting instruction
    expect(host.faults).toBe(2);
    run(fpu, 'dbe2'); // FNCLEX
    expect(sw() & 0x80ff).toBe(0);
    fpu.wait();
    expect(host.faults).toBe(2);
  });

  it('FLDCW that unmasks a pending flag raises at the next waiting instruction', () => {
    const { fpu, host, loadDouble, sw } = fresh();
    loadDouble(1);
    run(fpu, 'd9ee');
    run(fpu, 'def9'); // masked ZE
    expect(sw() & 0x84).toBe(0x04);
    host.mem.write16(A, 0x037b);
    run(fpu, 'd92e', A);
    expect(sw() & 0x8080).toBe(0x8080);
    fpu.wait();
    expect(host.faults).toBe(1);
  });

  it('unmasked overflow on a register result wraps the exponent by 24576', () => {
    const { fpu, host } = fresh();
    host.mem.write16(A, 0x0377); // unmask OE
    run(fpu, 'd92e', A);
    putHex(host, A + 16, m80(0x7ffe, 1n << 63n));
    run(fpu, 'db2e', A + 16);
    run(fpu, 'd8c0'); // ST(0) + ST(0) = 2^16384
    run(fpu, 'db3e', A + 32);
    expect(getHex(host, A + 32, 10)).toBe(m80(0x7fff - 24576, 1n << 63n));
  });

  it('undefined encodings return X87_UD and change nothing; FNOP and the aliases run', () => {
    const { fpu } = fresh();
    for (const hex of ['d9d1', 'd9e2', 'd9ef', 'dae0', 'dbe5', 'dbf8', 'ddf0', 'ded8', 'dfe1', 'dff8']) {
      expect(run(fpu, hex)).toBe(X87_UD);
    }
    for (const hex of ['d90e', 'db26', 'db36', 'dd2e', 'df0e', 'db0e', 'dd0e']) expect(run(fpu, hex, A)).toBe(X87_UD);
    expect(fpu.statusWord).toBe(0);
    expect(run(fpu, 'd9d0')).toBe(X87_DONE); // FNOP
    run(fpu, 'd9e8');
    run(fpu, 'd9ee');
    expect(run(fpu, 'dfc9')).toBe(X87_DONE); // FXCH7 alias: swaps ST(0) and ST(1)
    expect(run(fpu, 'dfc0')).toBe(X87_DONE); // FFREEP: frees the 1.0 now in ST(0) and pops
    expect(fpu.tagWord).toBe(0x7fff); // only the zero is left
    expect(run(fpu, 'dfe0')).toBe(fpu.statusWord); // FNSTSW AX
  });
});

describe('environment and state images', () => {
  it('FNSTENV 32-bit protected-mode layout, then all exceptions masked', () => {
    const { fpu, host, loadDouble } = fresh();
    loadDouble(1);
    fpu.setLastInstruction(0x1234, 0x5678, 0x406, 0x9abc, 0xdef0);
    run(fpu, 'dc06', A); // FADD m64 (records the pointers)
    fpu.setLastInstruction(0x1111, 0x2222, 0x136, 0, 0); // FNSTENV itself does not
    run(fpu, 'd936', A + 32);
    expect(getHex(host, A + 32, 28)).toBe(
      '7f03ffff' + '0038ffff' + 'ff3fffff' + '78560000' + '34120604' + 'f0de0000' + 'bc9affff',
    );
    expect(fpu.controlWord).toBe(0x037f);
  });

  it('FNSTENV with an unmasked exception pending masks it and clears ES and B (as hardware does)', () => {
    const { fpu, host, loadDouble, sw } = fresh();
    host.mem.write16(A + 64, 0x037b);
    run(fpu, 'd92e', A + 64);
    loadDouble(1);
    run(fpu, 'd9ee');
    run(fpu, 'def9'); // 1 / 0, unmasked
    expect(sw() & 0x80ff).toBe(0x8084);
    run(fpu, 'd936', A + 32);
    expect(host.mem.read16(A + 32 + 4) & 0x80ff).toBe(0x8084); // saved as it was
    expect(sw() & 0x80ff).toBe(0x0004);
    fpu.wait();
    expect(host.faults).toBe(0);
  });

  it('FNSTENV real-mode layouts hold 20/32-bit linear pointers', () => {
    const { fpu, host, loadDouble } = fresh();
    loadDouble(1);
    fpu.setLastInstruction(0x1234, 0x5678, 0x406, 0x2000, 0x10);
    run(fpu, 'dc06', A, true, false);
    run(fpu, 'd936', A + 32, false, false); // 16-bit real
    // FIP = 0x12340 + 0x5678 = 0x179b8, FDP = 0x20010
    expect(getHex(host, A + 32, 14)).toBe('7f03' + '0038' + 'ff3f' + 'b879' + '0614' + '1000' + '0020');
    run(fpu, 'd936', A + 64, true, false); // 32-bit real
    expect(getHex(host, A + 64, 28)).toBe(
      '7f03ffff' + '0038ffff' + 'ff3fffff' + 'b879ffff' + '06140000' + '1000ffff' + '00200000',
    );
  });

  it('FNSAVE/FRSTOR round-trip the whole state (and FNSAVE reinitializes)', () => {
    const { fpu, host, loadDouble, storeDouble } = fresh();
    loadDouble(1.5);
    loadDouble(-2.25);
    run(fpu, 'd9ee');
    host.mem.write16(A, 0x0e7f);
    run(fpu, 'd92e', A);
    const before = [fpu.controlWord, fpu.statusWord, fpu.tagWord];
    run(fpu, 'dd36', A + 0x40); // FNSAVE
    expect([fpu.controlWord, fpu.statusWord, fpu.tagWord]).toEqual([0x037f, 0, 0xffff]);
    run(fpu, 'dd26', A + 0x40); // FRSTOR
    expect([fpu.controlWord, fpu.statusWord, fpu.tagWord]).toEqual(before);
    expect(before[2]).toBe(0x07ff); // zero, valid, valid, then empty
    storeDouble();
    expect(storeDouble()).toBe(-2.25);
    expect(storeDouble()).toBe(1.5);
    // 16-bit protected layout: 14-byte header, registers at 14.
    loadDouble(3);
    run(fpu, 'dd36', A + 0x100, false, true);
    expect(getHex(host, A + 0x100 + 14, 10)).toBe(m80(0x4000, 0xc000000000000000n));
    run(fpu, 'dd26', A + 0x100, false, true);
    expect(storeDouble()).toBe(3);
  });

  it('FXSAVE/FXRSTOR: abridged tag, 16-byte register slots, exact restore', () => {
    const { fpu, host, loadDouble, storeDouble } = fresh();
    loadDouble(5);
    loadDouble(6);
    fpu.fxsave(0x200);
    expect(host.mem.read16(0x200)).toBe(0x037f);
    expect(host.mem.read16(0x202)).toBe(0x3000);
    expect(host.mem.read8(0x204)).toBe(0xc0); // physical registers 6 and 7 in use
    expect(getHex(host, 0x200 + 32, 10)).toBe(m80(0x4001, 0xc000000000000000n));
    expect(getHex(host, 0x200 + 48, 10)).toBe(m80(0x4001, 0xa000000000000000n));
    run(fpu, 'dbe3');
    fpu.fxrstor(0x200);
    expect(fpu.tagWord).toBe(0x0fff);
    expect(storeDouble()).toBe(6);
    expect(storeDouble()).toBe(5);
  });
});
