/**
 * Builds a chardev from its -chardev / -serial / -monitor configuration.
 */
import type { ChardevConfig } from '../config.js';
import type { Chardev } from './chardev.js';
import { FileChardev } from './file.js';
import { LoggedChardev } from './logfile.js';
import { MuxChardev, type MuxHooks } from './mux.js';
import { NullChardev } from './null.js';
import { PipeChardev } from './pipe.js';
import { SocketChardev } from './socket.js';
import { StdioChardev } from './stdio.js';
import { VcChardev } from './vc.js';

export interface ChardevHooks extends MuxHooks {
  /** Where notices such as "waiting for connection" go (default: stderr). */
  notice?(line: string): void;
}

/**
 * Opens the backend. With `mux: true` the result is a MuxChardev: the
 * chardev itself is frontend 0 and `frontend(n)` gives the others. A
 * socket server with wait=on resolves only once a client has connected.
 * Failures throw an Error with QEMU's wording for main to prefix.
 */
export async function createChardev(cfg: ChardevConfig, hooks: ChardevHooks): Promise<Chardev> {
  let chr = await openBackend(cfg, hooks);
  if (cfg.logfile !== undefined) chr = new LoggedChardev(chr, cfg.logfile);
  return cfg.mux ? new MuxChardev(chr, hooks) : chr;
}

async function openBackend(cfg: ChardevConfig, hooks: ChardevHooks): Promise<Chardev> {
  const b = cfg.backend;
  switch (b.kind) {
    case 'null':
      return new NullChardev(cfg.id);
    case 'vc':
      return new VcChardev(cfg.id);
    case 'stdio':
      return new StdioChardev(cfg.id, b.signal);
    case 'file':
      return new FileChardev(cfg.id, b.path, b.append);
    case 'pipe':
      return new PipeChardev(cfg.id, b.path);
    case 'socket':
      return SocketChardev.open(cfg.id, b, hooks.notice ?? ((line) => process.stderr.write(`${line}\n`)));
  }
}
