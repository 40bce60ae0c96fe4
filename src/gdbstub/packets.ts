/**
 * GDB remote serial protocol framing: `$payload#cs` packets with a mod-256
 * checksum, `+`/`-` acknowledgements, `}` escapes, and the out-of-band
 * Ctrl-C (0x03) that asks a running target to stop. Malformed input is
 * dropped (a bad checksum gets `-`, so gdb retransmits).
 */

/** A packet larger than this is not gdb's: drop it rather than buffer without end. */
const MAX_PACKET = 64 * 1024;

export type Incoming = { kind: 'packet'; payload: string } | { kind: 'interrupt' };

export function checksum(text: string): number {
  let sum = 0;
  for (let i = 0; i < text.length; i++) sum = (sum + text.charCodeAt(i)) & 0xff;
  return sum;
}

/** Frames a reply, escaping the characters the protocol reserves. */
export function frame(payload: string): string {
  const escaped = payload.replace(/[#$}*]/g, (c) => '}' + String.fromCharCode(c.charCodeAt(0) ^ 0x20));
  return `$${escaped}#${checksum(escaped).toString(16).padStart(2, '0')}`;
}

export class PacketReader {
  private state: 'idle' | 'body' | 'sum1' | 'sum2' = 'idle';
  private body = '';
  private sum = '';

  constructor(private readonly ack: (ok: boolean) => void) {}

  *feed(data: Uint8Array): Generator<Incoming> {
    for (const b of data) {
      const ch = String.fromCharCode(b);
      switch (this.state) {
        case 'idle':
          if (b === 0x03) yield { kind: 'interrupt' };
          else if (ch === '$') {
            this.state = 'body';
            this.body = '';
          }
          break;
        case 'body':
          // A '$' inside a packet means the earlier one was cut short: start over (gdb retransmits what we lost).
          if (ch === '$') this.body = '';
          else if (ch === '#') this.state = 'sum1';
          else if (this.body.length < MAX_PACKET) this.body += ch;
          else this.state = 'idle';
          break;
        case 'sum1':
          this.sum = ch;
          this.state = 'sum2';
          break;
        case 'sum2': {
          this.state = 'idle';
          const ok = parseInt(this.sum + ch, 16) === checksum(this.body);
          this.ack(ok);
          if (ok) yield { kind: 'packet', payload: unescape(this.body) };
          break;
        }
      }
    }
  }
}

function unescape(body: string): string {
  return body.replace(/\}([\s\S])/g, (_, c: string) => String.fromCharCode(c.charCodeAt(0) ^ 0x20));
}
