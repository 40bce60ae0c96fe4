/**
 * MachineConfig: the only thing cli/ hands to machine/. Typed and already
 * validated: everything the user could get wrong was rejected by the parser
 * with a QEMU-style message, so machine/ can trust these values.
 */

export type AccelName = 'kvm' | 'tcg';

export interface AccelConfig {
  /** In fallback order, as `-accel kvm:tcg` or `-machine accel=kvm:tcg` gives it. */
  order: AccelName[];
  /** `-accel tcg,one-insn-per-tb=on`: run TCG's interpreter only (translator off). */
  oneInsnPerTb: boolean;
  /** `-accel tcg,wasm=on`: translate the blocks its WebAssembly backend takes to WebAssembly (experimental). */
  wasm: boolean;
}

export type DriveInterface = 'ide' | 'floppy' | 'none';
export type DriveMedia = 'disk' | 'cdrom';
export type CacheMode = 'writeback' | 'writethrough' | 'none' | 'unsafe' | 'directsync';

export interface DriveConfig {
  id: string;
  /** Absent for an empty CD-ROM drive. */
  file?: string;
  /** Undefined: probe as QEMU does. */
  format?: 'raw' | 'qcow2';
  interface: DriveInterface;
  /** IDE: 0..3 = primary master, primary slave, secondary master, secondary slave. Floppy: 0..1. */
  index: number;
  media: DriveMedia;
  readonly: boolean;
  snapshot: boolean;
  cache: CacheMode;
  /** Advisory image locking (QEMU's file.locking). */
  locking: boolean;
  /** The option that gave the drive as QEMU names it in errors (`-hda x.img`, `-drive file=x.img,...`); absent for a default drive. */
  location?: string;
}

export type ChardevBackend =
  | { kind: 'stdio'; signal: boolean }
  | { kind: 'null' }
  /** A virtual console: shown by -display curses, else nowhere. */
  | { kind: 'vc' }
  | { kind: 'file'; path: string; append: boolean }
  | { kind: 'pipe'; path: string }
  | {
      kind: 'socket';
      /** tcp host/port, or a unix path. */
      host?: string;
      port?: number;
      path?: string;
      server: boolean;
      wait: boolean;
      telnet: boolean;
      /** Seconds between a client's reconnection attempts; 0 or absent: none. */
      reconnect?: number;
    };

export interface ChardevConfig {
  id: string;
  backend: ChardevBackend;
  /** mux=on: shared by several frontends (serial + monitor), Ctrl-A switches between them. */
  mux: boolean;
  logfile?: string;
}

export interface MonitorConfig {
  chardev: string;
  mode: 'readline' | 'control';
  pretty: boolean;
}

/** `id` is the user's -device id=, for the monitor to refer to. */
export type DeviceConfig =
  | { driver: 'isa-debug-exit'; iobase: number; iosize: number; id?: string }
  | { driver: 'isa-debugcon'; iobase: number; chardev: string; id?: string };

export interface BootConfig {
  /** Drive letters: a floppy, c disk, d cd-rom, n network. */
  order: string;
  once?: string;
  menu: boolean;
  strict: boolean;
}

export interface RtcConfig {
  /** Epoch ms the guest RTC starts from, or 'utc' / 'localtime' for the host's now. */
  base: 'utc' | 'localtime' | number;
  clock: 'host' | 'rt' | 'vm';
  driftfix: 'none' | 'slew';
}

export interface MachineConfig {
  machineType: 'pc';
  accel: AccelConfig;
  /** on | off | split | undefined (accelerator's default: on for kvm). */
  kernelIrqchip?: 'on' | 'off' | 'split';
  /** -cpu; undefined: the accelerator's default (TCG qemu32, KVM qemu64, as qemu-system-i386/-x86_64 choose). */
  cpuModel?: string;
  memoryBytes: number;
  smp: number;
  drives: DriveConfig[];
  boot: BootConfig;
  kernel?: string;
  initrd?: string;
  append?: string;
  bios?: string;
  /** -L: directories searched for firmware (the -bios file, option ROMs), in order. */
  dataDirs: string[];
  display: 'none' | 'curses';
  nographic: boolean;
  /** -vga: the standard VGA card, or none (-vga none, or -nodefaults without -vga). */
  vga: 'std' | 'none';
  chardevs: ChardevConfig[];
  /** Chardev ids of COM1..COM4, in order. */
  serials: string[];
  monitors: MonitorConfig[];
  devices: DeviceConfig[];
  noReboot: boolean;
  noShutdown: boolean;
  snapshot: boolean;
  /** -S: do not start the CPU until `cont`. */
  startPaused: boolean;
  /** -s / -gdb: a chardev-style address such as tcp::1234. */
  gdb?: string;
  logItems: string[];
  logFile?: string;
  name?: string;
  pidfile?: string;
  daemonize: boolean;
  rtc: RtcConfig;
  noDefaults: boolean;
  acpi: boolean;
  /** The HPET at 0xFED00000 (-machine hpet=, -no-hpet); on by default, as in QEMU's pc. */
  hpet: boolean;
  /** The mux escape character (default Ctrl-A = 0x01). */
  escapeChar: number;
  /** -global driver.prop=value, checked against the properties tsvm has. */
  globals: { driver: string; property: string; value: string }[];
  /** -action: what guest events do. */
  action: { reboot: 'reset' | 'shutdown'; shutdown: 'poweroff' | 'pause'; panic: 'pause' | 'shutdown' | 'none' };
}
