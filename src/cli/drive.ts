/**
 * -drive and its shorthands (-hda..-hdd, -cdrom, -fda/-fdb, a lone image
 * argument), after QEMU's blockdev.c drive_new(): interface, bus/unit/index
 * arithmetic, media, default ids.
 */
import type { CacheMode, DriveConfig, DriveInterface, DriveMedia } from '../config.js';
import { CliError, errorAt, OptionError } from './errors.js';
import { checkId, SubOptions } from './suboptions.js';

/** A drive as one option gave it; placed on a bus/unit once all drives are known. */
export interface DriveRequest {
  location: string;
  file?: string;
  format?: DriveConfig['format'];
  interface: DriveInterface;
  bus?: number;
  unit?: number;
  index?: number;
  media: DriveMedia;
  readonly: boolean;
  /** Undefined: follow -snapshot. */
  snapshot?: boolean;
  cache: CacheMode;
  locking: boolean;
  id?: string;
}

const DRIVE_KEYS = ['file', 'format', 'if', 'index', 'bus', 'unit', 'media', 'readonly', 'read-only', 'snapshot', 'cache', 'id', 'file.locking'];
/** QEMU -drive keys tsvm does not implement yet: refused by name. */
const DRIVE_KEYS_NOT_YET = [
  'aio', 'discard', 'werror', 'rerror', 'copy-on-read', 'serial', 'addr', 'cyls', 'heads', 'secs', 'trans',
  'detect-zeroes', 'auto-read-only', 'node-name', 'cache.direct', 'cache.no-flush', 'file.filename',
  'file.aio', 'encrypt.format', 'encrypt.key-secret', 'throttling.iops-total', 'throttling.bps-total', 'backing',
];

const INTERFACES: readonly DriveInterface[] = ['ide', 'floppy', 'none'];
const INTERFACES_NOT_YET = ['scsi', 'virtio', 'sd', 'pflash', 'mtd', 'xen'];
const FORMATS = ['raw', 'qcow2'] as const;
const FORMATS_NOT_YET = ['vmdk', 'vdi', 'vpc', 'vhdx', 'qed', 'qcow', 'cloop', 'dmg', 'parallels', 'bochs', 'luks', 'vvfat'];
const CACHE_MODES: readonly CacheMode[] = ['writeback', 'writethrough', 'none', 'unsafe', 'directsync'];

/** QEMU's units per bus (if_max_devs): IDE has master and slave; the rest number units only. */
const UNITS_PER_BUS: Record<DriveInterface, number> = { ide: 2, floppy: 0, none: 0 };
/** What the pc machine offers: two IDE channels, two floppy drives. */
const PC_BUSES: Record<DriveInterface, { buses: number; units: number }> = {
  ide: { buses: 2, units: 2 },
  floppy: { buses: 1, units: 2 },
  none: { buses: Infinity, units: Infinity },
};

/** `-drive file=...,if=...`. */
export function parseDriveOption(location: string, text: string): DriveRequest {
  const opts = new SubOptions(text);
  const format = driveFormat(opts);
  rejectUnknownKeys(opts, format);
  const media = opts.string('media') ?? 'disk';
  if (media !== 'disk' && media !== 'cdrom') throw new OptionError(`'${media}' invalid media`);
  const cache = opts.string('cache') ?? 'writeback';
  if (!(CACHE_MODES as readonly string[]).includes(cache)) throw new OptionError('invalid cache option');
  const request: DriveRequest = {
    location,
    interface: driveInterface(opts),
    media,
    // A CD-ROM is read-only whatever the option says.
    // QEMU renames readonly to read-only before checking it, and its message says read-only.
    readonly: media === 'cdrom' || (opts.bool('readonly', 'read-only') ?? opts.bool('read-only') ?? false),
    cache: cache as CacheMode,
    locking: lockingOption(opts),
  };
  for (const key of ['index', 'bus', 'unit'] as const) {
    const n = opts.integer(key);
    if (n !== undefined) request[key] = n;
  }
  if (request.index !== undefined && (request.bus !== undefined || request.unit !== undefined)) {
    throw new OptionError('index cannot be used with bus and unit');
  }
  const file = opts.string('file');
  if (file !== undefined && file !== '') request.file = file;
  if (format) request.format = format;
  const snapshot = opts.bool('snapshot');
  if (snapshot !== undefined) request.snapshot = snapshot;
  const id = opts.string('id');
  if (id !== undefined) {
    checkId(id);
    request.id = id;
  }
  return request;
}

/**
 * QEMU reports a key no layer knows once the format driver has seen it,
 * naming the driver. Without a format it would name the probed driver, but
 * tsvm does not open files while parsing: then it is an invalid parameter.
 */
function rejectUnknownKeys(opts: SubOptions, format: string | undefined): void {
  const unknown = opts.keys().find((k) => !DRIVE_KEYS.includes(k) && !DRIVE_KEYS_NOT_YET.includes(k));
  if (unknown && format) throw new OptionError(`Block format '${format}' does not support the option '${unknown}'`);
  opts.allowOnly(DRIVE_KEYS, DRIVE_KEYS_NOT_YET);
}

/** on|off|auto; auto locks where the host supports it, which is what tsvm does. */
function lockingOption(opts: SubOptions): boolean {
  if (opts.string('file.locking') === 'auto') return true;
  return opts.bool('file.locking') ?? true;
}

