/**
 * The command line as read so far: what each option handler writes into.
 * It keeps what QEMU itself keeps until all options are read (where each
 * value came from, which defaults are still wanted), because many rules span
 * options: -initrd needs -kernel, -serial stdio clashes with -monitor stdio,
 * -nographic changes the default serial port.
 */
import type { BootConfig, ChardevConfig, MachineConfig, MonitorConfig, RtcConfig } from '../config.js';
import type { DeviceRequest, GlobalProperty } from './devices.js';
import type { DriveRequest } from './drive.js';
import type { AccelRequest, MachineRequest } from './machine.js';

/** A value and the option (as typed) that gave it, for messages about it later. */
export interface Located<T> {
  value: T;
  location: string;
}

export interface Draft {
  machine: MachineRequest;
  accel: AccelRequest;
  cpuModel?: string;
  memoryBytes: number;
  smp: number;
  drives: DriveRequest[];
  snapshot: boolean;
  boot: BootConfig;
  kernel?: string;
  initrd?: string;
  append?: string;
  bios?: string;
  dataDirs: string[];
  display?: MachineConfig['display'];
  nographic: boolean;
  vga?: MachineConfig['vga'];
  /** -chardev, and the chardevs -monitor/-qmp create, in command-line order. */
  chardevs: Located<ChardevConfig>[];
  /** -serial specs other than `none`, for COM1 onwards. */
  serials: Located<string>[];
  /** Monitors; their chardev may be a -chardev named later on the line. */
  monitors: Located<MonitorConfig>[];
  /** Numbers QEMU's compat_monitorN chardevs. */
  compatMonitors: number;
  debugcon?: Located<string>;
  devices: DeviceRequest[];
  globals: GlobalProperty[];
  gdb?: string;
  logItems: string[];
  logFile?: string;
  name?: string;
  pidfile?: string;
  daemonize: boolean;
  rtc: RtcConfig;
  noDefaults: boolean;
  noAcpi: boolean;
  escapeChar: number;
  action: MachineConfig['action'];
  startPaused: boolean;
  /** QEMU's default_serial / default_monitor: cleared by the options that replace them. */
  defaultSerial: boolean;
  defaultMonitor: boolean;
}

/** QEMU's pc defaults. */
export function newDraft(): Draft {
  return {
    machine: {},
    accel: { order: [] },
    memoryBytes: 128 * 1024 * 1024,
    smp: 1,
    drives: [],
    snapshot: false,
    boot: { order: 'cad', menu: false, strict: false },
    dataDirs: [],
    nographic: false,
    chardevs: [],
    serials: [],
    monitors: [],
    compatMonitors: 0,
    devices: [],
    globals: [],
    logItems: [],
    daemonize: false,
    rtc: { base: 'utc', clock: 'host', driftfix: 'none' },
    noDefaults: false,
    noAcpi: false,
    escapeChar: 0x01,
    action: { reboot: 'reset', shutdown: 'poweroff', panic: 'shutdown' },
    startPaused: false,
    defaultSerial: true,
    defaultMonitor: true,
  };
}
