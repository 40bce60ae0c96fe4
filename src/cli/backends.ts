/**
 * Chardevs and their frontends (serial ports, monitors, debugcon): QEMU's
 * defaults, its creation order (-chardev and -monitor backends first, then
 * serial ports, then debugcon) and its checks (duplicate ids, one user of
 * stdio, one frontend per chardev unless it is a mux).
 */
import type { ChardevConfig, DeviceConfig, MonitorConfig } from '../config.js';
import { parseLegacyChardev, UnparsableChardev, type LegacyChardev } from './chardev.js';
import { resolveDevice, type DeviceRequest } from './devices.js';
import { errorAt, locatedError } from './errors.js';
import type { Draft, Located } from './draft.js';

/** QEMU's pc has four ISA serial ports. */
const MAX_SERIAL_PORTS = 4;
/** The location of a default tsvm added itself: messages about it have none, as in QEMU. */
const DEFAULTS = '';

export interface Backends {
  chardevs: ChardevConfig[];
  /** Chardev ids of COM1 onwards. */
  serials: string[];
  monitors: MonitorConfig[];
  devices: DeviceConfig[];
}

export function connectBackends(draft: Draft): Backends {
  addDefaultBackends(draft);
  const chardevs = new ChardevSet(draft.daemonize);
  for (const c of draft.chardevs) chardevs.add(c);
  const monitors: Located<MonitorConfig>[] = [...draft.monitors];
  const serials = createSerials(draft, chardevs, monitors);
  const devices = [...draft.devices];
  if (draft.debugcon) devices.push(createDebugcon(draft.debugcon, chardevs));
  const chardevIds = new Set(chardevs.list.map((c) => c.id));
  const resolvedMonitors = monitors.map((m) => resolveMonitor(m, chardevIds));
  const resolvedDevices = devices.map((d) => resolveDevice(d, draft.globals, chardevIds));
  // Frontends connect in QEMU's order: monitors, then serial ports, then other devices.
  const frontends = new FrontendCount(chardevs);
  for (const m of monitors) frontends.attach({ value: m.value.chardev, location: m.location });
  for (const s of serials) frontends.attach(s);
  resolvedDevices.forEach((d, i) => {
    if (d.driver === 'isa-debugcon') frontends.attach({ value: d.chardev, location: devices[i]!.location });
  });
  return { chardevs: chardevs.list, serials: serials.map((s) => s.value), monitors: resolvedMonitors, devices: resolvedDevices };
}

/**
 * QEMU's default serial port and monitor: on stdio through one mux chardev
 * (`mon:stdio`) under -nographic, else on virtual consoles, which
 * -display curses shows (Esc-2, Esc-3). An explicit -serial or monitor
 * option, or -nodefaults, drops the matching default.
 */
function addDefaultBackends(draft: Draft): void {
  const wantSerial = draft.defaultSerial && !draft.noDefaults;
  const wantMonitor = draft.defaultMonitor && !draft.noDefaults;
  const console = draft.nographic ? 'stdio' : 'vc';
  if (draft.nographic && wantSerial && wantMonitor) {
    draft.serials.push({ value: 'mon:stdio', location: DEFAULTS });
    return;
  }
  if (wantSerial) draft.serials.push({ value: console, location: DEFAULTS });
  if (wantMonitor) addCompatMonitor(draft, console, 'readline', false, DEFAULTS);
}

/** `-monitor spec` / `-qmp spec`: a chardev compat_monitorN and a monitor on it (QEMU's monitor_parse). */
export function addCompatMonitor(draft: Draft, spec: string, mode: MonitorConfig['mode'], pretty: boolean, location: string): void {
  let chardev: string;
  if (spec.startsWith('chardev:')) {
    chardev = spec.slice('chardev:'.length);
  } else {
    chardev = `compat_monitor${draft.compatMonitors}`;
    const parsed = parseLegacyChardev(chardev, spec);
    if (parsed.kind === 'new') draft.chardevs.push({ value: parsed.chardev, location });
  }
  draft.compatMonitors++;
  draft.monitors.push({ value: { chardev, mode, pretty }, location });
}

