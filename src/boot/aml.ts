/**
 * A small encoder for the ACPI Machine Language objects tsvm's DSDT needs
 * (ACPI 6.5, chapter 20 "ACPI Machine Language (AML) Specification"). Each
 * function returns the encoded bytes of one term; compose them by nesting.
 */
import { concat } from '../bytes.js';

export type Aml = Uint8Array;

const ZERO_OP = 0x00;
const ONE_OP = 0x01;
const NAME_OP = 0x08;
const BYTE_PREFIX = 0x0a;
const WORD_PREFIX = 0x0b;
const DWORD_PREFIX = 0x0c;
const STRING_PREFIX = 0x0d;
const QWORD_PREFIX = 0x0e;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const PACKAGE_OP = 0x12;
const METHOD_OP = 0x14;
const RETURN_OP = 0xa4;
const EXT_OP_PREFIX = 0x5b;
const DEVICE_OP = 0x82;
const ROOT_CHAR = 0x5c; // '\'
const PARENT_PREFIX_CHAR = 0x5e; // '^'
const DUAL_NAME_PREFIX = 0x2e;
const MULTI_NAME_PREFIX = 0x2f;
const NULL_NAME = 0x00;
// Resource descriptor tags (ACPI 6.5, 6.4).
const END_TAG = 0x79; // small item 0xF, length 1
const MEMORY32_FIXED = 0x86; // large item 0x06

/** DefName := NameOp NameString DataRefObject */
export function amlName(name: string, value: Aml): Aml {
  return concat([Uint8Array.of(NAME_OP), amlNameString(name), value]);
}

/** DefScope := ScopeOp PkgLength NameString TermList */
export function amlScope(name: string, terms: readonly Aml[]): Aml {
  return withPkgLength([SCOPE_OP], [amlNameString(name), ...terms]);
}

/** DefDevice := DeviceOp PkgLength NameString TermList */
export function amlDevice(name: string, terms: readonly Aml[]): Aml {
  return withPkgLength([EXT_OP_PREFIX, DEVICE_OP], [amlNameString(name), ...terms]);
}

/** DefMethod := MethodOp PkgLength NameString MethodFlags TermList (not serialized, sync level 0) */
export function amlMethod(name: string, argCount: number, terms: readonly Aml[]): Aml {
  if (argCount < 0 || argCount > 7) throw new Error(`AML method with ${argCount} arguments`);
  return withPkgLength([METHOD_OP], [amlNameString(name), Uint8Array.of(argCount), ...terms]);
}

/** DefReturn := ReturnOp ArgObject */
export function amlReturn(value: Aml): Aml {
  return concat([Uint8Array.of(RETURN_OP), value]);
}

/** DefBuffer := BufferOp PkgLength BufferSize ByteList */
export function amlBuffer(bytes: Uint8Array): Aml {
  return withPkgLength([BUFFER_OP], [amlInteger(bytes.length), bytes]);
}

/**
 * ASL's ResourceTemplate (): a buffer of resource descriptors closed by
 * the End Tag (ACPI 6.5, 6.4.2.9), its checksum 0 ("treat as correct").
 */
export function amlResourceTemplate(descriptors: readonly Uint8Array[]): Aml {
  return amlBuffer(concat([...descriptors, Uint8Array.of(END_TAG, 0)]));
}

/** The 32-Bit Fixed Memory Range Descriptor (ACPI 6.5, 6.4.3.4): ASL's Memory32Fixed (). */
export function amlMemory32Fixed(writable: boolean, base: number, length: number): Uint8Array {
  const d = new DataView(new ArrayBuffer(12));
  d.setUint8(0, MEMORY32_FIXED);
  d.setUint16(1, 9, true); // length of what follows
  d.setUint8(3, writable ? 1 : 0);
  d.setUint32(4, base, true);
  d.setUint32(8, length, true);
  return new Uint8Array(d.buffer);
}

/** DefPackage := PackageOp PkgLength NumElements PackageElementList */
export function amlPackage(elements: readonly Aml[]): Aml {
  if (elements.length > 255) throw new Error('AML package with more than 255 elements');
  return withPkgLength([PACKAGE_OP], [Uint8Array.of(elements.length), ...elements]);
}

