/**
 * The x87 transcendental instructions: FSIN, FCOS, FSINCOS, FPTAN, FPATAN,
 * F2XM1, FYL2X, FYL2XP1.
 *
 * DOUBLE-PRECISION SHORTCUT: the core of each function is evaluated with the
 * host's Math library on JS doubles, so these results carry about 53 good
 * bits, not the x87's 64 (its documented accuracy is within 1 ulp of
 * extended precision). The 64-bit argument is split into a double and the
 * exact remainder, which enters through the first derivative, so the
 * argument's low bits are not lost. Special operands (NaN, infinities,
 * zeros, stack rules) follow the SDM exactly, arguments are pre-scaled so
 * the extended exponent range does not overflow the double's, and tiny
 * arguments take exact series limits so denormal-range inputs are not
 * flushed.
 */
import {
  type F80,
  type FpContext,
  DE,
  PE,
  ZE,
  Kind,
  J_BIT,
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
  roundToExtended,
  scaleByPow2,
  specialOperands,
  toNumber,
  zero,
} from './fpu-float80.js';

/** ln(2) = LN2_128 × 2^-128 and log2(e) = LOG2E_128 × 2^-127 to 128 bits, for the tiny-argument limits. */
const LN2_128 = 0xb17217f7d1cf79abc9e3b39803f2f6afn;
const LOG2E_128 = 0xb8aa3b295c17f0bbbe87fed0691d3e88n;

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

/**
 * v × 2^scale (v finite, nonzero) as hi + lo: hi its top 53 bits rounded,
 * lo the exact signed rest, so f(v) ≈ f(hi) + f'(hi)·lo.
 */
function split(v: F80, scale = 0): [number, number] {
  const shift = 64 - bitLength(v.mant);
  const m = v.mant << BigInt(shift);
  const e = lsbExponent(v) - shift + scale;
  const top = (m + 0x400n) >> 11n;
  const rest = m - (top << 11n);
  const sign = v.sign ? -1 : 1;
  return [sign * scaleByPow2(Number(top), e + 11), sign * scaleByPow2(Number(rest), e)];
}

/**
 * A double approximation of an irrational intermediate as an extended value
 * with a sticky last bit, so products with it round (and underflow) as
 * inexact, as the exact value would.
 */
function approximate(x: number): F80 {
  const v = fromNumber(x);
  return v.exp === 0 || v.exp === 0x7fff ? v : f80(v.sign, v.exp, v.mant | 1n);
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
 * Tiny |x|: sin x = x - x³/6 and tan x = x + x³/3 lie strictly between x and
 * its neighbour, cos x = 1 - x²/2 just below 1. A sticky unit below the
 * significand stands for the x³ or x² term, so rounding (RC, precision,
 * underflow of denormal x) comes out as the hardware's.
 */
function tinyTrig(fn: Trig, x: F80, ctx: FpContext): F80 {
  if (fn === 'cos') return roundToExtended(0, (1n << 66n) - 1n, -66, ctx);
  return roundToExtended(x.sign, (x.mant << 2n) + (fn === 'sin' ? -1n : 1n), lsbExponent(x) - 2, ctx);
}

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
  if (topExponent(x) < TINY_TRIG_EXPONENT) return tinyTrig(fn, x, ctx);
  // Double-precision shortcut (see the file comment).
  const [hi, lo] = split(x);
  if (fn === 'tan') {
    const t = Math.tan(hi);
    return inexact(t + (1 + t * t) * lo, ctx);
  }
  const s = Math.sin(hi);
  const c = Math.cos(hi);
  return inexact(fn === 'sin' ? s + c * lo : c - s * lo, ctx);
}

/** F2XM1: 2^x - 1 for -1 <= x <= 1 (SDM Vol. 2 F2XM1). */
export function f2xm1(x: F80, ctx: FpContext): F80 {
  const k = classify(x);
  if (k >= Kind.QNaN) return specialOperands(x, k, null, Kind.Zero, ctx) as F80;
  if (k === Kind.Infinity) return x.sign ? negate(ONE) : x;
  if (k === Kind.Zero) return x;
  if (k === Kind.Denormal) ctx.flags |= DE;
  // 2^x - 1 = x ln 2 + O(x^2): one rounding of x × ln 2 (irrational, so a sticky bit).
  if (topExponent(x) < -60) return roundToExtended(x.sign, ((x.mant * LN2_128) << 1n) | 1n, lsbExponent(x) - 129, ctx);
  if (topExponent(x) >= 10) {
    // Far outside the documented domain -1..1: the operand comes back (as measured on hardware).
    ctx.flags |= PE;
    return x;
  }
  const [hi, lo] = split(x);
  const r = Math.expm1(hi * Math.LN2); // double-precision shortcut
  return inexact(r + (r + 1) * Math.LN2 * lo, ctx);
}

