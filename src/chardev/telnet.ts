/**
 * The telnet side of `-chardev socket,telnet=on` (RFC 854/857/858/856): the
 * options QEMU's server offers when a client connects, and the removal of
 * telnet commands from the client's byte stream.
 */

const IAC = 0xff;
const WILL = 0xfb;
const DO = 0xfd;
const SB = 0xfa;
const SE = 0xf0;
const BREAK = 0xf3;

/** The server echoes and suppresses go-ahead, so the client sends raw characters; both sides go binary. */
export const TELNET_GREETING = Uint8Array.from([
  IAC, WILL, 0x01, // ECHO
  IAC, WILL, 0x03, // SUPPRESS GO AHEAD
  IAC, WILL, 0x00, // BINARY
  IAC, DO, 0x00, // BINARY
]);

type State = 'data' | 'iac' | 'option' | 'sub' | 'sub-iac';

/** Strips telnet commands from client input, keeping data bytes (IAC IAC is a literal FFh). */
export class TelnetInputFilter {
  private state: State = 'data';

  /** Returns the data bytes and whether a BREAK command was seen. */
  filter(input: Uint8Array): { data: Uint8Array; breaks: number } {
    const out = new Uint8Array(input.length);
    let n = 0;
    let breaks = 0;
    for (const b of input) {
      switch (this.state) {
        case 'data':
          if (b === IAC) this.state = 'iac';
          else out[n++] = b;
          break;
        case 'iac':
          this.state = 'data';
          if (b === IAC) out[n++] = IAC;
          else if (b >= WILL) this.state = 'option'; // WILL/WONT/DO/DONT take an option byte
          else if (b === SB) this.state = 'sub';
          else if (b === BREAK) breaks++;
          break;
        case 'option':
          this.state = 'data';
          break;
        case 'sub':
          if (b === IAC) this.state = 'sub-iac';
          break;
        case 'sub-iac':
          this.state = b === SE ? 'data' : 'sub';
          break;
      }
    }
    return { data: out.subarray(0, n), breaks };
  }
}
