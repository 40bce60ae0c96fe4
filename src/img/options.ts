/** `-o key=value,key=value` (a ',,' is a literal comma, as in QEMU's option syntax). */
import { ImgError } from './errors.js';

export function parseCreateOptions(texts: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const text of texts) {
    for (const part of text.replace(/,,/g, '\0').split(',')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      if (eq < 0) throw new ImgError(`Invalid parameter '${part.replace(/\0/g, ',')}'`);
      out.set(part.slice(0, eq), part.slice(eq + 1).replace(/\0/g, ','));
    }
  }
  return out;
}

export function onOff(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'on' || value === 'true') return true;
  if (value === 'off' || value === 'false') return false;
  throw new ImgError(`Parameter '${name}' expects 'on' or 'off'`);
}