function driveFormat(opts: SubOptions): DriveConfig['format'] {
  const format = opts.string('format');
  if (format === undefined) return undefined;
  if ((FORMATS as readonly string[]).includes(format)) return format as DriveConfig['format'];
  if (FORMATS_NOT_YET.includes(format)) throw new OptionError(`image format '${format}' not supported by tsvm yet`);
  throw new OptionError(`Unknown driver '${format}'`);
}

function driveInterface(opts: SubOptions): DriveInterface {
  const name = opts.string('if') ?? 'ide';
  if ((INTERFACES as readonly string[]).includes(name)) return name as DriveInterface;
  if (INTERFACES_NOT_YET.includes(name)) throw new OptionError(`if=${name} not supported by tsvm yet`);
  throw new OptionError(`unsupported bus type '${name}'`);
}

/** The shorthands: `-hda f` is `-drive file=f,index=0,media=disk` (the file name is taken whole, commas and all). */
export function shorthandDrive(location: string, file: string, drive: 'hd' | 'cdrom' | 'fd', index: number): DriveRequest {
  return {
    location,
    file,
    interface: drive === 'fd' ? 'floppy' : 'ide',
    index,
    media: drive === 'cdrom' ? 'cdrom' : 'disk',
    readonly: drive === 'cdrom',
    cache: 'writeback',
    locking: true,
  };
}

/**
 * QEMU's pc gets an empty CD-ROM drive on the secondary master unless that
 * slot is taken or -nodefaults is given. (QEMU also adds an empty floppy
 * drive; tsvm's pc has no floppy controller to hang it on.)
 */
const DEFAULT_CDROM: DriveRequest = {
  location: '',
  interface: 'ide',
  index: 2,
  media: 'cdrom',
  readonly: true,
  cache: 'writeback',
  locking: true,
};

/**
 * Places every drive on a bus and unit as QEMU does: an explicit index or
 * bus/unit, else the first free unit on the bus; then checks the machine
 * has that slot and no two drives share it. `defaults`: add QEMU's default
 * drives where their slots are still free.
 */
export function placeDrives(requests: readonly DriveRequest[], snapshotAll: boolean, defaults: boolean): DriveConfig[] {
  const taken = new Map<string, DriveConfig>();
  const place = (r: DriveRequest): DriveConfig => {
    const { bus, unit } = placeDrive(r, taken);
    const index = driveIndex(r.interface, bus, unit);
    const id = r.id ?? defaultDriveId(r, bus, unit);
    if ([...taken.values()].some((d) => d.id === id)) throw located(r, `Duplicate ID '${id}' for drive`);
    // A floppy or CD-ROM drive may start empty; an IDE disk may not (QEMU finds out late, with no location).
    if (r.media === 'disk' && r.file === undefined && r.interface === 'ide') {
      throw new CliError('Device needs media, but drive is empty');
    }
    const drive: DriveConfig = {
      id,
      interface: r.interface,
      index,
      media: r.media,
      readonly: r.readonly,
      snapshot: r.snapshot ?? snapshotAll,
      cache: r.cache,
      locking: r.locking,
    };
    if (r.file !== undefined) drive.file = r.file;
    if (r.format !== undefined) drive.format = r.format;
    if (r.location) drive.location = r.location;
    taken.set(`${r.interface}:${bus}:${unit}`, drive);
    return drive;
  };
  const drives = requests.map(place);
  if (defaults && !taken.has('ide:1:0')) drives.push(place(DEFAULT_CDROM));
  return drives;
}

function placeDrive(r: DriveRequest, taken: Map<string, DriveConfig>): { bus: number; unit: number } {
  const perBus = UNITS_PER_BUS[r.interface];
  let bus = r.bus ?? 0;
  let unit = r.unit ?? -1;
  if (r.index !== undefined) {
    bus = perBus ? Math.floor(r.index / perBus) : 0;
    unit = perBus ? r.index % perBus : r.index;
  }
  if (unit === -1) {
    unit = 0;
    while (taken.has(`${r.interface}:${bus}:${unit}`)) {
      unit++;
      if (perBus && unit >= perBus) {
        unit = 0;
        bus++;
      }
    }
  }
  if (perBus && unit >= perBus) throw located(r, `unit ${unit} too big (max is ${perBus - 1})`);
  if (taken.has(`${r.interface}:${bus}:${unit}`)) {
    throw located(r, `drive with bus=${bus}, unit=${unit} (index=${driveIndex(r.interface, bus, unit)}) exists`);
  }
  const pc = PC_BUSES[r.interface];
  if (bus >= pc.buses || unit >= pc.units) {
    throw located(r, `machine type does not support if=${r.interface},bus=${bus},unit=${unit}`);
  }
  return { bus, unit };
}

function driveIndex(iface: DriveInterface, bus: number, unit: number): number {
  const perBus = UNITS_PER_BUS[iface];
  return perBus ? bus * perBus + unit : unit;
}

/** QEMU's generated ids: ide0-hd0, ide1-cd1, floppy0, none0. */
function defaultDriveId(r: DriveRequest, bus: number, unit: number): string {
  if (UNITS_PER_BUS[r.interface]) return `${r.interface}${bus}-${r.media === 'cdrom' ? 'cd' : 'hd'}${unit}`;
  return `${r.interface}${unit}`;
}

/** Drives are placed after parsing; the message still names the option that asked for the drive. */
function located(r: DriveRequest, message: string): Error {
  return errorAt(r.location, message);
}
