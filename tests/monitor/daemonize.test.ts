/**
 * -daemonize as a script uses it: the command returns 0 once the QMP
 * socket listens (connectable at once, no retry), the daemon writes its
 * -pidfile, answers query-name with -name, and goes away on quit. A bad
 * command line still fails in the foreground with one line and status 1.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTsvm } from '../helpers/tsvm-process.js';
import { buildGuests, guestPath } from '../kvm/harness.js';
import { QmpClient } from './qmp-client.js';
import { scratchDir } from '../helpers/scratch.js';

beforeAll(() => buildGuests());

describe('-daemonize', () => {
  it('returns once the QMP socket listens; the daemon serves it and quits', async () => {
    const dir = scratchDir('tsvm-daemon-');
    const socket = join(dir, 'qmp.sock');
    const pidfile = join(dir, 'tsvm.pid');
    const r = await runTsvm(['-accel', 'tcg', '-kernel', guestPath('idle'), '-display', 'none', '-serial', 'null', '-monitor', 'none',
      '-daemonize', '-pidfile', pidfile, '-name', 'daemon-test', '-qmp', `unix:${socket},server=on,wait=off`], 30_000);
    expect(r).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(existsSync(socket)).toBe(true);
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    const qmp = await QmpClient.connect(socket, 0);
    await qmp.greeting();
    await qmp.execute('qmp_capabilities');
    expect(await qmp.execute('query-name')).toEqual({ return: { name: 'daemon-test' } });
    await qmp.execute('quit');
    for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((res) => setTimeout(res, 100));
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(pidfile)).toBe(false);
  });

  it('reports a start-up failure in the foreground', async () => {
    const r = await runTsvm(['-display', 'none', '-daemonize', '-kernel', '/nonexistent/kernel']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^tsvm: -kernel \/nonexistent\/kernel: .*\n$/);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
