/**
 * The HMP address expressions QEMU accepts: numbers (0x hex, 0 octal,
 * decimal), registers as $name ($pc, $eip, $esp, $rax, ...), joined with
 * + and - (and * / & | for the odd script), left to right, with
 * parentheses and unary minus.
 */
import type { CpuState } from '../accel/cpu-state.js';
import { GPR_NAMES } from '../accel/cpu-state.js';
import { MonitorError } from './control.js';

const GPR32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const GPR16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];

export function evaluate(text: string, cpu: () => CpuState): bigint {
  const tokens = text.match(/\$?[A-Za-z_][A-Za-z0-9_]*|0[xX][0-9a-fA-F]+|\d+|[-+*/&|()]|\S/g) ?? [];
  if (tokens.length === 0) throw new MonitorError('empty expression');
  let pos = 0;
  const term = (): bigint => {
    const t = tokens[pos++];
    if (t === undefined) throw new MonitorError('unexpected end of expression');
    if (t === '-') return -term();
    if (t === '(') {
      const v = sum();
      if (tokens[pos++] !== ')') throw new MonitorError("')' expected");
      return v;
    }
    if (t.startsWith('$')) return register(t.slice(1).toLowerCase(), cpu());
    if (/^0[xX]/.test(t)) return BigInt(t);
    if (/^0\d+$/.test(t)) return BigInt(`0o${t.slice(1)}`);
    if (/^\d+$/.test(t)) return BigInt(t);
    throw new MonitorError('invalid char in expression');
  };
  const sum = (): bigint => {
    let v = term();
    while (pos < tokens.length && '+-*/&|'.includes(tokens[pos]!)) {
      const op = tokens[pos++]!;
      const r = term();
      if (op === '+') v += r;
      else if (op === '-') v -= r;
      else if (op === '*') v *= r;
      else if (op === '/') {
        if (r === 0n) throw new MonitorError('division by zero');
        v /= r;
      } else if (op === '&') v &= r;
      else v |= r;
    }
    return v;
  };
  const value = sum();
  if (pos !== tokens.length) throw new MonitorError('invalid char in expression');
  return BigInt.asUintN(64, value);
}

function register(name: string, st: CpuState): bigint {
  // QEMU's $pc is linear (CS base + EIP), as x and x/i want it; $eip/$rip are the registers.
  if (name === 'pc') return st.seg.cs.base + st.rip;
  if (name === 'eip') return st.rip & 0xffff_ffffn;
  if (name === 'rip') return st.rip;
  if (name === 'eflags' || name === 'rflags') return st.rflags;
  const gpr = GPR_NAMES.indexOf(name as (typeof GPR_NAMES)[number]);
  if (gpr >= 0) return st.gpr[gpr]!;
  if (GPR32.includes(name)) return st.gpr[GPR32.indexOf(name)]! & 0xffff_ffffn;
  if (GPR16.includes(name)) return st.gpr[GPR16.indexOf(name)]! & 0xffffn;
  if (Object.hasOwn(st.seg, name)) return BigInt(st.seg[name as keyof CpuState['seg']].selector);
  if (name === 'cr0' || name === 'cr2' || name === 'cr3' || name === 'cr4') return st[name];
  throw new MonitorError(`unknown register`);
}
