// What a translated block costs V8 to compile and to run, as JavaScript (what
// the translator emits now) and as WebAssembly (a possible backend), on a
// synthetic block of the translator's shape: guest registers in locals and,
// per guest instruction, a soft-TLB load, a page check that may leave the
// block, a RAM access and an ALU operation (every fifth also a store).
//
// Each form runs in a child process under the V8 flags that pick its tier:
// JavaScript optimised by TurboFan (synchronously, through natives syntax),
// JavaScript left in V8's unoptimised tiers (Ignition, Sparkplug), and
// WebAssembly compiled eagerly by Liftoff (V8's baseline wasm compiler) or
// by TurboFan. Modules are salted per compile: V8 caches them by their bytes.
//
// Usage: node bench/block-compile.mjs [guest instructions=160]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const COMPILES = 10;
const RUNS = 100_000;

const FORMS = {
  'js turbofan': ['--allow-natives-syntax', '--no-concurrent-recompilation'],
  'js unoptimised': ['--max-optimized-bytecode-size=0'],
  'wasm liftoff': ['--liftoff-only', '--no-wasm-lazy-compilation'],
  'wasm turbofan': ['--no-liftoff', '--no-wasm-lazy-compilation'],
};

const [, , first, second] = process.argv;
if (first === 'child') {
  const insns = Number(process.argv[4]);
  const { compileMs, runNs } = second.startsWith('js') ? measureJs(insns, second === 'js turbofan') : measureWasm(insns);
  process.stdout.write(JSON.stringify({ compileMs, runNs }));
} else {
  const insns = Number(first ?? 160);
  console.error(`a block of ${insns} guest instructions: compile (main thread) and run per call`);
  for (const [form, flags] of Object.entries(FORMS)) {
    const out = execFileSync(process.execPath, [...flags, fileURLToPath(import.meta.url), 'child', form, String(insns)], { encoding: 'utf8' });
    const { compileMs, runNs } = JSON.parse(out);
    const compile = compileMs === undefined ? '(none)'.padStart(9) : `${compileMs.toFixed(2).padStart(6)} ms`;
    console.error(`${form.padEnd(15)} compile ${compile}  run ${runNs.toFixed(0).padStart(6)} ns (${(runNs / insns).toFixed(1)} ns per instruction)`);
  }
}

/** The block as JavaScript: TurboFan compile time (when `optimise`) and time per call. */
function measureJs(insns, optimise) {
  const ram = new ArrayBuffer(16 * 65536);
  const view = new DataView(ram);
  const tlb = new Int32Array(ram, 0, 1024);
  const regs = new Int32Array(8);
  let compileMs = 0;
  let runNs = 0;
  for (let salt = 0; salt < COMPILES; salt++) {
    const f = new Function('r', 'V', 'TLB', jsBlock(insns, salt));
    for (let i = 0; i < 20; i++) f(regs, view, tlb);
    if (optimise) {
      // Natives syntax parses only under --allow-natives-syntax, which this child runs with.
      const natives = new Function('f', '%PrepareFunctionForOptimization(f); f(...arguments[1]); %OptimizeFunctionOnNextCall(f);');
      natives(f, [regs, view, tlb]);
      const t = performance.now();
      f(regs, view, tlb);
      compileMs += performance.now() - t;
    }
    runNs += timeCalls(() => f(regs, view, tlb));
  }
  return { compileMs: optimise ? compileMs / COMPILES : undefined, runNs: runNs / COMPILES };
}

function jsBlock(insns, salt) {
  let src = `let R1 = r[1], R2 = r[2], R3 = r[3], R4 = r[4], R5 = r[5], R6 = r[6], R7 = r[7], R8 = r[0]; let T, E, F = ${salt};\n`;
  for (let k = 0; k < insns; k++) {
    const a = 1 + (k % 8);
    const b = 1 + ((k * 3 + 1) % 8);
    src += `T = (R${b} + ${(k * 4) & 0xff}) | 0; E = TLB[T >>> 12]; if (((E | T) & 0xfff) > 4092) { r[1] = R1; return ${k}; }\n`;
    src += `R${a} = (R${a} + V.getInt32(0x10000 + (E ^ T), true)) | 0; F = R${a};\n`;
    if (k % 5 === 4) src += `V.setInt32(0x10000 + (E ^ T), R${a}, true);\n`;
  }
  return src + 'r[1] = R1; r[2] = R2; return F;';
}

