/**
 * The option table: every option tsvm knows, its argument, its help line and
 * what it does to the draft. `-h` is printed from this table, so an option
 * and its documentation cannot drift apart. Names and help texts follow
 * QEMU's qemu-options.hx.
 */
import { LOG_CATEGORIES } from '../log.js';
import { chardevHelp, parseChardevOption, parseGdbOption } from './chardev.js';
import { parseDeviceOption, parseGlobalOption } from './devices.js';
import { parseDriveOption, shorthandDrive } from './drive.js';
import type { Draft } from './draft.js';
import { OptionError } from './errors.js';
import { addCompatMonitor } from './backends.js';
import {
  acceleratorHelp,
  cpuHelp,
  machineHelp,
  parseAccelOption,
  parseCpuOption,
  parseMachineOption,
  parseMemoryOption,
  parseSmpOption,
} from './machine.js';
import { parseActionOption, parseBootOption, parseDisplayOption, parseEchrOption, parseLogItems, parseNameOption, parseRtcOption, parseVgaOption } from './settings.js';
import { usage, versionText } from './help.js';
import { isHelp, SubOptions } from './suboptions.js';

export type Section = 'Standard' | 'Block device' | 'Display' | 'i386 target only' | 'Network' | 'Character device' | 'Linux/Multiboot boot specific' | 'Debug/Expert';

export interface OptionSpec {
  /** Names without the dash; the first is the one -h shows, the rest are aliases. */
  names: readonly string[];
  /** The argument's name in -h; absent for options without an argument. */
  arg?: string;
  section: Section;
  /** -h text; continuation lines are indented by the printer. */
  help: string;
  /**
   * Applies the option to the draft. Returns text to print instead of running
   * (help output); `name` is the spelling used, for options sharing a handler.
   */
  apply(draft: Draft, arg: string, name: string, location: string): string | void;
}

function setAction(draft: Draft, partial: Partial<Draft['action']>): void {
  Object.assign(draft.action, partial);
}

/** The fields of T that hold a V (or may be left undefined). */
type KeysOf<T, V> = { [K in keyof T]-?: [V] extends [T[K]] ? ([T[K]] extends [V | undefined] ? K : never) : never }[keyof T];

/** An option whose argument is kept as it is (a file name, a command line). */
function storesArgument(field: KeysOf<Draft, string>): OptionSpec['apply'] {
  return (d, arg) => {
    (d[field] as string) = arg;
  };
}

/** An option without an argument that turns a setting on. */
function setsFlag(field: KeysOf<Draft, boolean>): OptionSpec['apply'] {
  return (d) => {
    (d[field] as boolean) = true;
  };
}

/** QEMU options tsvm does not offer yet: refused by name rather than as unknown. */
export const NOT_YET_OPTIONS: readonly string[] = [
  'usbdevice', 'usb', 'netdev', 'blockdev', 'object', 'numa', 'mem-path', 'mem-prealloc', 'incoming', 'loadvm',
  'readconfig', 'no-user-config', 'set', 'option-rom', 'pflash', 'mtdblock', 'sd', 'virtfs', 'fsdev', 'iscsi',
  'audiodev', 'audio', 'audio-help', 'spice', 'k', 'full-screen', 'win2k-hack', 'no-fd-bootchk', 'acpitable',
  'smbios', 'fw_cfg', 'icount', 'watchdog-action', 'chroot', 'runas', 'sandbox', 'plugin', 'trace', 'dfilter',
  'seed', 'msg', 'overcommit', 'tpmdev', 'uuid', 'xen-domid', 'xen-attach', 'xen-domid-restrict',
  'enable-sync-profile', 'compat', 'only-migratable', 'preconfig', 'add-fd', 'dump-vmstate', 'async-teardown',
  'singlestep', 'rotate', 'portrait', 'dtb', 'fw',
];

