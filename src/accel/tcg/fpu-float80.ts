/**
 * Extended-precision (80-bit) arithmetic for the x87 unit.
 *
 * A value is kept exactly as the m80fp format stores it (SDM Vol. 1 4.2.2,
 * Figure 4-3): sign, 15-bit biased exponent and a 64-bit significand with an
 * explicit integer bit (J). Loads and stores of m80fp therefore round-trip
 * every encoding bit for bit, including unnormals and pseudo-NaNs.
 *
 * Arithmetic is exact-then-round on BigInt significands: every operation
 * forms its exact result (or an exact result plus a sticky bit) and rounds it
 * once with `round`, which implements precision control, the four rounding
 * modes, denormal results, overflow/underflow with the x87's masked
 * responses, and the unmasked responses' exponent wrap by 24576 (SDM Vol. 1
 * 4.9.1.4, 4.9.1.5, 8.5.4, 8.5.5). This makes FADD/FSUB/FMUL/FDIV/FSQRT,
 * FPREM/FPREM1, FRNDINT, FSCALE, FXTRACT and all conversions bit-exact.
 * Only the transcendental instructions (fpu-transcendental.ts) take a
 * double-precision shortcut.
 */

/**
 * An immutable extended value. The significand is held as a bigint for
 * arithmetic or as two 32-bit words for moves (loads, stores, FXCH, FSAVE),
 * whichever it was made from; the other form is computed on first use, so a
 * value that is only moved never touches BigInt.
 */
export class F80 {
  private big: bigint | null;
  private high: number;
  private low: number;

  constructor(
    /** 0 or 1. */
    readonly sign: number,
    /** Biased exponent, 0..0x7fff. */
    readonly exp: number,
    mant: bigint | null,
    high = 0,
    low = 0,
  ) {
    this.big = mant;
    this.high = mant === null ? high : -1;
    this.low = low;
  }

  /** 64-bit significand including the explicit integer bit (bit 63). */
  get mant(): bigint {
    if (this.big === null) {
      scratch.setUint32(0, this.high);
      scratch.setUint32(4, this.low);
      this.big = scratch.getBigUint64(0);
    }
    return this.big;
  }

  /** Significand bits 63..32. */
  get hi(): number {
    if (this.high < 0) this.splitWords();
    return this.high;
  }

  /** Significand bits 31..0. */
  get lo(): number {
    if (this.high < 0) this.splitWords();
    return this.low;
  }

  /** The same value with another sign, in the same representation. */
  withSign(sign: number): F80 {
    return sign === this.sign ? this : new F80(sign, this.exp, this.big, this.high, this.low);
  }

  private splitWords(): void {
    scratch.setBigUint64(0, this.big as bigint);
    this.high = scratch.getUint32(0);
    this.low = scratch.getUint32(4);
  }
}

/** Scratch space for moving bits between numbers, doubles and bigints (big-endian DataView accessors). */
const scratch = new DataView(new ArrayBuffer(8));

/** Operand classes; the order matters (everything from Infinity up is special). */
export const enum Kind {
  Zero,
  Denormal,
  Normal,
  Infinity,
  QNaN,
  SNaN,
  /** Unnormal, pseudo-infinity, pseudo-NaN: invalid operands since the 387 (SDM Vol. 1 8.2.2). */
  Unsupported,
}

/** FSW exception flags (SDM Vol. 1 8.1.3.1); SF is the stack fault flag. */
export const IE = 0x01;
export const DE = 0x02;
export const ZE = 0x04;
export const OE = 0x08;
export const UE = 0x10;
export const PE = 0x20;
export const SF = 0x40;

/** FCW.RC rounding modes (SDM Vol. 1 Table 4-8). */
export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_ZERO = 3;

export const EXP_BIAS = 16383;
export const EXP_MAX = 0x7fff;
export const J_BIT = 1n << 63n;
const QUIET_BIT = 1n << 62n;
const FRACTION_MASK = J_BIT - 1n;
/** The exponent wrap applied to results of unmasked overflow/underflow (SDM Vol. 1 8.5.4). */
const WRAP_BIAS = 24576;

/**
 * One instruction's arithmetic environment: FCW's precision, rounding and
 * exception masks in, the raised exception flags and "rounded up" (which
 * becomes C1) out.
 */
export class FpContext {
  /** Significand bits for results of FADD/FSUB/FMUL/FDIV/FSQRT (FCW.PC): 24, 53 or 64. */
  precision = 64;
  rc = RC_NEAREST;
  /** FCW exception masks (bits 0-5). */
  masks = 0x3f;
  flags = 0;
  roundedUp = false;
  /**
   * A memory operand was a single/double denormal (now a normal extended
   * value). Its DE is raised by the operation, after the checks for invalid
   * and NaN operands that take precedence over it.
   */
  denormalSource = false;

  begin(fcw: number): void {
    const pc = (fcw >> 8) & 3;
    // PC=01 is reserved; it acts like 11 (extended), as measured on hardware.
    this.precision = pc === 0 ? 24 : pc === 2 ? 53 : 64;
    this.rc = (fcw >> 10) & 3;
    this.masks = fcw & 0x3f;
    this.flags = 0;
    this.roundedUp = false;
    this.denormalSource = false;
  }
}

/** A destination format's significand width and exponent range. */
export interface Format {
  readonly p: number;
  readonly emin: number;
  readonly emax: number;
  /** Weight of the least significant bit of the smallest denormal. */
  readonly lsbMin: number;
}

export const SINGLE: Format = { p: 24, emin: -126, emax: 127, lsbMin: -149 };
export const DOUBLE: Format = { p: 53, emin: -1022, emax: 1023, lsbMin: -1074 };
const EXTENDED: Format = { p: 64, emin: -16382, emax: 16383, lsbMin: -16445 };
/**
 * Extended exponent range with FCW.PC's significand width (SDM Vol. 1
 * 8.1.5.2: PC does not narrow the exponent). Tiny results are denormalized
 * within that width too: their last bit is 2^(emin - p + 1), as hardware does.
 */
