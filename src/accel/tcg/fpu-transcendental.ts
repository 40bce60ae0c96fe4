/**
 * The x87 transcendental instructions: FSIN, FCOS, FSINCOS, FPTAN, FPATAN,
 * F2XM1, FYL2X, FYL2XP1.
 *
 * DOUBLE-PRECISION SHORTCUT: the core of each function is evaluated with the
 * host's Math library on JS doubles, so these results carry about 53 good
 * bits, not the x87's 64 (its documented accuracy is within 1 ulp of
 * extended precision). Special operands (NaN, infinities, zeros, stack
 * rules) follow the SDM exactly, arguments are pre-scaled so the extended
 * exponent range does not overflow the double's, and tiny arguments take
 * exact series limits so denormal-range inputs are not flushed.
 */
import {
  type F80,
  type FpContext,
  DE,
  PE,
  ZE,
  Kind,
  ONE,
  classify,
  div,
  f80,
  fromNumber,
  infinity,
  invalid,
  lsbExponent,
  bitLength,
  mul,
  negate,
  specialOperands,
  toNumber,
  zero,
} from './fpu-float80.js';

/** log2(e) and ln(2) at full extended precision, for the tiny-argument limits. */
const LOG2_E = f80(0, 0x3fff, 0xb8aa3b295c17f0bcn);
const LN_2 = f80(0, 0x3ffe, 0xb17217f7d1cf79acn);

/** Exponent of the most significant bit of a finite nonzero value. */
function topExponent(v: F80): number {
  return lsbExponent(v) + bitLength(v.mant) - 1;
}

/** Runs an exact extended operation at full precision (transcendentals ignore FCW.PC, SDM Vol. 1 8.1.5.2). */
function atFullPrecision<T>(ctx: FpContext, f: () => T): T {
  const pc = ctx.precision;
  ctx.precision = 64;
  try {
    return f();
  } finally {
    ctx.precision = pc;
  }
}

/** A Math result as an extended value, flagged inexact. */
function inexact(x: number, ctx: FpContext): F80 {
  ctx.flags |= PE;
  return fromNumber(x);
}

/** The FSIN/FCOS/FPTAN/FSINCOS argument range: |x| < 2^63 (SDM Vol. 2 FSIN). */
export function trigInRange(x: F80): boolean {
  const k = classify(x);
  return k !== Kind.Normal && k !== Kind.Denormal ? true : topExponent(x) < 63;
}

/** Below this exponent sin x = tan x = x and cos x = 1 to within half an extended ulp. */
const TINY_TRIG_EXPONENT = -33;

type Trig = 'sin' | 'cos' | 'tan';

/**
 * sin, cos or tan of an in-range ST(0). Returns the result, or the masked
 * response of an invalid operand (infinity, unsupported, SNaN).
 */
export function trig(fn: Trig, x: F80, ctx: FpContext): F80 {
  const k = classify(x);
  if (k >= Kind.QNaN) return specialOperands(x, k, null, Kind.Zero, ctx) as F80;
  if (k === Kind.Infinity) return invalid(ctx);
  if (k === Kind.Zero) return fn === 'cos' ? ONE : x;
  if (k === Kind.Denormal) ctx.flags |= DE;
  if (topExponent(x) < TINY_TRIG_EXPONENT) {
    ctx.flags |= PE;
    return fn === 'cos' ? ONE : x;
  }
  const v = toNumber(x); // double-precision shortcut (see the file comment)
  return inexact(fn === 'sin' ? Math.sin(v) : fn === 'cos' ? Math.cos(v) : Math.tan(v), ctx);
}

/** F2XM1: 2^x - 1 for -1 <= x <= 1 (SDM Vol. 2 F2XM1). */
export function f2xm1(x: F80, ctx: FpContext): F80 {
  const k = classify(x);
  if (k >= Kind.QNaN) return specialOperands(x, k, null, Kind.Zero, ctx) as F80;
  if (k === Kind.Infinity) return x.sign ? negate(ONE) : x;
  if (k === Kind.Zero) return x;
  if (k === Kind.Denormal) ctx.flags |= DE;
  if (topExponent(x) < -60) return atFullPrecision(ctx, () => mul(x, LN_2, ctx)); // 2^x - 1 = x ln 2 + O(x^2)
  return inexact(Math.expm1(toNumber(x) * Math.LN2), ctx);
}

