/**
 * QEMU's suboption lists: `name,key=val,key=val`.
 *
 * The grammar follows util/qemu-option.c (QemuOpts):
 * - elements are separated by `,`; inside a value `,,` stands for one comma;
 * - the first element may omit its key (`-m 1G` is `-m size=1G`) when the
 *   option has an implied key;
 * - a bare `key` means `key=on` and a bare `nokey` means `key=off` (QEMU
 *   deprecates these short forms with a warning; tsvm accepts them quietly,
 *   because `server,nowait` is in every old how-to);
 * - a bare `help` or `?` asks for help;
 * - a key given twice keeps the last value.
 * Options that QEMU parses with util/keyval.c instead (-machine) refuse the bare
 * short forms, as keyval does.
 */
import { CliError, OptionError } from './errors.js';

export interface SuboptionStyle {
  /** The key the first element gets when it has no `=`. */
  implied?: string;
  /**
   * keyval grammar (QEMU's QAPI-typed options): no bare `key` / `nokey`
   * flags, and an unknown key "is unexpected" rather than "Invalid".
   */
  keyval?: boolean;
  /**
   * How parameter names read in messages, and whether messages about the
   * keys and values carry the option's location: QEMU reports -smp/-boot
   * problems late, as properties of the machine
   * (`Parameter 'smp.cpus' expects integer`, no location). Syntax errors
   * are always located.
   */
  paramPrefix?: string;
  unlocated?: boolean;
}

interface Entry {
  key: string;
  value: string;
}

/** Reads a value up to the next lone comma; `,,` is an escaped comma. */
function readValue(text: string, start: number): [value: string, end: number] {
  let value = '';
  let i = start;
  while (i < text.length) {
    if (text[i] === ',') {
      if (text[i + 1] !== ',') break;
      i++;
    }
    value += text[i];
    i++;
  }
  return [value, i];
}

function splitSuboptions(text: string, style: SuboptionStyle, fail: (msg: string) => never): Entry[] {
  const entries: Entry[] = [];
  let i = 0;
  while (i < text.length) {
    const nameEnd = /[=,]|$/.exec(text.slice(i))!.index + i;
    if (text[nameEnd] === '=') {
      const [value, end] = readValue(text, nameEnd + 1);
      entries.push({ key: text.slice(i, nameEnd), value });
      i = end;
    } else if (i === 0 && style.implied) {
      const [value, end] = readValue(text, 0);
      entries.push({ key: style.implied, value });
      i = end;
    } else {
      entries.push(bareFlag(text.slice(i, nameEnd), style, fail));
      i = nameEnd;
    }
    i++; // the comma
  }
  return entries;
}

function bareFlag(name: string, style: SuboptionStyle, fail: (msg: string) => never): Entry {
  if (isHelp(name)) return { key: 'help', value: 'on' };
  if (style.keyval) fail(`Expected '=' after parameter '${name}'`);
  if (name.startsWith('no')) return { key: name.slice(2), value: 'off' };
  return { key: name, value: 'on' };
}

export function isHelp(word: string): boolean {
  return word === 'help' || word === '?';
}

/** QEMU's rule for ids (id_wellformed). */
export function checkId(id: string): void {
  // QEMU adds a second line explaining identifiers; tsvm keeps one line.
  if (!/^[A-Za-z][A-Za-z0-9._-]*$/.test(id)) throw new OptionError(`Parameter 'id' expects an identifier`);
}

const TRUE_WORDS = ['on', 'yes', 'true', 'y'];
const FALSE_WORDS = ['off', 'no', 'false', 'n'];

const SIZE_UNITS: Record<string, bigint> = {
  b: 1n,
  k: 1n << 10n,
  m: 1n << 20n,
  g: 1n << 30n,
  t: 1n << 40n,
  p: 1n << 50n,
  e: 1n << 60n,
};

/**
 * qemu_strtosz (for tsvm's options and tsvm-img's sizes alike): decimal (or
 * 0x hex) after optional white space, with an optional fraction and suffix
 * k/M/G/T/P/E (any case, binary multiples). A fraction needs a decimal
 * number and a suffix other than B, and is rounded to the nearest byte, as in
 * QEMU. Returns undefined for text that is not a size.
 */