/** The shortest ComputationalData encoding of a non-negative integer (QWord needs a revision 2 DSDT). */
export function amlInteger(value: number | bigint): Aml {
  const n = BigInt(value);
  if (n < 0n || n > 0xffff_ffff_ffff_ffffn) throw new Error(`AML integer out of range: ${value}`);
  if (n === 0n) return Uint8Array.of(ZERO_OP);
  if (n === 1n) return Uint8Array.of(ONE_OP);
  const [prefix, bytes] = n <= 0xffn ? [BYTE_PREFIX, 1] : n <= 0xffffn ? [WORD_PREFIX, 2] : n <= 0xffff_ffffn ? [DWORD_PREFIX, 4] : [QWORD_PREFIX, 8];
  const out = new Uint8Array(1 + bytes);
  out[0] = prefix;
  for (let i = 0; i < bytes; i++) out[1 + i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** String := StringPrefix AsciiCharList NullChar */
export function amlString(text: string): Aml {
  if (!/^[\x01-\x7f]*$/.test(text)) throw new Error(`AML string must be ASCII without NUL: ${JSON.stringify(text)}`);
  return concat([Uint8Array.of(STRING_PREFIX), new TextEncoder().encode(text), Uint8Array.of(0)]);
}

/**
 * A compressed EISA id such as "PNP0A03" as the DWord integer _HID expects:
 * three letters of 5 bits each ('A' = 1) and four hex digits, stored big-endian.
 */
export function amlEisaId(id: string): Aml {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new Error(`not an EISA id: ${id}`);
  const vendor = [0, 1, 2].reduce((v, i) => (v << 5) | (id.charCodeAt(i) - 0x40), 0);
  const product = parseInt(id.slice(3), 16);
  const bytes = [vendor >> 8, vendor & 0xff, product >> 8, product & 0xff];
  return amlInteger((bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0);
}

/**
 * NameString := RootChar NamePath | PrefixPath NamePath, with NameSegs of up
 * to 4 characters ('_'-padded) separated by '.': "\\_SB.PCI0", "_S5", "^FOO".
 */
export function amlNameString(path: string): Uint8Array {
  const prefix: number[] = [];
  let rest = path;
  if (rest.startsWith('\\')) {
    prefix.push(ROOT_CHAR);
    rest = rest.slice(1);
  } else {
    while (rest.startsWith('^')) {
      prefix.push(PARENT_PREFIX_CHAR);
      rest = rest.slice(1);
    }
  }
  const segs = rest === '' ? [] : rest.split('.').map((s) => nameSeg(s, path));
  if (segs.length > 255) throw new Error(`AML name path too long: ${path}`);
  const head = segs.length === 0 ? [NULL_NAME] : segs.length === 1 ? [] : segs.length === 2 ? [DUAL_NAME_PREFIX] : [MULTI_NAME_PREFIX, segs.length];
  return concat([Uint8Array.from([...prefix, ...head]), ...segs]);
}

/** NameSeg := LeadNameChar NameChar NameChar NameChar, padded with '_'. */
function nameSeg(seg: string, path: string): Uint8Array {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new Error(`invalid AML name segment '${seg}' in ${path}`);
  return new TextEncoder().encode(seg.padEnd(4, '_'));
}

/**
 * Opcode bytes, then PkgLength (which counts itself and what follows), then
 * the body. PkgLength is 1 byte up to 63, else a lead byte giving the count
 * of following bytes (bits 7-6) and the low nibble, then 8 bits per byte.
 */
function withPkgLength(opcode: readonly number[], body: readonly Uint8Array[]): Aml {
  const content = concat(body);
  let size = 1;
  while (size < 4 && content.length + size > [0x3f, 0xfff, 0xf_ffff][size - 1]!) size++;
  const total = content.length + size;
  if (total > 0xfff_ffff) throw new Error('AML object too large');
  const pkgLength =
    size === 1 ? [total] : [((size - 1) << 6) | (total & 0x0f), ...Array.from({ length: size - 1 }, (_, i) => (total >> (4 + 8 * i)) & 0xff)];
  return concat([Uint8Array.from(opcode), Uint8Array.from(pkgLength), content]);
}
