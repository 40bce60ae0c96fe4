/**
 * The stdio chardev in a real process: tsvm's chardev sources are compiled
 * (tests/helpers/compile.ts), and a tiny script drives them with stdin/stdout as a pipe
 * and, through script(1), as a pseudo-terminal.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSources } from '../helpers/compile.js';
import { requireTool } from '../helpers/tools.js';

let build: string;

beforeAll(() => {
  const compiled = compileSources(['src/chardev/create.ts'], ['src/chardev']);
  build = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvm-stdio-'));
  // The guest: echoes input upper-cased, quits on "q", then ends as argv[2] says.
  fs.writeFileSync(
    path.join(build, 'echo.mjs'),
    `
import { execSync } from 'node:child_process';
import { createChardev } from '${pathToFileURL(path.join(compiled, 'src/chardev/create.js')).href}';
const [how, signal] = process.argv.slice(2);
const chr = await createChardev({ id: 's', backend: { kind: 'stdio', signal: signal === 'on' }, mux: false }, { requestQuit() {} });
if (process.stdin.isTTY) chr.write(new TextEncoder().encode('raw:' + execSync('stty -a', { stdio: ['inherit', 'pipe', 'ignore'] }).toString().includes('-icanon') + '\\n'));
process.on('SIGINT', () => { chr.write(new TextEncoder().encode('[SIGINT]')); chr.close().then(() => process.exit(130)); });
chr.attach({
  canReceive: () => 64,
  receive: async (data) => {
    const text = Buffer.from(data).toString('latin1');
    chr.write(new TextEncoder().encode(text.toUpperCase()));
    if (!text.includes('q')) return;
    if (how === 'big') chr.write(new Uint8Array(1 << 20).fill(0x2e));
    if (how === 'crash') throw new Error('guest crashed');
    if (how === 'sigterm') process.kill(process.pid, 'SIGTERM');
    if (how === 'exit') { await chr.close(); process.exit(0); }
  },
});
`,
  );
}, 120_000);

afterAll(() => fs.rmSync(build, { recursive: true, force: true }));

requireTool('script', 'bsdutils');

describe('stdio chardev without a terminal', () => {
  it('echoes piped input and loses no output at exit', () => {
    const r = spawnSync('node', [path.join(build, 'echo.mjs'), 'big'], { input: 'hello q', encoding: 'latin1' });
    expect(r.stdout.startsWith('HELLO Q')).toBe(true);
    expect(r.stdout.length).toBe('HELLO Q'.length + (1 << 20));
  });

  it('passes Ctrl-C through as a byte when stdin is not a terminal', () => {
    const r = spawnSync('node', [path.join(build, 'echo.mjs'), 'exit', 'on'], { input: 'a\x03bq', encoding: 'latin1' });
    expect(r.stdout).toBe('A\x03BQ');
    expect(r.status).toBe(0);
  });
});

/**
 * Runs the echo guest under script(1) in a fresh pseudo-terminal, then `stty -a` in that same
 * terminal. The input is typed once the guest has reported its terminal mode, as a user would.
 */
function underPty(how: string, input: string, signal = 'off'): Promise<string> {
  const cmd = `node ${path.join(build, 'echo.mjs')} ${how} ${signal}; stty -a | tr '\\n' ' '; echo ENDSTTY`;
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let typed = false;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString('latin1');
    if (!typed && out.includes('raw:')) {
      typed = true;
      child.stdin.write(input);
    }
  });
  return new Promise((resolve) => child.on('close', () => resolve(out)));
}

describe('stdio chardev on a terminal', () => {
  for (const how of ['exit', 'crash', 'sigterm']) {
    it(`is raw while running and the terminal is restored after ${how}`, async () => {
      const out = await underPty(how, 'hi\nq');
      expect(out).toContain('raw:true');
      // Raw mode: no echo of the typed "hi", the bytes reached the guest as typed, and the
      // guest's "\n" came out as "\r\n" (output processing stays on, as QEMU keeps OPOST).
      expect(out).not.toContain('hi');
      expect(out).toContain('HI\r\nQ');
      const stty = out.slice(out.lastIndexOf('speed'));
      expect(stty).toMatch(/(^|\s)icanon(\s|$)/);
      expect(stty).toMatch(/(^|\s)echo(\s|$)/);
      expect(stty).toMatch(/(^|\s)isig(\s|$)/);
    });
  }

  it('with signal=on, Ctrl-C interrupts tsvm instead of reaching the guest', async () => {
    const out = await underPty('exit', 'ab\x03', 'on');
    expect(out).toContain('AB[SIGINT]');
    expect(out.slice(out.lastIndexOf('speed'))).toMatch(/(^|\s)icanon(\s|$)/);
  });

  it('with signal=off, Ctrl-C goes to the guest', async () => {
    const out = await underPty('exit', 'a\x03q', 'off');
    expect(out).toContain('A\x03Q');
  });
});