const EXTENDED_PC: Record<number, Format> = {
  24: { ...EXTENDED, p: 24, lsbMin: EXTENDED.emin - 23 },
  53: { ...EXTENDED, p: 53, lsbMin: EXTENDED.emin - 52 },
  64: EXTENDED,
};

export function f80(sign: number, exp: number, mant: bigint): F80 {
  return new F80(sign, exp, mant);
}

/** An extended value from its significand words (hi = bits 63..32, lo = bits 31..0, both unsigned). */
export function f80Words(sign: number, exp: number, hi: number, lo: number): F80 {
  return new F80(sign, exp, null, hi, lo);
}

export const POS_ZERO = f80(0, 0, 0n);
export const NEG_ZERO = f80(1, 0, 0n);
export const ONE = f80(0, EXP_BIAS, J_BIT);
/** The QNaN floating-point indefinite (SDM Vol. 1 Table 4-3). */
export const INDEFINITE = f80(1, EXP_MAX, 0xc000000000000000n);

export function zero(sign: number): F80 {
  return sign ? NEG_ZERO : POS_ZERO;
}

export function infinity(sign: number): F80 {
  return f80(sign, EXP_MAX, J_BIT);
}

export function classify(v: F80): Kind {
  const hi = v.hi;
  if (v.exp === 0) return hi === 0 && v.lo === 0 ? Kind.Zero : Kind.Denormal;
  if (hi < 0x80000000) return Kind.Unsupported;
  if (v.exp !== EXP_MAX) return Kind.Normal;
  if (hi === 0x80000000 && v.lo === 0) return Kind.Infinity;
  return hi & 0x40000000 ? Kind.QNaN : Kind.SNaN;
}

export function isNaNKind(k: Kind): boolean {
  return k === Kind.QNaN || k === Kind.SNaN;
}

export function quiet(v: F80): F80 {
  return f80Words(v.sign, v.exp, (v.hi | 0x40000000) >>> 0, v.lo);
}

export function negate(v: F80): F80 {
  return v.withSign(v.sign ^ 1);
}

export function abs(v: F80): F80 {
  return v.withSign(0);
}

/**
 * Exponent of the significand's least significant bit: a finite value is
 * mant × 2^lsbExponent(v). Denormals and pseudo-denormals (exponent 0) have
 * the weight of exponent 1 (SDM Vol. 1 8.2.2).
 */
export function lsbExponent(v: F80): number {
  return (v.exp || 1) - EXP_BIAS - 63;
}

/** Number of significant bits of x > 0. */
export function bitLength(x: bigint): number {
  scratch.setFloat64(0, Number(x));
  const hi = scratch.getUint32(0);
  const biased = hi >>> 20;
  if (biased === 0x7ff) return x.toString(2).length; // beyond the double range
  let n = biased - 1022;
  // Number(x) rounds to nearest: a power of two may stand for a value just below it.
  if ((hi & 0xfffff) === 0 && scratch.getUint32(4) === 0 && x >> BigInt(n - 1) === 0n) n--;
  return n;
}

/** Exact-operation results that the caller must flag invalid: returns the masked response. */
export function invalid(ctx: FpContext): F80 {
  ctx.flags |= IE;
  return INDEFINITE;
}

/**
 * NaN and unsupported-operand handling shared by the arithmetic operations
 * (SDM Vol. 1 4.8.3.5, Table 4-7, and QEMU's float_2nan_prop_x87 reading of
 * it): SNaN + QNaN gives the QNaN; two SNaNs or two QNaNs give the larger
 * significand (the positive one on a tie), an SNaN is quieted and raises IE.
 * Returns null when neither operand is a NaN or unsupported.
 */
export function specialOperands(a: F80, ka: Kind, b: F80 | null, kb: Kind, ctx: FpContext): F80 | null {
  if (ka === Kind.Unsupported || kb === Kind.Unsupported) return invalid(ctx);
  const aNaN = isNaNKind(ka);
  const bNaN = isNaNKind(kb);
  if (!aNaN && !bNaN) return null;
  if (ka === Kind.SNaN || kb === Kind.SNaN) ctx.flags |= IE;
  if (!bNaN || b === null) return quiet(a);
  if (!aNaN) return quiet(b);
  if (ka !== kb) return ka === Kind.QNaN ? a : b;
  if (a.mant !== b.mant) return quiet(a.mant > b.mant ? a : b);
  return quiet(a.sign <= b.sign ? a : b);
}

/** Whether a discarded, nonzero remainder rounds the magnitude up; versusHalf is the remainder compared with half a unit (-1, 0, 1). */
function roundsAwayFromZero(sign: number, odd: boolean, versusHalf: number, rc: number): boolean {
  switch (rc) {
    case RC_NEAREST:
      return versusHalf > 0 || (versusHalf === 0 && odd);
    case RC_DOWN:
      return sign === 1;
    case RC_UP:
      return sign === 0;
    default:
      return false;
  }
}

/** Rounds sig × 2^e to a multiple of 2^lsb; returns the multiple. Raises PE and records a round-up. */
function roundAt(sign: number, sig: bigint, e: number, lsb: number, ctx: FpContext): bigint {
  if (lsb <= e) return sig << BigInt(e - lsb);
  const shift = lsb - e;
  if (shift > bitLength(sig) + 1) {
    // Everything is below the rounding position: the result is 0 or one unit.
    ctx.flags |= PE;
    if (!roundsAwayFromZero(sign, false, -1, ctx.rc)) return 0n;
    ctx.roundedUp = true;
    return 1n;
  }
  const sh = BigInt(shift);
  const m = sig >> sh;
  const rem = sig - (m << sh);
  if (rem === 0n) return m;
  ctx.flags |= PE;
  const half = 1n << (sh - 1n);
  if (!roundsAwayFromZero(sign, (m & 1n) === 1n, rem > half ? 1 : rem === half ? 0 : -1, ctx.rc)) return m;
  ctx.roundedUp = true;
  return m + 1n;
}

