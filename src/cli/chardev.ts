/**
 * Chardev syntax: `-chardev backend,id=...,key=val` and the compact legacy
 * form shared by -serial, -monitor, -qmp, -debugcon and -gdb
 * (`stdio`, `mon:stdio`, `file:out.txt`, `tcp::4444,server=on,wait=off`),
 * after QEMU's chardev/char.c (qemu_chr_parse_compat) and the backends'
 * parse functions.
 */
import type { ChardevBackend, ChardevConfig } from '../config.js';
import { OptionError } from './errors.js';

import { checkId, isHelp, parseInteger, SubOptions } from './suboptions.js';

/**
 * A legacy spec QEMU cannot even split (`tcp:localhost` without a port):
 * each frontend words this its own way, so it is a type of its own.
 */
export class UnparsableChardev extends OptionError {
  override name = 'UnparsableChardev';
  constructor(readonly spec: string) {
    super(`parse error: ${spec}`);
  }
}

/** The backends tsvm implements, in `-chardev help` order. */
const CHARDEV_BACKENDS = ['stdio', 'null', 'file', 'pipe', 'socket', 'vc'] as const;
type BackendName = (typeof CHARDEV_BACKENDS)[number];

/** QEMU backends tsvm does not have: refused by name, not as unknown. */
const CHARDEV_BACKENDS_NOT_YET = [
  'pty', 'serial', 'tty', 'parallel', 'parport', 'udp', 'ringbuf', 'memory', 'msmouse', 'wctablet',
  'braille', 'testdev', 'spicevmc', 'spiceport', 'qemu-vdagent', 'dbus', 'mux', 'console',
];

const COMMON_KEYS = ['backend', 'id', 'mux', 'logfile'];
const COMMON_KEYS_NOT_YET = ['logappend'];

const BACKEND_KEYS: Record<BackendName, readonly string[]> = {
  stdio: ['signal'],
  null: [],
  vc: ['width', 'height', 'cols', 'rows'],
  file: ['path', 'append'],
  pipe: ['path'],
  socket: ['host', 'port', 'path', 'server', 'wait', 'telnet', 'reconnect'],
};

const SOCKET_KEYS_NOT_YET = ['to', 'ipv4', 'ipv6', 'delay', 'tn3270', 'websocket', 'fd', 'tls-creds', 'tls-authz', 'abstract', 'tight'];

export function chardevHelp(): string {
  // QEMU prints the header with a trailing space, as here.
  return `Available chardev backend types: \n${CHARDEV_BACKENDS.map((b) => `  ${b}\n`).join('')}`;
}

/** `-chardev backend,id=name,...`. Returns undefined for `-chardev help`. */
export function parseChardevOption(text: string): ChardevConfig | undefined {
  const opts = new SubOptions(text, { implied: 'backend' });
  const backend = opts.string('backend');
  if (opts.help || (backend !== undefined && isHelp(backend))) return undefined;
  if (backend === undefined) throw new OptionError('chardev: "backend" is missing');
  const id = opts.string('id');
  if (id === undefined) throw new OptionError('chardev: no id specified');
  checkId(id);
  return chardevFromOptions(id, checkBackendName(backend), opts);
}

function checkBackendName(name: string): BackendName {
  if ((CHARDEV_BACKENDS as readonly string[]).includes(name)) return name as BackendName;
  if (CHARDEV_BACKENDS_NOT_YET.includes(name)) throw new OptionError(`char driver '${name}' not supported by tsvm yet`);
  throw new OptionError(`'${name}' is not a valid char driver name`);
}

function chardevFromOptions(id: string, backend: BackendName, opts: SubOptions): ChardevConfig {
  const notYet = backend === 'socket' ? [...COMMON_KEYS_NOT_YET, ...SOCKET_KEYS_NOT_YET] : COMMON_KEYS_NOT_YET;
  opts.allowOnly([...COMMON_KEYS, ...BACKEND_KEYS[backend]], notYet);
  return { id, backend: backendFromOptions(backend, opts), ...frontendSharing(opts) };
}

/** The settings every backend has: mux and logfile. */
function frontendSharing(opts: SubOptions): Pick<ChardevConfig, 'mux' | 'logfile'> {
  const logfile = opts.string('logfile');
  return { mux: opts.bool('mux') ?? false, ...(logfile === undefined ? {} : { logfile }) };
}

function backendFromOptions(backend: BackendName, opts: SubOptions): ChardevBackend {
  switch (backend) {
    case 'stdio':
      return { kind: 'stdio', signal: opts.bool('signal') ?? true };
    case 'null':
    case 'vc':
      return { kind: backend };
    case 'file':
      return { kind: 'file', path: requirePath(opts, 'file'), append: opts.bool('append') ?? false };
    case 'pipe':
      return { kind: 'pipe', path: requirePath(opts, 'pipe') };
    case 'socket':
      return socketFromOptions(opts);
  }
}

function requirePath(opts: SubOptions, backend: string): string {
  const path = opts.string('path');
  if (!path) throw new OptionError(`chardev: ${backend}: no filename given`);
  return path;
}

interface SocketAddress {
  host: string;
  port: string;
}