export const OPTIONS: readonly OptionSpec[] = [
  // Standard options
  { names: ['h', 'help'], section: 'Standard', help: 'display this help and exit', apply: () => usage(OPTIONS) },
  { names: ['version'], section: 'Standard', help: 'display version information and exit', apply: () => versionText() },
  {
    names: ['machine', 'M'],
    arg: '[type=]name[,prop[=value][,...]]',
    section: 'Standard',
    help: "selects emulated machine ('-machine help' for list)\nproperty accel=accel1[:accel2[:...]] selects accelerator\nsupported accelerators are kvm or tcg (default: tcg)\nkernel_irqchip=on|off|split controls accelerated irqchip support\nacpi=on|off controls ACPI support (default: on)",
    apply: (d, arg) => (parseMachineOption(arg, d.machine) ? undefined : machineHelp()),
  },
  {
    names: ['cpu'],
    arg: 'cpu',
    section: 'Standard',
    help: "select CPU ('-cpu help' for list)",
    apply: (d, arg) => {
      const model = parseCpuOption(arg);
      if (model === undefined) return cpuHelp();
      d.cpuModel = model;
    },
  },
  {
    names: ['accel'],
    arg: '[accel=]accelerator[,prop[=value][,...]]',
    section: 'Standard',
    help: "select accelerator (kvm or tcg; use 'help' for a list); repeat -accel, or\ngive kvm:tcg, for a fallback order\nkernel-irqchip=on|off|split controls accelerated irqchip support (default=on)\none-insn-per-tb=on|off (TCG: interpret one instruction at a time)\nwasm=on|off (TCG: translate blocks to WebAssembly where it can; experimental, default=off)",
    apply: (d, arg) => (parseAccelOption(arg, d.accel) ? undefined : acceleratorHelp()),
  },
  {
    names: ['smp'],
    arg: '[[cpus=]n][,maxcpus=maxcpus][,sockets=sockets][,dies=dies][,cores=cores][,threads=threads]',
    section: 'Standard',
    help: "set the number of initial CPUs to 'n' [default=1]",
    apply: (d, arg) => {
      d.smp = parseSmpOption(arg);
    },
  },
  {
    names: ['fda', 'fdb'],
    arg: 'file',
    section: 'Standard',
    help: "use 'file' as floppy disk 0/1 image",
    apply: (d, arg, name, location) => {
      d.drives.push(shorthandDrive(location, arg, 'fd', name === 'fda' ? 0 : 1));
    },
  },
  {
    names: ['hda', 'hdb', 'hdc', 'hdd'],
    arg: 'file',
    section: 'Standard',
    help: "use 'file' as hard disk 0, 1, 2 or 3 image",
    apply: (d, arg, name, location) => {
      d.drives.push(shorthandDrive(location, arg, 'hd', name.charCodeAt(2) - 'a'.charCodeAt(0)));
    },
  },
  {
    names: ['cdrom'],
    arg: 'file',
    section: 'Standard',
    help: "use 'file' as CD-ROM image (cdrom is ide1 master)",
    apply: (d, arg, _name, location) => {
      d.drives.push(shorthandDrive(location, arg, 'cdrom', 2));
    },
  },
  {
    names: ['boot'],
    arg: '[order=drives][,once=drives][,menu=on|off][,strict=on|off]',
    section: 'Standard',
    help: "'drives': floppy (a), hard disk (c), CD-ROM (d), network (n)",
    apply: (d, arg) => {
      d.boot = parseBootOption(arg, d.boot);
    },
  },
  {
    names: ['m'],
    arg: '[size=]megs',
    section: 'Standard',
    help: "configure guest RAM\nsize: initial amount of guest memory (default: 128 MiB)\nOptional suffix \"M\" or \"G\" for mega- or gigabytes; a bare number means MiB",
    apply: (d, arg) => {
      d.memoryBytes = parseMemoryOption(arg);
    },
  },
  {
    names: ['L'],
    arg: 'path',
    section: 'Standard',
    help: 'set the directory for the BIOS, VGA BIOS and keymaps',
    apply: (d, arg) => {
      d.dataDirs.push(arg);
    },
  },
  {
    names: ['name'],
    arg: '[guest=]name',
    section: 'Standard',
    help: 'set the name of the guest',
    apply: (d, arg) => {
      d.name = parseNameOption(arg);
    },
  },

  // Block device options
  {
    names: ['drive'],
    arg: '[file=file][,if=type][,bus=n][,unit=m][,media=d][,index=i][,snapshot=on|off]\n[,cache=writethrough|writeback|none|directsync|unsafe][,format=f]\n[,readonly=on|off][,file.locking=on|off|auto][,id=name]',
    section: 'Block device',
    help: "use 'file' as a drive image (if=ide|floppy|none, format=raw|qcow2)",
    apply: (d, arg, _name, location) => {
      d.drives.push(parseDriveOption(location, arg));
    },
  },
  {
    names: ['snapshot'],
    section: 'Block device',
    help: "write to temporary files instead of disk image files",
    apply: setsFlag('snapshot'),
  },

  // Display options
  {
    names: ['display'],
    arg: 'none|curses',
    section: 'Display',
    help: "select display backend type\nThe default display is none: tsvm has no graphical window",
    apply: (d, arg) => {
      const display = parseDisplayOption(arg);
      if (display === 'help') return 'Available display backend types:\nnone\ncurses\n';
      d.display = display;
    },
  },
  {
    names: ['nographic'],
    section: 'Display',
    help: 'disable graphical output and redirect serial I/Os to console',
    apply: (d) => {
      d.nographic = true;
      d.display = 'none';
    },
  },
  {
    names: ['vga'],
    arg: 'std|none',
    section: 'Display',
    help: 'select video card type',
    apply: (d, arg) => {
      const vga = parseVgaOption(arg);
      if (vga === 'help') return 'none                 no graphic card\nstd                  standard VGA (default)\n';
      d.vga = vga;
    },
  },
  {
    names: ['vnc'],
    arg: 'none',
    section: 'Display',
    help: 'VNC display: only "none" (tsvm has no VNC server)',
    apply: (_d, arg) => {
      if (arg !== 'none') throw new OptionError('VNC display not supported by tsvm yet');
    },
  },

  // i386 target only
  {
    names: ['no-acpi'],
    section: 'i386 target only',
    help: 'disable ACPI',
    apply: setsFlag('noAcpi'),
  },
  {
    names: ['no-hpet'],
    section: 'i386 target only',
    help: 'disable HPET',
    // QEMU: the same as -machine hpet=off.
    apply: (d) => {
      d.machine.hpet = false;
    },
  },

  // Network options
  {
    names: ['nic', 'net'],
    arg: 'none',
    section: 'Network',
    help: 'use it alone to have zero network devices (tsvm has no networking yet)',
    apply: (_d, arg) => {
      if (arg !== 'none') throw new OptionError('networking not supported by tsvm yet');
    },
  },

  // Character device options
  {
    names: ['chardev'],
    arg: 'backend,id=id[,mux=on|off][,logfile=PATH]',
    section: 'Character device',
    help: 'backends: stdio[,signal=on|off], null, file,path=PATH[,append=on|off],\npipe,path=PATH, socket,host=HOST,port=PORT|path=PATH[,server=on|off]\n[,wait=on|off][,telnet=on|off][,reconnect=SECONDS], vc (shows nowhere)',
    apply: (d, arg, _name, location) => {
      const chardev = parseChardevOption(arg);
      if (!chardev) return chardevHelp();
      d.chardevs.push({ value: chardev, location });
    },
  },
  {
    names: ['serial'],
    arg: 'dev',
    section: 'Debug/Expert',
    help:
      "redirect the serial port to char device 'dev' (repeat for COM2..COM4):\n" +
      'none, null, stdio, mon:stdio (shared with the monitor), vc (shows nowhere),\n' +
      'file:PATH, pipe:PATH, tcp:[HOST]:PORT[,server=on][,wait=off], telnet:[HOST]:PORT[,...],\n' +
      'unix:PATH[,server=on][,wait=off], chardev:ID (a -chardev); the same for -monitor,\n' +
      '-qmp, -debugcon and -gdb',
    apply: (d, arg, _name, location) => {
      d.defaultSerial = false;
      if (arg.startsWith('mon:')) d.defaultMonitor = false;
      if (arg !== 'none') d.serials.push({ value: arg, location });
    },
  },
  {
    names: ['parallel'],
    arg: 'none',
    section: 'Debug/Expert',
    help: 'the pc of tsvm has no parallel port: only "none"',
    apply: (_d, arg) => {
      if (arg !== 'none') throw new OptionError('parallel ports not supported by tsvm yet');
    },
  },
  {
    names: ['monitor'],
    arg: 'dev',
    section: 'Debug/Expert',
    help: "redirect the monitor to char device 'dev'",
    apply: (d, arg, _name, location) => {
      d.defaultMonitor = false;
      if (!arg.startsWith('none')) addCompatMonitor(d, arg, 'readline', false, location);
    },
  },
  {
    names: ['qmp'],
    arg: 'dev',
    section: 'Debug/Expert',
    help: 'like -monitor but opens in \'control\' mode',
    apply: (d, arg, _name, location) => {
      d.defaultMonitor = false;
      addCompatMonitor(d, arg, 'control', false, location);
    },
  },
  {
    names: ['qmp-pretty'],
    arg: 'dev',
    section: 'Debug/Expert',
    help: 'like -qmp but uses pretty JSON formatting',
    apply: (d, arg, _name, location) => {
      d.defaultMonitor = false;
      addCompatMonitor(d, arg, 'control', true, location);
    },
  },
  {
    names: ['mon'],
    arg: '[chardev=]name[,mode=readline|control][,pretty[=on|off]]',
    section: 'Debug/Expert',
    help: 'put a monitor on a -chardev',
    apply: (d, arg, _name, location) => {
      const opts = new SubOptions(arg, { implied: 'chardev' });
      // id= only names QEMU's option group; nothing refers to it.
      opts.allowOnly(['chardev', 'mode', 'pretty', 'id']);
      const chardev = opts.string('chardev');
      if (chardev === undefined) throw new OptionError("Parameter 'chardev' is missing");
      d.defaultMonitor = false;
      const mode = opts.choice('mode', ['readline', 'control']) ?? 'readline';
      d.monitors.push({ value: { chardev, mode, pretty: opts.bool('pretty') ?? false }, location });
    },
  },
  {
    names: ['debugcon'],
    arg: 'dev',
    section: 'Debug/Expert',
    help: "redirect the debug console (port 0xe9) to char device 'dev'",
    apply: (d, arg, _name, location) => {
      if (d.debugcon) throw new OptionError("Duplicate ID 'debugcon' for chardev");
      d.debugcon = { value: arg, location };
    },
  },
  {
    names: ['echr'],
    arg: 'chr',
    section: 'Debug/Expert',
    help: 'set terminal escape character instead of ctrl-a',
    apply: (d, arg) => {
      d.escapeChar = parseEchrOption(arg);
    },
  },

  // Linux/Multiboot boot specific
  {
    names: ['kernel'],
    arg: 'bzImage',
    section: 'Linux/Multiboot boot specific',
    help: "use 'bzImage' as kernel image",
    apply: storesArgument('kernel'),
  },
  {
    names: ['append'],
    arg: 'cmdline',
    section: 'Linux/Multiboot boot specific',
    help: "use 'cmdline' as kernel command line",
    apply: storesArgument('append'),
  },
  {
    names: ['initrd'],
    arg: 'file',
    section: 'Linux/Multiboot boot specific',
    help: "use 'file' as initial ram disk (multiboot: \"mod1 arg,mod2\" module list)",
    apply: storesArgument('initrd'),
  },

  // Debug/Expert options
  {
    names: ['bios'],
    arg: 'file',
    section: 'Debug/Expert',
    help: "set the filename for the BIOS",
    apply: storesArgument('bios'),
  },
  {
    names: ['device'],
    arg: 'driver[,prop[=value][,...]]',
    section: 'Debug/Expert',
    help: "add device (based on driver); use '-device help' for a list\nand '-device driver,help' for its properties",
    apply: (d, arg, _name, location) => {
      const device = parseDeviceOption(location, arg);
      if (device.kind === 'help') return device.text;
      const { id } = device.request;
      if (id !== undefined && d.devices.some((other) => other.id === id)) throw new OptionError(`Duplicate ID '${id}' for device`);
      d.devices.push(device.request);
    },
  },
  {
    names: ['global'],
    arg: 'driver.prop=value',
    section: 'Debug/Expert',
    help: 'set a global default for a device property',
    apply: (d, arg) => {
      d.globals.push(parseGlobalOption(arg));
    },
  },
  {
    names: ['S'],
    section: 'Debug/Expert',
    help: "freeze CPU at startup (use 'c' to start execution)",
    apply: setsFlag('startPaused'),
  },
  {
    names: ['gdb'],
    arg: 'dev',
    section: 'Debug/Expert',
    help: "accept gdb connection on 'dev' (a chardev spec, or a TCP port number)",
    apply: (d, arg) => {
      d.gdb = parseGdbOption(arg);
    },
  },
  {
    names: ['s'],
    section: 'Debug/Expert',
    help: 'shorthand for -gdb tcp::1234',
    apply: (d) => {
      d.gdb = 'tcp::1234';
    },
  },
  {
    names: ['d'],
    arg: 'item1,...',
    section: 'Debug/Expert',
    help: "enable logging of specified items (use '-d help' for a list of log items)",
    apply: (d, arg) => {
      if (isHelp(arg)) return logHelp();
      d.logItems = parseLogItems(arg);
    },
  },
  {
    names: ['D'],
    arg: 'logfile',
    section: 'Debug/Expert',
    help: 'output log to logfile (default stderr)',
    apply: storesArgument('logFile'),
  },
  {
    names: ['pidfile'],
    arg: 'file',
    section: 'Debug/Expert',
    help: 'write PID to \'file\'',
    apply: storesArgument('pidfile'),
  },
  {
    names: ['daemonize'],
    section: 'Debug/Expert',
    help: 'daemonize tsvm after initializing the emulated machine',
    apply: setsFlag('daemonize'),
  },
  {
    names: ['rtc'],
    arg: '[base=utc|localtime|date][,clock=host|rt|vm][,driftfix=none|slew]',
    section: 'Debug/Expert',
    help: 'set the RTC base and clock',
    apply: (d, arg) => {
      d.rtc = parseRtcOption(arg, d.rtc);
    },
  },
  {
    names: ['enable-kvm'],
    section: 'Debug/Expert',
    help: 'enable KVM full virtualization support',
    // QEMU: the same as -machine accel=kvm, so it clashes with -accel but a later -machine accel= overrides it.
    apply: (d) => {
      d.machine.accel = ['kvm'];
    },
  },
  {
    names: ['action'],
    arg: 'reboot=reset|shutdown,shutdown=poweroff|pause,panic=pause|shutdown|none',
    section: 'Debug/Expert',
    help: 'action when guest reboots, shuts down or panics',
    apply: (d, arg) => {
      setAction(d, parseActionOption(arg));
    },
  },
  {
    names: ['no-reboot'],
    section: 'Debug/Expert',
    help: 'exit instead of rebooting',
    apply: (d) => setAction(d, { reboot: 'shutdown' }),
  },
  {
    names: ['no-shutdown'],
    section: 'Debug/Expert',
    help: 'stop before shutdown',
    apply: (d) => setAction(d, { shutdown: 'pause' }),
  },
  {
    names: ['nodefaults'],
    section: 'Debug/Expert',
    help: "don't create default devices",
    apply: setsFlag('noDefaults'),
  },
];

function logHelp(): string {
  const lines = Object.entries(LOG_CATEGORIES).map(([name, text]) => `${name.padEnd(15)} ${text}\n`);
  return `Log items (comma separated):\n${lines.join('')}`;
}

/** Looks an option name up (without its dashes). */
export function findOption(name: string): OptionSpec | undefined {
  return OPTIONS.find((o) => o.names.includes(name));
}

