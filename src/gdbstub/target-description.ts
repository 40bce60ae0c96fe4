/**
 * The target descriptions gdb reads with qXfer:features:read, and the
 * register layout of `g`/`p` that follows from them, as QEMU 7.2 reports
 * them: gdb's i386 core feature (general registers, eip/rip, eflags, the
 * segment selectors, then fs_base, gs_base, k_gs_base, cr0, cr2, cr3, cr4,
 * cr8 and efer, the x87 registers) and the SSE feature. The width follows
 * the emulated CPU, not its mode, as in QEMU, whose qemu-system-x86_64
 * always describes x86-64 and qemu-system-i386 always i386: tsvm's TCG CPU
 * is an i686 (i386), its KVM CPU is the 64-bit host CPU (x86-64).
 * The control and base registers carry plain integer types here, where
 * QEMU defines flag types for cr0/cr3/cr4/efer.
 */

export type Arch = 'i386' | 'x86-64';

export interface RegisterDef {
  name: string;
  bits: number;
  type?: string;
  group?: string;
}

const X87 = [
  ...['st0', 'st1', 'st2', 'st3', 'st4', 'st5', 'st6', 'st7'].map((name) => ({ name, bits: 80, type: 'i387_ext' })),
  ...['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'].map((name) => ({ name, bits: 32, type: 'int', group: 'float' })),
];

/** Segment bases and control registers, between the selectors and the x87 registers in QEMU's core feature. */
const SYSTEM = ['fs_base', 'gs_base', 'k_gs_base', 'cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer'];

function core(arch: Arch): RegisterDef[] {
  const gprs = arch === 'i386'
    ? ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi']
    : ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
  const bits = arch === 'i386' ? 32 : 64;
  const ptr = (n: string) => (/(sp|bp)$/.test(n) ? 'data_ptr' : `int${bits}`);
  return [
    ...gprs.map((name) => ({ name, bits, type: ptr(name) })),
    { name: arch === 'i386' ? 'eip' : 'rip', bits, type: 'code_ptr' },
    { name: 'eflags', bits: 32, type: 'i386_eflags' },
    ...['cs', 'ss', 'ds', 'es', 'fs', 'gs'].map((name) => ({ name, bits: 32, type: 'int32' })),
    ...SYSTEM.map((name) => ({ name, bits, type: `int${bits}` })),
    ...X87,
  ];
}

function sse(arch: Arch): RegisterDef[] {
  const n = arch === 'i386' ? 8 : 16;
  return [
    ...Array.from({ length: n }, (_, i) => ({ name: `xmm${i}`, bits: 128, type: 'vec128' })),
    { name: 'mxcsr', bits: 32, type: 'i386_mxcsr', group: 'vector' },
  ];
}

export function registers(arch: Arch): RegisterDef[] {
  return [...core(arch), ...sse(arch)];
}

function regXml(r: RegisterDef, regnum: number): string {
  const group = r.group ? ` group="${r.group}"` : '';
  return `<reg name="${r.name}" bitsize="${r.bits}" type="${r.type ?? 'int'}" regnum="${regnum}"${group}/>`;
}

const FLAGS_TYPES =
  '<flags id="i386_eflags" size="4">' +
  ['CF:0', ':1', 'PF:2', 'AF:4', 'ZF:6', 'SF:7', 'TF:8', 'IF:9', 'DF:10', 'OF:11', 'NT:14', 'RF:16', 'VM:17', 'AC:18', 'VIF:19', 'VIP:20', 'ID:21']
    .map((f) => {
      const [name, bit] = f.split(':');
      return `<field name="${name}" start="${bit}" end="${bit}"/>`;
    })
    .join('') +
  '</flags>';

const VEC_TYPES =
  '<vector id="v4f" type="ieee_single" count="4"/><vector id="v2d" type="ieee_double" count="2"/>' +
  '<vector id="v16i8" type="int8" count="16"/><vector id="v8i16" type="int16" count="8"/>' +
  '<vector id="v4i32" type="int32" count="4"/><vector id="v2i64" type="int64" count="2"/>' +
  '<union id="vec128"><field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>' +
  '<field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/>' +
  '<field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/></union>' +
  '<flags id="i386_mxcsr" size="4"><field name="IE" start="0" end="0"/><field name="DE" start="1" end="1"/>' +
  '<field name="ZE" start="2" end="2"/><field name="OE" start="3" end="3"/><field name="UE" start="4" end="4"/>' +
  '<field name="PE" start="5" end="5"/><field name="DAZ" start="6" end="6"/><field name="IM" start="7" end="7"/>' +
  '<field name="DM" start="8" end="8"/><field name="ZM" start="9" end="9"/><field name="OM" start="10" end="10"/>' +
  '<field name="UM" start="11" end="11"/><field name="PM" start="12" end="12"/><field name="FZ" start="15" end="15"/></flags>';

export function targetXml(arch: Arch): string {
  const c = core(arch);
  const s = sse(arch);
  return (
    '<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target>' +
    `<architecture>${arch === 'i386' ? 'i386' : 'i386:x86-64'}</architecture>` +
    `<feature name="org.gnu.gdb.i386.core">${FLAGS_TYPES}${c.map((r, i) => regXml(r, i)).join('')}</feature>` +
    `<feature name="org.gnu.gdb.i386.sse">${VEC_TYPES}${s.map((r, i) => regXml(r, c.length + i)).join('')}</feature>` +
    '</target>'
  );
}