/** A rounded finite result m × 2^e (m = 0n for zero), or infinity. */
export interface Rounded {
  readonly m: bigint;
  readonly e: number;
  readonly inf: boolean;
}

const ROUNDED_ZERO: Rounded = { m: 0n, e: 0, inf: false };
const ROUNDED_INF: Rounded = { m: 0n, e: 0, inf: true };

function overflowResponse(sign: number, fmt: Format, ctx: FpContext): Rounded {
  ctx.flags |= OE | PE;
  const toInfinity =
    ctx.rc === RC_NEAREST || (ctx.rc === RC_UP && sign === 0) || (ctx.rc === RC_DOWN && sign === 1);
  ctx.roundedUp = toInfinity;
  if (toInfinity) return ROUNDED_INF;
  return { m: (1n << BigInt(fmt.p)) - 1n, e: fmt.emax - fmt.p + 1, inf: false };
}

const probe = new FpContext();

/**
 * Whether a value just below 2^emin reaches it when rounded to p bits with
 * an unbounded exponent: then it is not tiny, the x87 detecting tininess
 * after rounding (IEEE 754 allows either; measured on hardware for every
 * precision control and for stores to m32fp/m64fp).
 */
function roundsUpToNormal(sign: number, sig: bigint, e: number, top: number, fmt: Format, ctx: FpContext): boolean {
  if (top !== fmt.emin - 1) return false;
  probe.rc = ctx.rc;
  return bitLength(roundAt(sign, sig, e, top - fmt.p + 1, probe)) > fmt.p;
}

/**
 * Rounds the exact value (-1)^sign × sig × 2^e (sig >= 0) into `fmt` under
 * FCW.RC, raising PE, UE, OE (tininess detected after rounding). With `wrapUnmasked` (register destinations) an unmasked
 * overflow or underflow delivers the significand rounded to full range with
 * the exponent wrapped by 24576; without it (memory destinations) the caller
 * sees the flag and suppresses the store.
 */
export function round(sign: number, sig: bigint, e: number, fmt: Format, ctx: FpContext, wrapUnmasked: boolean): Rounded {
  if (sig === 0n) return ROUNDED_ZERO;
  const top = e + bitLength(sig) - 1;
  const p = fmt.p;
  if (top < fmt.emin && !roundsUpToNormal(sign, sig, e, top, fmt, ctx)) {
    if (wrapUnmasked && !(ctx.masks & UE)) {
      ctx.flags |= UE;
      const lsb = top - p + 1;
      if (top + WRAP_BIAS >= fmt.emin) return { m: roundAt(sign, sig, e, lsb, ctx), e: lsb + WRAP_BIAS, inf: false };
      // Too small even after the wrap (FSCALE): zero.
      ctx.flags |= PE;
      return ROUNDED_ZERO;
    }
    const before = ctx.flags;
    ctx.flags &= ~PE;
    const lsb = Math.max(top - p + 1, fmt.lsbMin);
    const m = roundAt(sign, sig, e, lsb, ctx);
    const inexact = (ctx.flags & PE) !== 0;
    ctx.flags |= before;
    // Masked underflow is signalled only when the tiny result is also inexact (SDM Vol. 1 4.9.1.5).
    if (inexact || !(ctx.masks & UE)) ctx.flags |= UE;
    return { m, e: lsb, inf: false };
  }
  const lsb = top - p + 1;
  const m = roundAt(sign, sig, e, lsb, ctx);
  const roundedTop = lsb + bitLength(m) - 1;
  if (roundedTop <= fmt.emax) return { m, e: lsb, inf: false };
  if (wrapUnmasked && !(ctx.masks & OE)) {
    ctx.flags |= OE;
    if (roundedTop - WRAP_BIAS <= fmt.emax) return { m, e: lsb - WRAP_BIAS, inf: false };
    // Too large even after the wrap (FSCALE): infinity, as hardware delivers.
    ctx.flags |= PE;
    ctx.roundedUp = true;
    return ROUNDED_INF;
  }
  return overflowResponse(sign, fmt, ctx);
}

/** Packs a rounded extended result. */
export function packExtended(sign: number, r: Rounded): F80 {
  if (r.inf) return infinity(sign);
  if (r.m === 0n) return zero(sign);
  const len = bitLength(r.m);
  const top = r.e + len - 1;
  if (top < EXTENDED.emin) return f80(sign, 0, r.m << BigInt(r.e - EXTENDED.lsbMin));
  const mant = len <= 64 ? r.m << BigInt(64 - len) : r.m >> BigInt(len - 64);
  return f80(sign, top + EXP_BIAS, mant);
}

/** Rounds an exact result to the extended format under FCW.PC (the arithmetic instructions). */
export function roundToPrecision(sign: number, sig: bigint, e: number, ctx: FpContext): F80 {
  return packExtended(sign, round(sign, sig, e, EXTENDED_PC[ctx.precision], ctx, true));
}

/** Rounds an exact result to full 64-bit extended precision (FSCALE, FPREM, FRNDINT...). */
export function roundToExtended(sign: number, sig: bigint, e: number, ctx: FpContext): F80 {
  return packExtended(sign, round(sign, sig, e, EXTENDED, ctx, true));
}

function flagDenormals(ka: Kind, kb: Kind, ctx: FpContext): void {
  if (ka === Kind.Denormal || kb === Kind.Denormal || ctx.denormalSource) ctx.flags |= DE;
}

// ---- fast paths: round-to-nearest, 64-bit precision, double-like operands ----
//
// Most guest arithmetic is on values loaded from m64fp (53-bit significands)
// under Linux's default FCW (0x37f). For those, the exact sum or product is
// a double plus its exact rounding error (TwoSum, Dekker's TwoProduct), and
// rounding that pair to 64 bits needs no BigInt; a quotient is a double plus
// its exact remainder over the divisor. The results are exactly those of the
// general path; anything else (other RC/PC, wider significands, specials,
// extreme exponents, a quotient too close to a rounding boundary) takes the
// general path.

