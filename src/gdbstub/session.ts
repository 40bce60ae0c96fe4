/**
 * One gdb connection speaking the remote serial protocol: registers and
 * memory through the accelerator-neutral Vcpu view, breakpoints,
 * watchpoints and single-step through a DebugBackend, run control through
 * the machine's stop/resume (so HMP/QMP see `debug`/`running` and get
 * STOP/RESUME events). One thread (the boot CPU) is reported.
 */
import type { CharFrontend, Chardev, ChardevEvent } from '../chardev/chardev.js';
import type { Pc } from '../machine/pc.js';
import type { CpuState } from '../accel/cpu-state.js';
import { TcgAccelerator } from '../accel/tcg/tcg.js';
import { readVirtual, writeVirtual } from '../monitor/guest-memory.js';
import type { DebugBackend, DebugPoint, PointKind, StopCause } from './debug-backend.js';
import { frame, PacketReader } from './packets.js';
import { readAll, readOne, writeAll, writeOne } from './registers.js';
import { targetXml, type Arch } from './target-description.js';
import { TcgDebug } from './tcg-debug.js';
import { KvmDebug } from './kvm-debug.js';

/** Runs one HMP command line and resolves with its output (gdb's `monitor` command). */
export type MonitorCommand = (line: string) => Promise<string>;

const POINT_KINDS: PointKind[] = ['sw', 'hw', 'write', 'read', 'access'];
/** gdb's signal numbers in stop replies. */
const SIGINT = '02';
const SIGTRAP = '05';

export class GdbSession implements CharFrontend {
  private reader = new PacketReader((ok) => this.write(ok ? '+' : '-'));
  private readonly arch: Arch;
  private points: DebugPoint[] = [];
  private backend: DebugBackend | undefined;
  private connected = false;
  /** gdb sent c/s/vCont and waits for a stop reply. */
  private running = false;
  private lastStop = `T${SIGTRAP}thread:01;`;

  constructor(
    private readonly chr: Chardev,
    private readonly pc: Pc,
    private readonly monitorCommand: MonitorCommand,
  ) {
    this.arch = pc.accel instanceof TcgAccelerator ? 'i386' : 'x86-64';
    chr.attach(this);
  }

  canReceive(): number {
    return 64 * 1024;
  }

  receive(data: Uint8Array): void {
    for (const msg of this.reader.feed(data)) {
      if (msg.kind === 'interrupt') this.interrupt();
      else this.reply(this.handleSafely(msg.payload));
    }
  }

  event(event: ChardevEvent): void {
    if (event === 'opened') this.connect();
    else if (event === 'closed') this.disconnect();
  }

  /** tsvm is ending: a gdb waiting for a stop hears the exit status (the W packet, as QEMU's gdb_exit sends). */
  targetExited(status: number): void {
    if (this.connected && this.running) this.reply(`W${(status & 0xff).toString(16).padStart(2, '0')}`);
    this.running = false;
  }

  /** Removes breakpoints and hooks (gdbserver none, tsvm exit). */
  release(): void {
    this.points = [];
    this.backend?.release();
    this.backend = undefined;
  }

  private connect(): void {
    this.connected = true;
    this.running = false;
    this.reader = new PacketReader((ok) => this.write(ok ? '+' : '-'));
    this.lastStop = `T${SIGTRAP}thread:01;`;
    // QEMU stops the VM when a debugger connects.
    this.pc.stop('debug');
  }

  /** gdb left without detaching: its breakpoints go with it; the VM stays as it is (QEMU's behaviour). */
  private disconnect(): void {
    this.connected = false;
    this.running = false;
    this.release();
  }

  private vcpu() {
    return this.pc.accel.vcpus[0]!;
  }

  private debugBackend(): DebugBackend {
    this.backend ??= this.pc.accel instanceof TcgAccelerator
      ? new TcgDebug(this.pc.accel, (cause) => this.stopped(cause))
      : new KvmDebug(this.pc.accel, (cause) => this.stopped(cause));
    return this.backend;
  }

  private stopped(cause: StopCause): void {
    this.pc.stop('debug');
    const watch = cause.kind === 'watch' ? `${cause.access === 'write' ? 'watch' : cause.access === 'read' ? 'rwatch' : 'awatch'}:${cause.addr.toString(16)};` : '';
    this.reportStop(`T${SIGTRAP}${watch}thread:01;`);
  }

  private interrupt(): void {
    if (!this.running) return;
    this.pc.stop('paused');
    this.reportStop(`T${SIGINT}thread:01;`);
  }

  private reportStop(packet: string): void {
    this.lastStop = packet;
    if (!this.running || !this.connected) return;
    this.running = false;
    this.reply(packet);
  }

  private resume(step: boolean): undefined {
    this.debugBackend().setSingleStep(step);
    this.running = true;
    this.pc.resume();
    return undefined;
  }

  /** A malformed packet (bad hex, missing fields) gets an error reply; it never reaches the machine. */
  private handleSafely(p: string): string | undefined {
    try {
      return this.handle(p);
    } catch {
      return 'E22';
    }
  }

