/**
 * The WebAssembly binary format (WebAssembly Core Specification 2.0,
 * chapter 5), as much of it as a translated block needs: one module per
 * block, importing the guest's memory and a few JavaScript functions and
 * exporting one function of i32 parameters and results. V8 compiles such a
 * module with Liftoff, its baseline wasm compiler, about 70 times faster
 * than TurboFan compiles the same block as JavaScript (bench/block-compile.mjs),
 * and tiers hot functions up to TurboFan in the background by itself.
 */

/** Instruction opcodes (section 5.4). */
export const enum Op {
  Unreachable = 0x00,
  Block = 0x02,
  Loop = 0x03,
  If = 0x04,
  Else = 0x05,
  End = 0x0b,
  Br = 0x0c,
  BrIf = 0x0d,
  BrTable = 0x0e,
  Return = 0x0f,
  Call = 0x10,
  Drop = 0x1a,
  Select = 0x1b,
  LocalGet = 0x20,
  LocalSet = 0x21,
  LocalTee = 0x22,
  I32Load = 0x28,
  I32Load8S = 0x2c,
  I32Load8U = 0x2d,
  I32Load16S = 0x2e,
  I32Load16U = 0x2f,
  I32Store = 0x36,
  I32Store8 = 0x3a,
  I32Store16 = 0x3b,
  I32Const = 0x41,
  I64Const = 0x42,
  I32Eqz = 0x45,
  I32Eq = 0x46,
  I32Ne = 0x47,
  I32LtS = 0x48,
  I32LtU = 0x49,
  I32GtS = 0x4a,
  I32GtU = 0x4b,
  I32LeS = 0x4c,
  I32LeU = 0x4d,
  I32GeS = 0x4e,
  I32GeU = 0x4f,
  I64Ne = 0x52,
  I32Clz = 0x67,
  I32Ctz = 0x68,
  I32Popcnt = 0x69,
  I32Add = 0x6a,
  I32Sub = 0x6b,
  I32Mul = 0x6c,
  I32DivS = 0x6d,
  I32DivU = 0x6e,
  I32RemS = 0x6f,
  I32RemU = 0x70,
  I32And = 0x71,
  I32Or = 0x72,
  I32Xor = 0x73,
  I32Shl = 0x74,
  I32ShrS = 0x75,
  I32ShrU = 0x76,
  I32Rotl = 0x77,
  I32Rotr = 0x78,
  I64Mul = 0x7e,
  I64ShrU = 0x88,
  I32WrapI64 = 0xa7,
  I64ExtendI32S = 0xac,
  I64ExtendI32U = 0xad,
  I32Extend8S = 0xc0,
  I32Extend16S = 0xc1,
}

const I32 = 0x7f;
/** The block type of a structured instruction that takes and leaves nothing on the stack. */
const EMPTY_BLOCK = 0x40;

/** Appends `n` as an unsigned LEB128 number (section 5.2.2). */
function unsigned(out: number[], n: number): void {
  let v = n >>> 0;
  do {
    const byte = v & 0x7f;
    v >>>= 7;
    out.push(v === 0 ? byte : byte | 0x80);
  } while (v !== 0);
}