const VELTKAMP = 134217729; // 2^27 + 1

/** A normal value's significand as a double in [1, 2) when its low 11 bits are zero; otherwise 0. */
function doubleSignificand(v: F80): number {
  if (v.exp === 0 || v.exp === EXP_MAX) return 0;
  const hi = v.hi;
  const lo = v.lo;
  if (hi < 0x80000000 || (lo & 0x7ff) !== 0) return 0;
  return (hi * 2 ** 21 + (lo >>> 11)) * 2 ** -52;
}

/** The exact error of the double product p = fl(x·y) for x, y in [1, 2) (Dekker). */
function productError(x: number, y: number, p: number): number {
  const cx = VELTKAMP * x;
  const xh = cx - (cx - x);
  const xl = x - xh;
  const cy = VELTKAMP * y;
  const yh = cy - (cy - y);
  const yl = y - yh;
  return xh * yh - p + xh * yl + xl * yh + xl * yl;
}

/** Nearest integer to k, ties to even (k is small: |k| <= 2^12). */
function roundHalfEven(k: number): number {
  const f = Math.floor(k);
  const d = k - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f + (f & 1);
}

/**
 * k (in units of the last place) rounded to an integer, ties to even. An
 * approximate k (a quotient's tail) is trusted only away from the points
 * where rounding or exactness is decided: null within 2^-20 of them.
 */
function roundUnits(k: number, approximate: boolean): number | null {
  if (approximate) {
    const frac = k - Math.floor(k);
    if (frac < 2 ** -20 || frac > 1 - 2 ** -20 || Math.abs(frac - 0.5) < 2 ** -20) return null;
  }
  return roundHalfEven(k);
}

/**
 * (s + err) × 2^offset rounded to nearest at 64 bits, for a positive normal
 * double s and |err| <= ulp(s)/2 (exact, or `approximate` to about 2^-40 of
 * the last place). Returns null when the result would leave the normal
 * extended range or an approximate err is too close to call (the general
 * path then handles it).
 */
function packNearest(sign: number, s: number, err: number, offset: number, ctx: FpContext, approximate = false): F80 | null {
  scratch.setFloat64(0, s);
  const top = scratch.getUint32(0);
  const bottom = scratch.getUint32(4);
  let e = ((top >>> 20) & 0x7ff) - 1023;
  let hi = ((((top & 0xfffff) | 0x100000) << 11) | (bottom >>> 21)) >>> 0;
  let lo = (bottom << 11) >>> 0;
  let k = err * 2 ** (63 - e); // err in units of the 64-bit significand's last place
  let up = false;
  let inexact = false;
  if (k < 0 && hi === 0x80000000 && lo === 0) {
    // s is a power of two and the value lies just below it, where the last place is half as big.
    const kr = roundUnits(2 * k, approximate);
    if (kr === null) return null;
    inexact = kr !== 2 * k;
    up = kr > 2 * k;
    if (kr !== 0) {
      e -= 1;
      hi = 0xffffffff;
      lo = 2 ** 32 + kr;
    }
  } else {
    const kr = roundUnits(k, approximate);
    if (kr === null) return null;
    inexact = kr !== k;
    up = kr > k;
    lo += kr;
    if (lo >= 2 ** 32) {
      lo -= 2 ** 32;
      hi += 1;
    } else if (lo < 0) {
      lo += 2 ** 32;
      hi -= 1;
    }
  }
  const biased = e + offset + EXP_BIAS;
  if (biased <= 0 || biased >= EXP_MAX) return null;
  if (inexact) {
    ctx.flags |= PE;
    ctx.roundedUp = up;
  }
  return f80Words(sign, biased, hi, lo);
}

function fastPathApplies(ctx: FpContext): boolean {
  return ctx.precision === 64 && ctx.rc === RC_NEAREST && !ctx.denormalSource;
}

function addNearest(a: F80, b: F80, subtract: boolean, ctx: FpContext): F80 | null {
  const x = doubleSignificand(a);
  const y = doubleSignificand(b);
  if (x === 0 || y === 0 || Math.abs(a.exp - b.exp) > 60) return null;
  const common = Math.max(a.exp, b.exp);
  const X = (a.sign ? -x : x) * 2 ** (a.exp - common);
  const Y = (b.sign !== (subtract ? 1 : 0) ? -y : y) * 2 ** (b.exp - common);
  const sum = X + Y;
  if (sum === 0) return POS_ZERO; // exact cancellation rounds to +0 under RC = nearest
  const back = sum - X;
  const err = X - (sum - back) + (Y - back); // TwoSum: X + Y = sum + err exactly
  return sum < 0
    ? packNearest(1, -sum, -err, common - EXP_BIAS, ctx)
    : packNearest(0, sum, err, common - EXP_BIAS, ctx);
}

function mulNearest(a: F80, b: F80, ctx: FpContext): F80 | null {
  const x = doubleSignificand(a);
  const y = doubleSignificand(b);
  if (x === 0 || y === 0) return null;
  const p = x * y;
  return packNearest(a.sign ^ b.sign, p, productError(x, y, p), a.exp + b.exp - 2 * EXP_BIAS, ctx);
}

function divNearest(a: F80, b: F80, ctx: FpContext): F80 | null {
  const x = doubleSignificand(a);
  const y = doubleSignificand(b);
  if (x === 0 || y === 0) return null;
  const q = x / y;
  const p = q * y;
  // x - q·y is exact for q = fl(x/y) (the remainder of a correctly rounded quotient is a double).
  const r = x - p - productError(q, y, p);
  return packNearest(a.sign ^ b.sign, q, r / y, a.exp - b.exp, ctx, r !== 0);
}