/** The block as WebAssembly: compile time of its module and time per call. */
function measureWasm(insns) {
  const { bytes, saltAt } = wasmBlock(insns);
  const memory = new WebAssembly.Memory({ initial: 16 });
  let module;
  const t = performance.now();
  for (let salt = 0; salt < COMPILES; salt++) {
    bytes[saltAt] = 0x80 | (salt & 0x7f);
    module = new WebAssembly.Module(bytes);
  }
  const compileMs = (performance.now() - t) / COMPILES;
  const f = new WebAssembly.Instance(module, { m: { m: memory } }).exports.f;
  return { compileMs, runNs: timeCalls(() => f(0)) };
}

/** Module bytes of `(func (param i32) (result i32))` with the block's body, and where its salt byte is. */
function wasmBlock(insns) {
  const [LOCAL_GET, LOCAL_SET, I32_CONST, DROP, BR_IF, BLOCK, END] = [0x20, 0x21, 0x41, 0x1a, 0x0d, 0x02, 0x0b];
  const [ADD, AND, OR, XOR, SHL, SHR_U, GT_U, LOAD, STORE] = [0x6a, 0x71, 0x72, 0x73, 0x74, 0x76, 0x4b, 0x28, 0x36];
  const T = 9;
  const E = 10;
  const EXIT = 11;
  const F = 12;
  // 12 i32 locals (1-8 the guest registers); an i32.const salt with a 5-byte LEB, dropped.
  const body = [0x01, 12, 0x7f, I32_CONST, 0x80, 0x80, 0x80, 0x80, 0x00, DROP, BLOCK, 0x40];
  const saltIndex = 4;
  for (let k = 0; k < insns; k++) {
    const a = 1 + (k % 8);
    const b = 1 + ((k * 3 + 1) % 8);
    body.push(LOCAL_GET, b, I32_CONST, ...sleb((k * 4) & 0xff), ADD, LOCAL_SET, T);
    body.push(LOCAL_GET, T, I32_CONST, 12, SHR_U, I32_CONST, 2, SHL, LOAD, 2, 0, LOCAL_SET, E);
    body.push(I32_CONST, ...sleb(k), LOCAL_SET, EXIT, LOCAL_GET, E, LOCAL_GET, T, OR, I32_CONST, ...sleb(0xfff), AND, I32_CONST, ...sleb(4092), GT_U, BR_IF, 0);
    body.push(LOCAL_GET, a, LOCAL_GET, E, LOCAL_GET, T, XOR, LOAD, 2, ...uleb(0x10000), ADD, LOCAL_SET, a, LOCAL_GET, a, LOCAL_SET, F);
    if (k % 5 === 4) body.push(LOCAL_GET, E, LOCAL_GET, T, XOR, LOCAL_GET, a, STORE, 2, ...uleb(0x10000));
  }
  body.push(END, LOCAL_GET, EXIT, LOCAL_GET, F, ADD, END);
  const section = (id, content) => [id, ...uleb(content.length), ...content];
  const code = [1, ...uleb(body.length), ...body];
  const bytes = new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, [1, 0x60, 1, 0x7f, 1, 0x7f]),
    ...section(2, [1, 1, 0x6d, 1, 0x6d, 0x02, 0x00, 16]),
    ...section(3, [1, 0]),
    ...section(7, [1, 1, 0x66, 0x00, 0]),
    ...section(10, code),
  ]);
  return { bytes, saltAt: bytes.length - body.length + saltIndex };
}

function uleb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n) {
  const out = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

/** Nanoseconds per call of `call`, over RUNS calls. */
function timeCalls(call) {
  const t = performance.now();
  for (let i = 0; i < RUNS; i++) call();
  return ((performance.now() - t) * 1e6) / RUNS;
}