export function parseSize(text: string, defaultUnit: 'b' | 'm' = 'b'): number | undefined {
  const m = /^\s*(0x[0-9a-f]+|\d+)(\.\d+)?([bkmgtpe])?$/i.exec(text);
  if (!m) return undefined;
  const [, whole, fraction, suffix] = m;
  const unit = SIZE_UNITS[(suffix ?? defaultUnit).toLowerCase()]!;
  if (fraction && (!suffix || unit === 1n || whole!.startsWith('0x'))) return undefined;
  let bytes = BigInt(whole!) * unit;
  if (fraction) bytes += BigInt(Math.round(Number(fraction) * Number(unit)));
  if (bytes >= 1n << 64n) return undefined;
  return Number(bytes);
}

/** qemu_strtou64 with base 0: decimal, 0x hex or leading-0 octal. */
export function parseInteger(text: string): number | undefined {
  if (/^0x[0-9a-f]+$/i.test(text)) return Number.parseInt(text.slice(2), 16);
  if (/^0[0-7]+$/.test(text)) return Number.parseInt(text, 8);
  if (/^(0|[1-9]\d*)$/.test(text)) return Number.parseInt(text, 10);
  return undefined;
}

/** One parsed suboption list with typed, QEMU-worded accessors. */
export class SubOptions {
  readonly help: boolean;
  private readonly values = new Map<string, string>();

  constructor(
    readonly text: string,
    private readonly style: SuboptionStyle = {},
  ) {
    const syntaxError = (msg: string): never => {
      throw new OptionError(msg);
    };
    for (const { key, value } of splitSuboptions(text, style, syntaxError)) {
      this.values.delete(key); // keep insertion order = last occurrence
      this.values.set(key, value);
    }
    this.help = this.values.has('help');
    this.values.delete('help');
  }

  fail(message: string): never {
    throw this.style.unlocated ? new CliError(message) : new OptionError(message);
  }

  private param(key: string): string {
    return `${this.style.paramPrefix ?? ''}${key}`;
  }

  keys(): string[] {
    return [...this.values.keys()];
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  /**
   * Refuses any key outside `known`; keys QEMU has but tsvm does not are
   * refused by name rather than as invalid.
   */
  allowOnly(known: readonly string[], notYet: readonly string[] = []): void {
    for (const key of this.values.keys()) {
      if (known.includes(key)) continue;
      if (notYet.includes(key)) this.fail(`parameter '${key}' not supported by tsvm yet`);
      this.fail(this.style.keyval ? `Parameter '${this.param(key)}' is unexpected` : `Invalid parameter '${key}'`);
    }
  }

  string(key: string): string | undefined {
    return this.values.get(key);
  }

  /** `shownAs`: the name QEMU's message uses when it renames the key first. */
  bool(key: string, shownAs = key): boolean | undefined {
    const value = this.values.get(key);
    if (value === undefined) return undefined;
    if (TRUE_WORDS.includes(value)) return true;
    if (FALSE_WORDS.includes(value)) return false;
    return this.fail(`Parameter '${this.param(shownAs)}' expects 'on' or 'off'`);
  }

  /** `noun` is QEMU's word for the type in its message: 'a number' (QemuOpts), 'integer' (qdev, keyval). */
  integer(key: string, noun = 'a number'): number | undefined {
    const value = this.values.get(key);
    if (value === undefined) return undefined;
    return parseInteger(value) ?? this.fail(`Parameter '${this.param(key)}' expects ${noun}`);
  }

  size(key: string, defaultUnit: 'b' | 'm' = 'b'): number | undefined {
    const value = this.values.get(key);
    if (value === undefined) return undefined;
    return (
      parseSize(value, defaultUnit) ??
      // QEMU adds two lines about suffixes; tsvm keeps its errors to one line.
      this.fail(`Parameter '${this.param(key)}' expects a non-negative number below 2^64`)
    );
  }

  choice<T extends string>(key: string, allowed: readonly T[]): T | undefined {
    const value = this.values.get(key);
    if (value === undefined) return undefined;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    return this.fail(`Parameter '${this.param(key)}' does not accept value '${value}'`);
  }
}