/** a + b, or a - b when `subtract` (FADD, FSUB; FSUBR swaps the operands). */
export function add(a: F80, b: F80, subtract: boolean, ctx: FpContext): F80 {
  if (fastPathApplies(ctx)) {
    const r = addNearest(a, b, subtract, ctx);
    if (r) return r;
  }
  const ka = classify(a);
  const kb = classify(b);
  if (ka >= Kind.Infinity || kb >= Kind.Infinity) {
    const nan = specialOperands(a, ka, b, kb, ctx);
    if (nan) return nan;
  }
  flagDenormals(ka, kb, ctx);
  const sb = b.sign ^ (subtract ? 1 : 0);
  if (ka === Kind.Infinity) return kb === Kind.Infinity && a.sign !== sb ? invalid(ctx) : a;
  if (kb === Kind.Infinity) return infinity(sb);
  if (kb === Kind.Zero) {
    if (ka === Kind.Zero) return zero(a.sign === sb ? a.sign : ctx.rc === RC_DOWN ? 1 : 0);
    return roundToPrecision(a.sign, a.mant, lsbExponent(a), ctx);
  }
  if (ka === Kind.Zero) return roundToPrecision(sb, b.mant, lsbExponent(b), ctx);

  let big = a.mant, bigE = lsbExponent(a), bigSign = a.sign;
  let small = b.mant, smallE = lsbExponent(b), smallSign = sb;
  if (bigE < smallE) {
    [big, small] = [small, big];
    [bigE, smallE] = [smallE, bigE];
    [bigSign, smallSign] = [smallSign, bigSign];
  }
  const same = bigSign === smallSign;
  const d = bigE - smallE;
  let sig: bigint;
  let e: number;
  if (d > 130) {
    // The small operand lies wholly below any rounding position: a sticky unit stands in for it.
    sig = (big << 130n) + (same ? 1n : -1n);
    e = bigE - 130;
  } else {
    sig = same ? (big << BigInt(d)) + small : (big << BigInt(d)) - small;
    e = smallE;
  }
  if (sig === 0n) return zero(ctx.rc === RC_DOWN ? 1 : 0);
  if (sig < 0n) return roundToPrecision(smallSign, -sig, e, ctx);
  return roundToPrecision(bigSign, sig, e, ctx);
}

export function mul(a: F80, b: F80, ctx: FpContext): F80 {
  if (fastPathApplies(ctx)) {
    const r = mulNearest(a, b, ctx);
    if (r) return r;
  }
  const ka = classify(a);
  const kb = classify(b);
  if (ka >= Kind.Infinity || kb >= Kind.Infinity) {
    const nan = specialOperands(a, ka, b, kb, ctx);
    if (nan) return nan;
  }
  flagDenormals(ka, kb, ctx);
  const sign = a.sign ^ b.sign;
  if (ka === Kind.Infinity || kb === Kind.Infinity) {
    return ka === Kind.Zero || kb === Kind.Zero ? invalid(ctx) : infinity(sign);
  }
  if (ka === Kind.Zero || kb === Kind.Zero) return zero(sign);
  return roundToPrecision(sign, a.mant * b.mant, lsbExponent(a) + lsbExponent(b), ctx);
}

/** A finite nonzero value as sig × 2^e with sig's bit 63 set (denormals normalized). */
function normalized(v: F80): [bigint, number] {
  const shift = 64 - bitLength(v.mant);
  return shift === 0 ? [v.mant, lsbExponent(v)] : [v.mant << BigInt(shift), lsbExponent(v) - shift];
}

/** a / b (FDIV; FDIVR swaps the operands). */
export function div(a: F80, b: F80, ctx: FpContext): F80 {
  if (fastPathApplies(ctx)) {
    const r = divNearest(a, b, ctx);
    if (r) return r;
  }
  const ka = classify(a);
  const kb = classify(b);
  if (ka >= Kind.Infinity || kb >= Kind.Infinity) {
    const nan = specialOperands(a, ka, b, kb, ctx);
    if (nan) return nan;
  }
  const sign = a.sign ^ b.sign;
  if (kb === Kind.Zero) {
    // Checked before denormals: a denormal dividend over zero raises ZE alone (as measured on hardware).
    if (ka === Kind.Zero) return invalid(ctx);
    if (ka === Kind.Infinity) return infinity(sign);
    ctx.flags |= ZE;
    return infinity(sign);
  }
  flagDenormals(ka, kb, ctx);
  if (ka === Kind.Infinity) return kb === Kind.Infinity ? invalid(ctx) : infinity(sign);
  if (kb === Kind.Infinity) return zero(sign);
  if (ka === Kind.Zero) return zero(sign);
  const [ma, ea] = normalized(a);
  const [mb, eb] = normalized(b);
  // 66 extra bits give a quotient of 66-67 bits: enough for 64-bit rounding plus guard, the remainder is sticky.
  const n = ma << 66n;
  const q = n / mb;
  const sticky = n - q * mb === 0n ? 0n : 1n;
  return roundToPrecision(sign, (q << 1n) | sticky, ea - eb - 67, ctx);
}

/** floor(sqrt(n)) for n >= 0, by Newton's iteration from a double estimate. */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.ceil(Math.sqrt(Number(n)) * (1 + 2 ** -40))) + 1n;
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) break;
    x = y;
  }
  while (x * x > n) x--;
  return x;
}

export function sqrt(a: F80, ctx: FpContext): F80 {
  const ka = classify(a);
  if (ka >= Kind.QNaN) return specialOperands(a, ka, null, Kind.Zero, ctx) as F80;
  if (ka === Kind.Zero) return a;
  if (a.sign) return invalid(ctx);
  if (ka === Kind.Infinity) return a;
  flagDenormals(ka, Kind.Zero, ctx);
  const [m, e] = normalized(a);
  // Scale to 192/193 bits with an even exponent: the root has 96 bits, the remainder is sticky.
  const k = 128 + (e & 1);
  const n = m << BigInt(k);
  const r = isqrt(n);
  const sticky = r * r === n ? 0n : 1n;
  return roundToPrecision(0, (r << 1n) | sticky, (e - k) / 2 - 1, ctx);
}

/** Comparison result: a < b, a = b, a > b, unordered. */
export const CMP_LESS = -1;
export const CMP_EQUAL = 0;
export const CMP_GREATER = 1;
export const CMP_UNORDERED = 2;