/** Appends `n` (an int32) as a signed LEB128 number. */
function signed(out: number[], n: number): void {
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    // Done once the rest is all sign bits and the byte's bit 6 agrees with them.
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

/** A function body under construction: its instructions, each method appending one. */
export class Code {
  readonly bytes: number[] = [];

  op(op: Op): this {
    this.bytes.push(op);
    return this;
  }

  i32(value: number): this {
    this.bytes.push(Op.I32Const);
    signed(this.bytes, value);
    return this;
  }

  /** An i64 constant: `value` (an int32) sign-extended. */
  i64(value: number): this {
    this.bytes.push(Op.I64Const);
    signed(this.bytes, value);
    return this;
  }

  get(local: number): this {
    return this.indexed(Op.LocalGet, local);
  }

  set(local: number): this {
    return this.indexed(Op.LocalSet, local);
  }

  tee(local: number): this {
    return this.indexed(Op.LocalTee, local);
  }

  call(func: number): this {
    return this.indexed(Op.Call, func);
  }

  /** A load or store `op` at the address on the stack plus `offset`, its alignment hint the natural one of `bytes`. */
  memory(op: Op, offset: number, bytes: 1 | 2 | 4): this {
    this.bytes.push(op, bytes === 4 ? 2 : bytes === 2 ? 1 : 0);
    unsigned(this.bytes, offset);
    return this;
  }

  block(): this {
    this.bytes.push(Op.Block, EMPTY_BLOCK);
    return this;
  }

  loop(): this {
    this.bytes.push(Op.Loop, EMPTY_BLOCK);
    return this;
  }

  if(): this {
    this.bytes.push(Op.If, EMPTY_BLOCK);
    return this;
  }

  end(): this {
    return this.op(Op.End);
  }

  br(depth: number): this {
    return this.indexed(Op.Br, depth);
  }

  brIf(depth: number): this {
    return this.indexed(Op.BrIf, depth);
  }

  /** br_table: to `depths[i]` for the i on the stack, to `otherwise` past their end. */
  brTable(depths: readonly number[], otherwise: number): this {
    this.bytes.push(Op.BrTable);
    unsigned(this.bytes, depths.length);
    for (const d of depths) unsigned(this.bytes, d);
    unsigned(this.bytes, otherwise);
    return this;
  }

  private indexed(op: Op, index: number): this {
    this.bytes.push(op);
    unsigned(this.bytes, index);
    return this;
  }
}

/** A function's type: how many i32 parameters it takes and i32 results it returns. */
export interface Signature {
  params: number;
  results: number;
}

export interface ModuleSpec {
  /** Functions imported from module "f" by the names given; they are function indices 0, 1, ... in this order. */
  imports: readonly (Signature & { name: string })[];
  /** The exported function "run" (index imports.length): its type, its i32 locals beyond the parameters, its body (without the final `end`). */
  run: Signature & { locals: number; code: Code };
}

/**
 * The bytes of a module importing memory "m"."memory" (at least one page)
 * and the functions of `spec.imports`, and exporting `spec.run` as "run".
 */
export function moduleBytes(spec: ModuleSpec): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const signatures = [...spec.imports, spec.run];
  section(out, 1, signatures.length, (s) => {
    for (const sig of signatures) {
      s.push(0x60);
      vector(s, sig.params, I32);
      vector(s, sig.results, I32);
    }
  });
  section(out, 2, spec.imports.length + 1, (s) => {
    name(s, 'm');
    name(s, 'memory');
    s.push(0x02, 0x00, 0x01); // memory, limits without a maximum, min 1 page
    spec.imports.forEach((imp, i) => {
      name(s, 'f');
      name(s, imp.name);
      s.push(0x00);
      unsigned(s, i);
    });
  });
  section(out, 3, 1, (s) => unsigned(s, spec.imports.length));
  section(out, 7, 1, (s) => {
    name(s, 'run');
    s.push(0x00);
    unsigned(s, spec.imports.length);
  });
  section(out, 10, 1, (s) => {
    const body: number[] = [];
    if (spec.run.locals > 0) {
      unsigned(body, 1);
      unsigned(body, spec.run.locals);
      body.push(I32);
    } else {
      unsigned(body, 0);
    }
    for (const b of spec.run.code.bytes) body.push(b);
    body.push(Op.End);
    unsigned(s, body.length);
    for (const b of body) s.push(b);
  });
  return Uint8Array.from(out);
}

/** Appends section `id` holding a vector of `count` entries that `fill` writes. */
function section(out: number[], id: number, count: number, fill: (s: number[]) => void): void {
  const content: number[] = [];
  unsigned(content, count);
  fill(content);
  out.push(id);
  unsigned(out, content.length);
  for (const b of content) out.push(b);
}

/** A vector of `count` copies of value type `type`. */
function vector(out: number[], count: number, type: number): void {
  unsigned(out, count);
  for (let i = 0; i < count; i++) out.push(type);
}

function name(out: number[], text: string): void {
  unsigned(out, text.length);
  for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i));
}