/** The chardevs in QEMU's creation order, with its checks on ids and stdio. */
class ChardevSet {
  readonly list: ChardevConfig[] = [];
  private stdioUsed = false;

  constructor(private readonly daemonize: boolean) {}

  add({ value, location }: Located<ChardevConfig>): void {
    const fail = (message: string): never => {
      throw errorAt(location, message);
    };
    if (this.list.some((c) => c.id === value.id)) fail(`Duplicate ID '${value.id}' for chardev`);
    if (value.backend.kind === 'stdio') {
      if (this.daemonize) fail('cannot use stdio with -daemonize');
      if (this.stdioUsed) fail('cannot use stdio by multiple character devices');
      this.stdioUsed = true;
    }
    this.list.push(value);
  }

  has(id: string): boolean {
    return this.find(id) !== undefined;
  }

  find(id: string): ChardevConfig | undefined {
    return this.list.find((c) => c.id === id);
  }
}

/** A frontend's legacy spec; `unparsable` is how QEMU words a spec it cannot split, for this frontend. */
function parseFrontendChardev(id: string, spec: string, location: string, unparsable: string): LegacyChardev {
  try {
    return parseLegacyChardev(id, spec);
  } catch (err) {
    if (err instanceof UnparsableChardev) throw errorAt(location, `${unparsable} '${spec}'`);
    throw locatedError(location, err);
  }
}

/** serial0.. for each -serial, created after -chardev/-monitor ones as in QEMU. */
function createSerials(draft: Draft, chardevs: ChardevSet, monitors: Located<MonitorConfig>[]): Located<string>[] {
  return draft.serials.map(({ value: spec, location }, index) => {
    if (index >= MAX_SERIAL_PORTS) throw errorAt(location, `too many serial ports (the pc has ${MAX_SERIAL_PORTS})`);
    const parsed = parseFrontendChardev(`serial${index}`, spec, location, 'could not connect serial device to character backend');
    if (parsed.kind === 'existing') {
      if (!chardevs.has(parsed.id)) {
        throw errorAt(location, `could not connect serial device to character backend '${spec}'`);
      }
      return { value: parsed.id, location };
    }
    chardevs.add({ value: parsed.chardev, location });
    if (parsed.withMonitor) {
      monitors.push({ value: { chardev: parsed.chardev.id, mode: 'readline', pretty: false }, location });
    }
    return { value: parsed.chardev.id, location };
  });
}

/** `-debugcon spec`: a chardev "debugcon" and an isa-debugcon on it, as QEMU's debugcon_parse. */
function createDebugcon({ value: spec, location }: Located<string>, chardevs: ChardevSet): DeviceRequest {
  const parsed = parseFrontendChardev('debugcon', spec, location, 'invalid character backend');
  let chardev = 'debugcon';
  if (parsed.kind === 'existing') {
    if (!chardevs.has(parsed.id)) throw errorAt(location, `invalid character backend '${spec}'`);
    chardev = parsed.id;
  } else {
    chardevs.add({ value: parsed.chardev, location });
  }
  return { location, driver: 'isa-debugcon', id: 'debugcon', properties: { chardev } };
}

function resolveMonitor({ value, location }: Located<MonitorConfig>, chardevIds: ReadonlySet<string>): MonitorConfig {
  if (!chardevIds.has(value.chardev)) {
    throw errorAt(location, `chardev "${value.chardev}" not found`);
  }
  return value;
}

/** QEMU refuses two frontends on one chardev unless it is a mux (qemu_chr_fe_init). */
class FrontendCount {
  private readonly counts = new Map<string, number>();

  constructor(private readonly chardevs: ChardevSet) {}

  attach({ value: id, location }: Located<string>): void {
    const count = (this.counts.get(id) ?? 0) + 1;
    this.counts.set(id, count);
    const fail = (message: string): never => {
      throw errorAt(location, message);
    };
    if (count > 1 && !this.chardevs.find(id)?.mux) fail(`Device '${id}' is in use`);
    // QEMU's mux has room for four frontends.
    if (count > 4) fail(`too many uses of multiplexed chardev '${id}' (maximum is 4)`);
  }
}