function compareMagnitude(a: F80, b: F80): number {
  if (a.exp === b.exp && a.exp !== 0) return a.mant === b.mant ? 0 : a.mant > b.mant ? 1 : -1;
  const topA = lsbExponent(a) + bitLength(a.mant);
  const topB = lsbExponent(b) + bitLength(b.mant);
  if (topA !== topB) return topA > topB ? 1 : -1;
  const [ma] = normalized(a);
  const [mb] = normalized(b);
  return ma === mb ? 0 : ma > mb ? 1 : -1;
}

/**
 * Compares a with b (FCOM, FUCOM, FCOMI, FTST, FICOM). A NaN raises IE when
 * `signaling` (FCOM family) and only an SNaN does otherwise (FUCOM family);
 * unsupported encodings always raise IE (SDM Vol. 2 FCOM/FUCOM).
 */
export function compare(a: F80, b: F80, signaling: boolean, ctx: FpContext): number {
  const ka = classify(a);
  const kb = classify(b);
  if (ka === Kind.Unsupported || kb === Kind.Unsupported) {
    ctx.flags |= IE;
    return CMP_UNORDERED;
  }
  if (isNaNKind(ka) || isNaNKind(kb)) {
    if (signaling || ka === Kind.SNaN || kb === Kind.SNaN) ctx.flags |= IE;
    return CMP_UNORDERED;
  }
  flagDenormals(ka, kb, ctx);
  if (ka === Kind.Zero && kb === Kind.Zero) return CMP_EQUAL;
  if (ka === Kind.Zero) return b.sign ? CMP_GREATER : CMP_LESS;
  if (kb === Kind.Zero) return a.sign ? CMP_LESS : CMP_GREATER;
  if (a.sign !== b.sign) return a.sign ? CMP_LESS : CMP_GREATER;
  let m: number;
  if (ka === Kind.Infinity || kb === Kind.Infinity) m = ka === kb ? 0 : ka === Kind.Infinity ? 1 : -1;
  else m = compareMagnitude(a, b);
  return a.sign ? -m : m;
}

// ---- conversions -------------------------------------------------------

/** An integer (|n| <= 2^63) as an extended value: exact (FILD, FBLD). */
export function fromInteger(n: bigint): F80 {
  if (n === 0n) return POS_ZERO;
  const sign = n < 0n ? 1 : 0;
  const m = sign ? -n : n;
  const len = bitLength(m);
  return f80(sign, EXP_BIAS + len - 1, m << BigInt(64 - len));
}

/** m32fp bits to extended: exact. Denormal sources set ctx.denormalSource; SNaNs stay signaling for the caller to judge. */
export function fromSingle(bits: number, ctx: FpContext): F80 {
  const sign = bits >>> 31;
  const exp = (bits >>> 23) & 0xff;
  const frac = bits & 0x7fffff;
  if (exp === 0xff) return f80(sign, EXP_MAX, J_BIT | (BigInt(frac) << 40n));
  if (exp === 0) {
    if (frac === 0) return zero(sign);
    ctx.denormalSource = true;
    return roundToExtendedExact(sign, BigInt(frac), -149);
  }
  return f80Words(sign, exp - 127 + EXP_BIAS, ((frac | 0x800000) << 8) >>> 0, 0);
}

/** m64fp bits (high and low dwords) to extended: exact, like fromSingle. */
export function fromDouble(hi: number, lo: number, ctx: FpContext): F80 {
  const sign = hi >>> 31;
  const exp = (hi >>> 20) & 0x7ff;
  const fracHi = hi & 0xfffff;
  if (exp === 0x7ff) return f80(sign, EXP_MAX, J_BIT | (BigInt(fracHi) << 43n) | (BigInt(lo >>> 0) << 11n));
  if (exp === 0) {
    if (fracHi === 0 && lo === 0) return zero(sign);
    ctx.denormalSource = true;
    return roundToExtendedExact(sign, (BigInt(fracHi) << 32n) | BigInt(lo >>> 0), -1074);
  }
  // The hot path: the significand J:fraction:000 as words, no bigint.
  return f80Words(sign, exp - 1023 + EXP_BIAS, (((fracHi | 0x100000) << 11) | (lo >>> 21)) >>> 0, (lo << 11) >>> 0);
}

/** Packs a value known to be exactly representable in extended (a narrower format's denormal). */
function roundToExtendedExact(sign: number, sig: bigint, e: number): F80 {
  const len = bitLength(sig);
  return f80(sign, e + len - 1 + EXP_BIAS, sig << BigInt(64 - len));
}

/** A JS double as an extended value: exact. */
export function fromNumber(x: number): F80 {
  scratch.setFloat64(0, x);
  const ignored = new FpContext();
  return fromDouble(scratch.getUint32(0), scratch.getUint32(4), ignored);
}

/** x × 2^n in two steps, so a large |n| does not overflow or underflow before x is applied. */
export function scaleByPow2(x: number, n: number): number {
  const half = Math.trunc(n / 2);
  return x * 2 ** half * 2 ** (n - half);
}

/** The value × 2^scale as the nearest JS double (for the monitor and the transcendental shortcut). */
export function toNumber(v: F80, scale = 0): number {
  switch (classify(v)) {
    case Kind.Zero:
      return v.sign ? -0 : 0;
    case Kind.Infinity:
      return v.sign ? -Infinity : Infinity;
    case Kind.QNaN:
    case Kind.SNaN:
    case Kind.Unsupported:
      return NaN;
    default: {
      // Keep the top 53 bits (rounded) then scale: exact except for doubles' own denormal range.
      const len = bitLength(v.mant);
      const shift = Math.max(0, len - 53);
      const top = Number(v.mant >> BigInt(shift)) + (shift > 0 && (v.mant >> BigInt(shift - 1)) & 1n ? 1 : 0);
      const mag = scaleByPow2(top, lsbExponent(v) + shift + scale);
      return v.sign ? -mag : mag;
    }
  }
}