/** log2 of a finite positive value as exponent + log2(significand), so no extended exponent overflows a double. */
function log2Positive(x: F80): number {
  const len = bitLength(x.mant);
  const top = lsbExponent(x) + len - 1;
  // The significand as f = hi + lo in [1, 2): hi its top 53 bits, lo the rest.
  const m = x.mant << BigInt(64 - len);
  const hi = Number(m >> 11n) / 2 ** 52;
  const lo = Number(m & 0x7ffn) / 2 ** 63;
  return top + Math.log2(hi) + lo / (hi * Math.LN2);
}

/** FYL2X: y × log2(x) (SDM Vol. 2 FYL2X, Table 3-49). */
export function fyl2x(x: F80, y: F80, ctx: FpContext): F80 {
  const kx = classify(x);
  const ky = classify(y);
  const nan = specialOperands(x, kx, y, ky, ctx);
  if (nan) return nan;
  // Invalid operands and log2(0) are decided before DE, as hardware does.
  if (x.sign && kx !== Kind.Zero) return invalid(ctx);
  if (kx === Kind.Zero) {
    if (ky === Kind.Zero) return invalid(ctx);
    if (ky !== Kind.Infinity) ctx.flags |= ZE; // log2(0) = -infinity
    return infinity(y.sign ^ 1);
  }
  if (kx === Kind.Denormal || ky === Kind.Denormal) ctx.flags |= DE;
  if (kx === Kind.Infinity) return ky === Kind.Zero ? invalid(ctx) : infinity(y.sign);
  const l = log2Positive(x);
  if (l === 0) return ky === Kind.Infinity ? invalid(ctx) : zero(y.sign);
  if (ky === Kind.Infinity) return infinity(y.sign ^ (l < 0 ? 1 : 0));
  if (ky === Kind.Zero) return zero(y.sign ^ (l < 0 ? 1 : 0));
  // PE even when x is a power of two and the product exact, as measured on hardware.
  ctx.flags |= PE;
  const log = x.mant === J_BIT ? fromNumber(l) : approximate(l); // a power of two has an integer log2
  return atFullPrecision(ctx, () => mul(y, log, ctx)); // log2 via doubles
}

/** FYL2XP1: y × log2(x + 1) for |x| < 1 - sqrt(2)/2 (SDM Vol. 2 FYL2XP1). */
export function fyl2xp1(x: F80, y: F80, ctx: FpContext): F80 {
  const kx = classify(x);
  const ky = classify(y);
  const nan = specialOperands(x, kx, y, ky, ctx);
  if (nan) return nan;
  // Invalid operand combinations are decided before DE, as hardware does.
  if (kx === Kind.Zero && ky === Kind.Infinity) return invalid(ctx);
  if (ky === Kind.Zero && kx === Kind.Infinity) return invalid(ctx);
  if (kx === Kind.Infinity && x.sign) return invalid(ctx); // log2(1 - infinity)
  if (kx === Kind.Denormal || ky === Kind.Denormal) ctx.flags |= DE;
  if (kx === Kind.Zero || ky === Kind.Zero) return zero(x.sign ^ y.sign);
  if (ky === Kind.Infinity || kx === Kind.Infinity) return infinity(x.sign ^ y.sign);
  if (topExponent(x) < -60) {
    // y log2(1 + x) = y x log2(e) + O(x^2): one rounding of the exact product with a sticky bit.
    const sig = ((y.mant * x.mant * LOG2E_128) << 1n) | 1n;
    return roundToExtended(x.sign ^ y.sign, sig, lsbExponent(y) + lsbExponent(x) - 128, ctx);
  }
  let l: F80;
  if (!x.sign && topExponent(x) > 60) {
    // Far outside the documented domain: log2(1 + x) = log2(x) to double precision.
    ctx.flags |= PE;
    l = approximate(log2Positive(x));
  } else {
    const [hi, lo] = split(x);
    const v = (Math.log1p(hi) + lo / (1 + hi)) / Math.LN2; // double-precision shortcut
    if (Number.isNaN(v)) return invalid(ctx);
    ctx.flags |= PE;
    l = approximate(v);
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
    if (gap < -34 && !x.sign) {
      ctx.flags |= PE; // the arctangent of a nonzero ratio is never exact
      return atFullPrecision(ctx, () => div(y, x, ctx));
    }
    // Scale both by a common power of two so neither leaves the double range.
    const shift = -Math.max(topExponent(x), topExponent(y));
    const [xh, xl] = split(x, shift);
    const [yh, yl] = split(y, shift);
    const r = Math.atan2(yh, xh); // double-precision shortcut
    return inexact(r + (xh * yl - yh * xl) / (xh * xh + yh * yh), ctx);
  }
  // Zeros and infinities: Math.atan2 implements exactly the SDM's table; a finite
  // nonzero partner only contributes its sign.
  const unit = (v: F80, k: Kind) => (k === Kind.Zero || k === Kind.Infinity ? toNumber(v) : v.sign ? -1 : 1);
  const r = Math.atan2(unit(y, ky), unit(x, kx));
  return r === 0 || Object.is(r, -0) ? zero(r === 0 && !Object.is(r, -0) ? 0 : 1) : inexact(r, ctx);
}