/** log2 of a finite positive value as exponent + log2(significand), so no extended exponent overflows a double. */
function log2Positive(x: F80): number {
  const len = bitLength(x.mant);
  const top = lsbExponent(x) + len - 1;
  const fraction = Number(x.mant >> BigInt(Math.max(0, len - 53))) / 2 ** Math.min(len - 1, 52);
  return top + Math.log2(fraction);
}

/** FYL2X: y × log2(x) (SDM Vol. 2 FYL2X, Table 3-49). */
export function fyl2x(x: F80, y: F80, ctx: FpContext): F80 {
  const kx = classify(x);
  const ky = classify(y);
  const nan = specialOperands(x, kx, y, ky, ctx);
  if (nan) return nan;
  if (kx === Kind.Denormal || ky === Kind.Denormal) ctx.flags |= DE;
  if (x.sign && kx !== Kind.Zero) return invalid(ctx);
  if (kx === Kind.Zero) {
    if (ky === Kind.Zero) return invalid(ctx);
    if (ky !== Kind.Infinity) ctx.flags |= ZE; // log2(0) = -infinity
    return infinity(y.sign ^ 1);
  }
  if (kx === Kind.Infinity) return ky === Kind.Zero ? invalid(ctx) : infinity(y.sign);
  const l = log2Positive(x);
  if (l === 0) return ky === Kind.Infinity ? invalid(ctx) : zero(y.sign);
  if (ky === Kind.Infinity) return infinity(y.sign ^ (l < 0 ? 1 : 0));
  if (ky === Kind.Zero) return zero(y.sign ^ (l < 0 ? 1 : 0));
  ctx.flags |= PE;
  return atFullPrecision(ctx, () => mul(y, fromNumber(l), ctx)); // log2 via doubles
}

/** FYL2XP1: y × log2(x + 1) for |x| < 1 - sqrt(2)/2 (SDM Vol. 2 FYL2XP1). */
export function fyl2xp1(x: F80, y: F80, ctx: FpContext): F80 {
  const kx = classify(x);
  const ky = classify(y);
  const nan = specialOperands(x, kx, y, ky, ctx);
  if (nan) return nan;
  if (kx === Kind.Denormal || ky === Kind.Denormal) ctx.flags |= DE;
  if (kx === Kind.Zero) return ky === Kind.Infinity ? invalid(ctx) : zero(x.sign ^ y.sign);
  if (ky === Kind.Zero) return kx === Kind.Infinity ? invalid(ctx) : zero(x.sign ^ y.sign);
  let l: F80;
  if (kx !== Kind.Infinity && topExponent(x) < -60) {
    l = atFullPrecision(ctx, () => mul(x, LOG2_E, ctx)); // log2(1 + x) = x log2(e) + O(x^2)
  } else {
    const v = Math.log1p(toNumber(x)) / Math.LN2; // double-precision shortcut
    if (Number.isNaN(v)) return invalid(ctx);
    l = inexact(v, ctx);
  }
  return atFullPrecision(ctx, () => mul(y, l, ctx));
}

/** FPATAN: arctan(y / x) with the quadrant of (x, y) (SDM Vol. 2 FPATAN, Table 3-30). */
export function fpatan(x: F80, y: F80, ctx: FpContext): F80 {
  const kx = classify(x);
  const ky = classify(y);
  const nan = specialOperands(x, kx, y, ky, ctx);
  if (nan) return nan;
  if (kx === Kind.Denormal || ky === Kind.Denormal) ctx.flags |= DE;
  const finite = (k: Kind) => k === Kind.Normal || k === Kind.Denormal;
  if (finite(kx) && finite(ky)) {
    const gap = topExponent(y) - topExponent(x);
    // atan(y/x) = y/x to within half an ulp when |y/x| < 2^-33 and x > 0.
    if (gap < -34 && !x.sign) return atFullPrecision(ctx, () => div(y, x, ctx));
    // Scale both by a common power of two so neither leaves the double range.
    const shift = -Math.max(topExponent(x), topExponent(y));
    return inexact(Math.atan2(toNumber(y, shift), toNumber(x, shift)), ctx); // double-precision shortcut
  }
  // Zeros and infinities: Math.atan2 implements exactly the SDM's table.
  const r = Math.atan2(toNumber(y), toNumber(x));
  return r === 0 || Object.is(r, -0) ? zero(r === 0 && !Object.is(r, -0) ? 0 : 1) : inexact(r, ctx);
}