function packNaNInto(v: F80, fmt: Format, ctx: FpContext): bigint {
  // SDM Vol. 1 4.8.3.5: the SNaN is quieted (IE); the significand is truncated to the narrower format.
  if (classify(v) === Kind.SNaN) ctx.flags |= IE;
  return ((v.mant | QUIET_BIT) & FRACTION_MASK) >> BigInt(64 - fmt.p);
}

/**
 * Rounds v to m32fp or m64fp bits (FST/FSTP). Returns the bit pattern as a
 * bigint; raises IE (SNaN, unsupported), OE, UE, PE. The caller suppresses
 * the store when an unmasked IE/OE/UE is raised.
 */
export function toBinary(v: F80, fmt: Format, ctx: FpContext): bigint {
  const expBits = fmt === SINGLE ? 8 : 11;
  const fracBits = fmt.p - 1;
  const expAll = (1n << BigInt(expBits)) - 1n;
  const signBit = BigInt(v.sign) << BigInt(expBits + fracBits);
  const k = classify(v);
  switch (k) {
    case Kind.Zero:
      return signBit;
    case Kind.Infinity:
      return signBit | (expAll << BigInt(fracBits));
    case Kind.Unsupported:
      ctx.flags |= IE;
      return (1n << BigInt(expBits + fracBits)) | (expAll << BigInt(fracBits)) | (1n << BigInt(fracBits - 1));
    case Kind.QNaN:
    case Kind.SNaN:
      return signBit | (expAll << BigInt(fracBits)) | packNaNInto(v, fmt, ctx);
  }
  const r = round(v.sign, v.mant, lsbExponent(v), fmt, ctx, false);
  if (r.inf) return signBit | (expAll << BigInt(fracBits));
  if (r.m === 0n) return signBit;
  const len = bitLength(r.m);
  const top = r.e + len - 1;
  if (top < fmt.emin) return signBit | (r.m << BigInt(r.e - fmt.lsbMin));
  const m = len <= fmt.p ? r.m << BigInt(fmt.p - len) : r.m >> BigInt(len - fmt.p);
  const biasedExp = BigInt(top + fmt.emax);
  return signBit | (biasedExp << BigInt(fracBits)) | (m & ((1n << BigInt(fracBits)) - 1n));
}

/**
 * FST m64fp: v rounded to a double, as [high dword, low dword]. Normal
 * values that stay normal take a number-only fast path (the hot FST of
 * double arithmetic); everything else goes through toBinary.
 */
export function toDoubleWords(v: F80, ctx: FpContext): [number, number] {
  let e = v.exp - EXP_BIAS;
  let high = v.hi; // J and 31 fraction bits
  if (high >= 0x80000000 && e >= DOUBLE.emin && e < DOUBLE.emax) {
    const low = v.lo;
    let rest = low >>> 11; // 21 more fraction bits
    const rem = low & 0x7ff;
    if (rem !== 0) {
      ctx.flags |= PE;
      if (roundsAwayFromZero(v.sign, (rest & 1) === 1, rem - 0x400, ctx.rc)) {
        ctx.roundedUp = true;
        rest = (rest + 1) & 0x1fffff;
        if (rest === 0) {
          high = (high + 1) >>> 0;
          if (high === 0) {
            high = 0x80000000;
            e++;
          }
        }
      }
    }
    const hi = (v.sign << 31) | ((e + DOUBLE.emax) << 20) | ((high & 0x7fffffff) >>> 11);
    return [hi >>> 0, (((high & 0x7ff) << 21) | rest) >>> 0];
  }
  const bits = toBinary(v, DOUBLE, ctx);
  return [Number(bits >> 32n), Number(bits & 0xffffffffn)];
}

/**
 * The hot FIST m16/m32 path: v rounded to an integer under FCW.RC, with
 * numbers only, when v is normal and below 2^31 in magnitude; null
 * otherwise (toInteger handles it). Raises PE and records a round-up.
 */
export function toSmallInteger(v: F80, ctx: FpContext): number | null {
  if (v.exp === 0 || v.exp === EXP_MAX) return null;
  const hi = v.hi;
  const e = v.exp - EXP_BIAS; // v = 1.f × 2^e
  if (hi < 0x80000000 || e > 30) return null;
  const lo = v.lo;
  let n = 0;
  let versusHalf = -1; // the discarded fraction compared with one half
  let inexact = true;
  if (e >= -1) {
    const unit = 2 ** (31 - e); // weight of the integer part's last bit within hi
    n = Math.floor(hi / unit);
    const rest = hi - n * unit;
    inexact = rest !== 0 || lo !== 0;
    versusHalf = rest > unit / 2 ? 1 : rest < unit / 2 ? -1 : lo !== 0 ? 1 : 0;
  }
  if (inexact) {
    ctx.flags |= PE;
    if (roundsAwayFromZero(v.sign, (n & 1) === 1, versusHalf, ctx.rc)) {
      n += 1;
      ctx.roundedUp = true;
    }
  }
  return v.sign ? -n : n;
}

/** A 32-bit integer as an extended value, with numbers only (FILD m16/m32). */
export function fromSmallInteger(n: number): F80 {
  if (n === 0) return POS_ZERO;
  const magnitude = Math.abs(n);
  const len = 32 - Math.clz32(magnitude);
  return f80Words(n < 0 ? 1 : 0, EXP_BIAS + len - 1, (magnitude * 2 ** (32 - len)) >>> 0, 0);
}

/**
 * Rounds v to an integer under FCW.RC (FIST, FISTP, FBSTP, FRNDINT). Returns
 * null for NaN, infinity, unsupported or a magnitude of 2^64 or more (the
 * caller range-checks and raises IE); may raise PE and set the round-up.
 */
export function toInteger(v: F80, ctx: FpContext): bigint | null {
  const k = classify(v);
  if (k === Kind.Zero) return 0n;
  if (k >= Kind.Infinity) return null;
  const e = lsbExponent(v);
  if (e > 0) return null;
  const m = roundAt(v.sign, v.mant, e, 0, ctx);
  return v.sign ? -m : m;
}