/** A socket's settings; `address` is the host:port a legacy `tcp:` spec gave before its options. */
function socketFromOptions(opts: SubOptions, address?: SocketAddress): ChardevBackend {
  const server = opts.bool('server') ?? false;
  const socket: ChardevBackend = {
    kind: 'socket',
    server,
    // `wait` only means something for a server, where it defaults to on.
    wait: server && (opts.bool('wait') ?? true),
    telnet: opts.bool('telnet') ?? false,
  };
  const reconnect = opts.integer('reconnect');
  if (reconnect !== undefined) socket.reconnect = reconnect;
  const path = opts.string('path');
  if (path !== undefined) {
    if (opts.has('host') || opts.has('port')) throw new OptionError('chardev: socket: path and host/port are mutually exclusive');
    return { ...socket, path };
  }
  const host = address?.host ?? opts.string('host') ?? '';
  const port = address?.port ?? opts.string('port');
  if (port === undefined) {
    throw new OptionError(opts.has('host') ? 'chardev: socket: no port given' : 'chardev: socket: no host given');
  }
  return { ...socket, host, port: parsePort(host, port) };
}

function parsePort(host: string, port: string): number {
  const n = parseInteger(port);
  // tsvm does not look service names up; QEMU's resolver words it this way.
  if (n === undefined || n > 65535 || !/^\d+$/.test(port)) {
    throw new OptionError(`address resolution failed for ${host}:${port}: Servname not supported for ai_socktype`);
  }
  return n;
}

/** What a legacy spec such as `mon:stdio` or `chardev:id` asks for. */
export type LegacyChardev =
  | { kind: 'new'; chardev: ChardevConfig; withMonitor: boolean }
  | { kind: 'existing'; id: string };

/** Host devices QEMU passes through; tsvm refuses them by name. */
const HOST_DEVICE_PREFIXES = ['/dev/', 'COM'];

/**
 * Parses the compact form (qemu_chr_parse_compat) into a chardev called `id`.
 * `mon:` multiplexes the backend and puts a monitor on it; `chardev:name`
 * refers to a -chardev (checked once all options are read).
 */
export function parseLegacyChardev(id: string, spec: string): LegacyChardev {
  if (spec.startsWith('chardev:')) return { kind: 'existing', id: spec.slice('chardev:'.length) };
  const withMonitor = spec.startsWith('mon:');
  const rest = withMonitor ? spec.slice(4) : spec;
  const chardev = { id, ...legacyBackend(rest) };
  if (withMonitor) {
    chardev.mux = true;
    // QEMU: with the monitor muxed on stdio, Ctrl-C goes to the guest, not to QEMU.
    if (chardev.backend.kind === 'stdio') chardev.backend.signal = false;
  }
  return { kind: 'new', chardev, withMonitor };
}

/** Legacy prefixes of QEMU backends tsvm does not have. */
const LEGACY_PREFIXES_NOT_YET = ['udp', 'websocket', 'tn3270', ...CHARDEV_BACKENDS_NOT_YET];

function legacyBackend(spec: string): Omit<ChardevConfig, 'id'> {
  if (spec === 'stdio') return { backend: { kind: 'stdio', signal: true }, mux: false };
  if (spec === 'null') return { backend: { kind: 'null' }, mux: false };
  if (spec === 'vc' || spec.startsWith('vc:')) return { backend: { kind: 'vc' }, mux: false };
  const [prefix = '', rest = ''] = /^([^:]*):(.*)$/s.exec(spec)?.slice(1) ?? [spec];
  switch (prefix) {
    case 'file':
      return { backend: { kind: 'file', path: rest, append: false }, mux: false };
    case 'pipe':
      return { backend: { kind: 'pipe', path: rest }, mux: false };
    case 'tcp':
    case 'telnet':
      return legacyTcp(spec, rest, prefix === 'telnet');
    case 'unix':
      return legacySocket(new SubOptions(rest, { implied: 'path' }), ['path']);
  }
  if (HOST_DEVICE_PREFIXES.some((p) => spec.startsWith(p))) {
    throw new OptionError(`host device '${spec}' not supported by tsvm yet`);
  }
  if (LEGACY_PREFIXES_NOT_YET.includes(prefix)) throw new OptionError(`char driver '${prefix}' not supported by tsvm yet`);
  throw new OptionError(`'${spec}' is not a valid char driver`);
}

/** `tcp:host:port[,opts]`; the host may be empty (`tcp::4444`). */
function legacyTcp(spec: string, address: string, telnet: boolean): Omit<ChardevConfig, 'id'> {
  const m = /^([^:,]*):([^,]+)(?:,(.*))?$/.exec(address);
  if (!m) throw new UnparsableChardev(spec);
  const [, host, port, options] = m;
  const tcp = legacySocket(new SubOptions(options ?? ''), [], { host: host!, port: port! });
  if (telnet && tcp.backend.kind === 'socket') tcp.backend.telnet = true;
  return tcp;
}

/** The options after a legacy socket address: the socket's own keys minus the address ones it already gave. */
function legacySocket(opts: SubOptions, addressKeys: readonly string[], address?: SocketAddress): Omit<ChardevConfig, 'id'> {
  const socketKeys = BACKEND_KEYS.socket.filter((k) => !['host', 'port', 'path'].includes(k));
  opts.allowOnly(['mux', 'logfile', ...socketKeys, ...addressKeys], [...COMMON_KEYS_NOT_YET, ...SOCKET_KEYS_NOT_YET]);
  return { backend: socketFromOptions(opts, address), ...frontendSharing(opts) };
}

/**
 * `-gdb dev`: QEMU's gdbstub takes a bare port number as `tcp::port` and
 * `none` as no stub. Returns the spec for the gdbstub, checked as a chardev.
 */
export function parseGdbOption(spec: string): string | undefined {
  if (spec === 'none') return undefined;
  const normalized = /^\d+$/.test(spec) ? `tcp::${spec}` : spec;
  parseLegacyChardev('gdb', normalized);
  return normalized;
}
