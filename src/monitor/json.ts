/**
 * JSON as QMP speaks it: QEMU's spacing on output (`{"return": {}}`, or
 * 4-space indentation with -qmp-pretty), and a splitter that cuts a byte
 * stream into top-level JSON texts without needing newlines between them.
 */

export function toQmpJson(value: unknown, pretty = false, indent = ''): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  const inner = indent + '    ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((v) => toQmpJson(v, pretty, inner));
    return pretty ? `[\n${items.map((i) => inner + i).join(',\n')}\n${indent}]` : `[${items.join(', ')}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '{}';
  const items = entries.map(([k, v]) => `${JSON.stringify(k)}: ${toQmpJson(v, pretty, inner)}`);
  return pretty ? `{\n${items.map((i) => inner + i).join(',\n')}\n${indent}}` : `{${items.join(', ')}}`;
}

/** Input beyond which an unfinished JSON text is dropped as an error (QEMU caps its token stream too). */
const MAX_TEXT = 1 << 20;

export type JsonPiece = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * Feeds bytes, yields complete texts. Outside any object or array, a run of
 * non-JSON characters up to a newline is one bad text (QEMU answers each
 * with an error and carries on); a newline inside a string, or a text past
 * MAX_TEXT, ends the broken text there, so a confused client gets back in
 * step at its next line.
 */
export class JsonSplitter {
  private text = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private discarding = false;

  *feed(chunk: string): Generator<JsonPiece> {
    for (const ch of chunk) {
      if (this.discarding) {
        this.discarding = ch !== '\n';
        continue;
      }
      if (this.depth === 0 && !this.inString && this.text === '' && /\s/.test(ch)) continue;
      this.text += ch;
      if (this.text.length > MAX_TEXT) {
        // Drop the rest of the oversized text up to the next newline, then start clean.
        this.reset();
        this.discarding = ch !== '\n';
        yield { ok: false, error: 'JSON parse error, too large' };
        continue;
      }
      if (this.inString && ch === '\n') {
        // JSON strings cannot hold a raw newline: the text is broken; the newline resynchronises.
        yield this.parse();
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (ch === '\\') this.escaped = true;
        else if (ch === '"') this.inString = false;
        continue;
      }
      if (ch === '"') this.inString = true;
      else if (ch === '{' || ch === '[') this.depth++;
      else if (ch === '}' || ch === ']') this.depth--;
      const closedValue = this.depth === 0 && (ch === '}' || ch === ']');
      const badLine = this.depth < 0 || (this.depth === 0 && !closedValue && ch === '\n');
      if (closedValue) yield this.parse();
      else if (badLine) yield this.parse();
    }
  }

  private parse(): JsonPiece {
    const text = this.text.trim();
    this.reset();
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch {
      return { ok: false, error: `JSON parse error, invalid keyword '${text.slice(0, 32)}'` };
    }
  }

  private reset(): void {
    this.text = '';
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
  }
}