// ---- FRNDINT, FXTRACT, FSCALE, FPREM/FPREM1: exact operations ----------

/** FRNDINT: ST(0) rounded to an integral value per FCW.RC, exactly. */
export function roundToIntegralValue(x: F80, ctx: FpContext): F80 {
  const k = classify(x);
  if (k >= Kind.QNaN) return specialOperands(x, k, null, Kind.Zero, ctx) as F80;
  if (k === Kind.Zero || k === Kind.Infinity) return x;
  if (k === Kind.Denormal) ctx.flags |= DE;
  if (lsbExponent(x) >= 0) return x;
  const n = toInteger(x, ctx) as bigint;
  return n === 0n ? zero(x.sign) : fromInteger(n);
}

/** FXTRACT's [exponent, significand] of x (SDM Vol. 2 FXTRACT): the exponent replaces ST(0), the significand is pushed. */
export function extractParts(x: F80, ctx: FpContext): [F80, F80] {
  const k = classify(x);
  if (k >= Kind.QNaN) {
    const nan = specialOperands(x, k, null, Kind.Zero, ctx) as F80;
    return [nan, nan];
  }
  if (k === Kind.Infinity) return [infinity(0), x];
  if (k === Kind.Zero) {
    ctx.flags |= ZE;
    return [infinity(1), x];
  }
  if (k === Kind.Denormal) ctx.flags |= DE;
  const len = bitLength(x.mant);
  const exponent = lsbExponent(x) + len - 1;
  return [fromInteger(BigInt(exponent)), f80(x.sign, EXP_BIAS, x.mant << BigInt(64 - len))];
}

/** FSCALE of x by trunc(s). */
export function scaleBy(x: F80, s: F80, ctx: FpContext): F80 {
  const kx = classify(x);
  const ks = classify(s);
  const nan = specialOperands(x, kx, s, ks, ctx);
  if (nan) return nan;
  if (kx === Kind.Denormal || ks === Kind.Denormal) ctx.flags |= DE;
  if (ks === Kind.Infinity) {
    if (kx === Kind.Zero) return s.sign ? x : invalid(ctx);
    if (kx === Kind.Infinity) return s.sign ? invalid(ctx) : x;
    return s.sign ? zero(x.sign) : infinity(x.sign);
  }
  if (kx === Kind.Zero || kx === Kind.Infinity) return x;
  // |trunc(s)| beyond 2^17 overflows or underflows any extended value; clamp to keep the shift small.
  const top = ks === Kind.Zero ? -1 : lsbExponent(s) + bitLength(s.mant) - 1;
  let n: number;
  if (top < 0) n = 0;
  else if (top > 17) n = s.sign ? -70000 : 70000;
  else n = Number(s.mant >> BigInt(-lsbExponent(s))) * (s.sign ? -1 : 1);
  return roundToExtended(x.sign, x.mant, lsbExponent(x) + n, ctx);
}

export interface Remainder {
  value: F80;
  incomplete: boolean;
  quotientLow: number;
}

/**
 * FPREM/FPREM1 (SDM Vol. 2 FPREM): exact remainder of ST(0) by ST(1). An
 * exponent difference of 64 or more gives a partial remainder (C2 = 1),
 * reducing the difference by 32 to 63; the quotient bits are then left as
 * they were.
 */
export function remainder(x: F80, y: F80, ieee: boolean, ctx: FpContext): Remainder {
  const kx = classify(x);
  const ky = classify(y);
  const nan = specialOperands(x, kx, y, ky, ctx);
  const done = (value: F80): Remainder => ({ value, incomplete: false, quotientLow: 0 });
  if (nan) return done(nan);
  if (kx === Kind.Infinity || ky === Kind.Zero) return done(invalid(ctx));
  if (kx === Kind.Denormal || ky === Kind.Denormal) ctx.flags |= DE;
  if (kx === Kind.Zero) return done(x);
  // A finite x comes back re-rounded like any result (a pseudo-denormal gets exponent 1, a denormal may wrap).
  if (ky === Kind.Infinity) return done(roundToExtended(x.sign, x.mant, lsbExponent(x), ctx));
  const ex = lsbExponent(x) + bitLength(x.mant);
  const ey = lsbExponent(y) + bitLength(y.mant);
  const d = ex - ey;
  // |x| < |y|: x itself, re-rounded like any result (a denormal x takes the unmasked-underflow wrap).
  if (d < 0 && !(ieee && d === -1)) return done(roundToExtended(x.sign, x.mant, lsbExponent(x), ctx));
  const my = y.mant;
  const ly = lsbExponent(y);
  if (d >= 64) {
    // Partial: subtract trunc(x / (y × 2^k)) × y × 2^k, k = d - N with N = 32 + d mod 32 (AMD's documented choice, matched by hardware).
    const k = d - (32 + (d % 32));
    const xs = x.mant << BigInt(lsbExponent(x) - ly - k);
    const q = xs / my;
    const r = xs - q * my;
    const value = r === 0n ? zero(x.sign) : roundToExtended(x.sign, r, ly + k, ctx);
    return { value, incomplete: true, quotientLow: 0 };
  }
  // Complete: x = mx × 2^lx, y = my × 2^ly with lx >= ly - 64 here.
  const lx = lsbExponent(x);
  const shift = lx - ly;
  const num = shift >= 0 ? x.mant << BigInt(shift) : x.mant;
  const den = shift >= 0 ? my : my << BigInt(-shift);
  const base = shift >= 0 ? ly : lx;
  let q = num / den;
  let r = num - q * den;
  let sign = x.sign;
  if (ieee && (2n * r > den || (2n * r === den && (q & 1n) === 1n))) {
    q += 1n;
    r = den - r;
    sign ^= 1;
  }
  const value = r === 0n ? zero(x.sign) : roundToExtended(sign, r, base, ctx);
  return { value, incomplete: false, quotientLow: Number(q & 7n) };
}