  /** The reply to one packet, or undefined when the reply comes later (c, s: the stop reply). */
  private handle(p: string): string | undefined {
    switch (p[0]) {
      case '?':
        return this.lastStop;
      case 'g':
        return readAll(this.vcpu().getState(), this.arch);
      case 'G':
        return this.updateState((st) => writeAll(st, this.arch, p.slice(1)));
      case 'p':
        return readOne(this.vcpu().getState(), this.arch, parseInt(p.slice(1), 16)) ?? 'E14';
      case 'P': {
        const [num, value] = p.slice(1).split('=');
        return this.updateState((st) => writeOne(st, this.arch, parseInt(num!, 16), value ?? ''));
      }
      case 'm':
        return this.readMemory(p.slice(1));
      case 'M':
        return this.writeMemory(p.slice(1));
      case 'c':
        return this.resumeAt(p.slice(1), false);
      case 's':
        return this.resumeAt(p.slice(1), true);
      case 'Z':
      case 'z':
        return this.changePoint(p[0] === 'Z', p.slice(1));
      case 'D':
        this.release();
        this.running = false;
        this.pc.resume();
        return 'OK';
      case 'k':
        this.pc.bus.lifecycle.request({ kind: 'quit', cause: 'host-ui' });
        return undefined;
      case 'H':
      case 'T':
        return 'OK';
      case 'v':
        return this.handleV(p);
      case 'q':
        return this.handleQuery(p);
      default:
        return '';
    }
  }

  /** qRcmd,HEX: gdb's `monitor info registers` runs as an HMP command; its output goes back as O packets, then OK. */
  private remoteCommand(hex: string): undefined {
    const line = Buffer.from(hex, 'hex').toString('latin1');
    void this.monitorCommand(line).then((out) => {
      if (out !== '') this.reply('O' + Buffer.from(out, 'latin1').toString('hex'));
      this.reply('OK');
    });
    return undefined;
  }

  private handleQuery(p: string): string | undefined {
    if (p.startsWith('qRcmd,')) return this.remoteCommand(p.slice('qRcmd,'.length));
    if (p.startsWith('qSupported')) return 'PacketSize=4000;qXfer:features:read+;vContSupported+';
    if (p.startsWith('qXfer:features:read:')) return this.readFeatures(p.slice('qXfer:features:read:'.length));
    if (p === 'qAttached') return '1';
    if (p === 'qC') return 'QC01';
    if (p === 'qfThreadInfo') return 'm01';
    if (p === 'qsThreadInfo') return 'l';
    if (p === 'qSymbol::') return 'OK';
    return '';
  }

  private handleV(p: string): string | undefined {
    if (p === 'vCont?') return 'vCont;c;C;s;S';
    if (!p.startsWith('vCont;')) return '';
    // The first action that applies to our one thread decides (vCont;s:1;c -> step).
    const action = p.slice('vCont;'.length).split(';')[0]!.split(':')[0]!;
    if (action === 's' || action[0] === 'S') return this.resume(true);
    if (action === 'c' || action[0] === 'C') return this.resume(false);
    return 'E22';
  }

  private resumeAt(addr: string, step: boolean): undefined {
    if (addr !== '') {
      const at = BigInt(`0x${addr}`);
      this.updateState((st) => ((st.rip = at), true));
    }
    return this.resume(step);
  }

  private updateState(change: (st: CpuState) => boolean): string {
    const vcpu = this.vcpu();
    const st = vcpu.getState();
    if (!change(st)) return 'E22';
    vcpu.setState(st);
    return 'OK';
  }

  private readMemory(args: string): string {
    const [addr, len] = args.split(',').map((h) => BigInt(`0x${h || '0'}`));
    if (addr === undefined || len === undefined || len > 0x10000n) return 'E22';
    try {
      return Buffer.from(readVirtual(this.vcpu(), this.pc.bus.mem, addr, Number(len))).toString('hex');
    } catch {
      return 'E14';
    }
  }

  private writeMemory(args: string): string {
    const m = /^([0-9a-fA-F]+),([0-9a-fA-F]+):([0-9a-fA-F]*)$/.exec(args);
    if (!m || m[3]!.length !== 2 * parseInt(m[2]!, 16)) return 'E22';
    try {
      writeVirtual(this.vcpu(), this.pc.bus.mem, BigInt(`0x${m[1]}`), Buffer.from(m[3]!, 'hex'));
      return 'OK';
    } catch {
      return 'E14';
    }
  }

  /** Z/z type,addr,kind: the whole new set goes to the backend; an empty reply tells gdb the type is unsupported. */
  private changePoint(insert: boolean, args: string): string {
    const [type, addrHex, lenHex] = args.split(/[,;]/);
    const kind = POINT_KINDS[Number(type)];
    if (!kind || !addrHex || !lenHex) return 'E22';
    const point: DebugPoint = { kind, addr: BigInt(`0x${addrHex}`), len: parseInt(lenHex, 16) };
    const same = (q: DebugPoint) => q.kind === point.kind && q.addr === point.addr && q.len === point.len;
    const next = insert ? [...this.points.filter((q) => !same(q)), point] : this.points.filter((q) => !same(q));
    if (!this.debugBackend().setPoints(next)) {
      this.debugBackend().setPoints(this.points);
      return '';
    }
    this.points = next;
    return 'OK';
  }

  private readFeatures(args: string): string {
    const m = /^([^:]+):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(args);
    if (!m) return 'E00';
    if (m[1] !== 'target.xml') return 'E00';
    const xml = targetXml(this.arch);
    const off = parseInt(m[2]!, 16);
    const len = parseInt(m[3]!, 16);
    const chunk = xml.slice(off, off + len);
    return (off + len >= xml.length ? 'l' : 'm') + chunk;
  }

  private reply(payload: string | undefined): void {
    if (payload !== undefined) this.write(frame(payload));
  }

  private write(text: string): void {
    this.chr.write(Buffer.from(text, 'latin1'));
  }
}
