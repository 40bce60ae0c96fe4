/**
 * A QMP server on a chardev (-qmp, -mon mode=control): the greeting when a
 * client connects, capability negotiation (only `qmp_capabilities` is
 * accepted first), `execute` with `arguments` and `id`, `return` / `error`
 * with QEMU's classes, and events once negotiated. Every line ends in CRLF
 * as QEMU's monitor writes it. A client sending garbage gets an error per
 * text and the guest never notices.
 */
import type { CharFrontend, Chardev, ChardevEvent } from '../chardev/chardev.js';
import type { PcEvent } from '../machine/pc.js';
import { MonitorError } from './control.js';
import { JsonSplitter, toQmpJson } from './json.js';
import { checkArguments, QMP_COMMANDS, type QmpContext } from './qmp-commands.js';
import { versionInfo } from './info.js';

export interface QmpOptions {
  pretty: boolean;
  /** Greet now (stdio, an already connected socket) or on 'opened'. */
  openNow: boolean;
}

export class Qmp implements CharFrontend {
  private splitter = new JsonSplitter();
  private negotiated = false;
  private connected = false;
  /** Commands run in order; a slow one (human-monitor-command) holds the rest. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly chr: Chardev,
    private readonly ctx: QmpContext,
    private readonly opts: QmpOptions,
  ) {
    chr.attach(this);
    ctx.pc.onEvent((e) => this.sendEvent(e));
    if (opts.openNow) this.open();
  }

  canReceive(): number {
    return 64 * 1024;
  }

  receive(data: Uint8Array): void {
    for (const piece of this.splitter.feed(Buffer.from(data).toString('utf8'))) {
      // Errors queue behind the commands before them, so replies keep the input's order.
      this.queue = this.queue.then(() =>
        piece.ok ? this.handle(piece.value) : this.send({ error: { class: 'GenericError', desc: piece.error } }),
      );
    }
  }

  event(event: ChardevEvent): void {
    if (event === 'opened') this.open();
    else if (event === 'closed') {
      this.connected = false;
      this.negotiated = false;
      this.splitter = new JsonSplitter();
    }
  }

  private open(): void {
    this.connected = true;
    this.negotiated = false;
    this.send({ QMP: { version: versionInfo(), capabilities: ['oob'] } });
  }

  private async handle(msg: unknown): Promise<void> {
    const id = isObject(msg) ? msg['id'] : undefined;
    try {
      const ret = await this.dispatch(msg);
      this.send(id === undefined ? { return: ret } : { return: ret, id });
    } catch (e) {
      const err = e instanceof MonitorError ? e : new MonitorError(e instanceof Error ? e.message : String(e));
      const error = { class: err.errorClass, desc: err.message };
      this.send(id === undefined ? { error } : { error, id });
    }
  }

  private async dispatch(msg: unknown): Promise<unknown> {
    if (!isObject(msg)) throw new MonitorError('QMP input must be a JSON object');
    for (const key of Object.keys(msg)) {
      if (!['execute', 'exec-oob', 'arguments', 'id'].includes(key)) throw new MonitorError(`QMP input member '${key}' is unexpected`);
    }
    const name = msg['execute'];
    if (name === undefined) throw new MonitorError("QMP input lacks member 'execute'");
    if (typeof name !== 'string') throw new MonitorError("QMP input member 'execute' must be a string");
    if (!this.negotiated && name !== 'qmp_capabilities') {
      throw new MonitorError("Expecting capabilities negotiation with 'qmp_capabilities'", 'CommandNotFound');
    }
    if (this.negotiated && name === 'qmp_capabilities') {
      throw new MonitorError('Capabilities negotiation is already complete, command ignored', 'CommandNotFound');
    }
    const cmd = Object.hasOwn(QMP_COMMANDS, name) ? QMP_COMMANDS[name] : undefined;
    if (!cmd) throw new MonitorError(`The command ${name} has not been found`, 'CommandNotFound');
    const args = checkArguments(cmd, msg['arguments']);
    const ret = await cmd.run(this.ctx, args);
    if (name === 'qmp_capabilities') this.negotiated = true;
    return ret;
  }

  private sendEvent(e: PcEvent): void {
    if (!this.connected || !this.negotiated) return;
    const ms = Date.now();
    const { event, ...data } = e;
    const timestamp = { seconds: Math.floor(ms / 1000), microseconds: (ms % 1000) * 1000 };
    this.send(Object.keys(data).length ? { timestamp, event, data } : { timestamp, event });
  }

  private send(obj: object): void {
    this.chr.write(Buffer.from(toQmpJson(obj, this.opts.pretty) + '\r\n', 'utf8'));
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
