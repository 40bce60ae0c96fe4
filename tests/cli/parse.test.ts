/**
 * What each option puts into the MachineConfig, in each of its forms.
 */
import { describe, expect, it } from 'vitest';
import type { MachineConfig } from '../../src/config.js';
import { parseCommandLine } from '../../src/cli/parse.js';

const MiB = 1024 * 1024;

function config(...argv: string[]): MachineConfig {
  const result = parseCommandLine(argv);
  if (result.kind !== 'run') throw new Error(`expected a config, got printed text:\n${result.text}`);
  return result.config;
}

describe('option spellings', () => {
  it('accepts the double-dash form of any option', () => {
    expect(config('--no-reboot').noReboot).toBe(true);
    expect(config('--m', '256').memoryBytes).toBe(256 * MiB);
  });

  it('accepts -opt=value as well as -opt value', () => {
    expect(config('-m=512').memoryBytes).toBe(512 * MiB);
    expect(config('--smp=2').smp).toBe(2);
    expect(config('-drive=file=a.img,format=raw').drives[0]!.file).toBe('a.img');
  });

  it('takes the next word as the argument even when it starts with a dash', () => {
    expect(config('-append', '-v', '-kernel', 'k').append).toBe('-v');
  });

  it('treats a lone non-option word as -hda', () => {
    const [drive] = config('disk.img').drives;
    expect(drive).toMatchObject({ file: 'disk.img', interface: 'ide', index: 0, media: 'disk', id: 'ide0-hd0' });
  });
});

describe('defaults as QEMU pc gives them', () => {
  const c = config();
  it("128 MiB, one CPU of the accelerator's default model, TCG, boot order cad, ACPI on, VGA on", () => {
    expect(c.memoryBytes).toBe(128 * MiB);
    expect(c.smp).toBe(1);
    expect(c.cpuModel).toBeUndefined();
    expect(c.accel).toEqual({ order: ['tcg'], oneInsnPerTb: false, wasm: false });
    expect(c.boot).toEqual({ order: 'cad', menu: false, strict: false });
    expect(c.acpi).toBe(true);
    expect(c.vga).toBe('std');
    expect(c.escapeChar).toBe(1);
    expect(c.action).toEqual({ reboot: 'reset', shutdown: 'poweroff', panic: 'shutdown' });
  });

  it('puts the serial port and monitor on virtual consoles (shown by -display curses)', () => {
    expect(c.serials).toEqual(['serial0']);
    expect(c.chardevs).toEqual([
      { id: 'compat_monitor0', backend: { kind: 'vc' }, mux: false },
      { id: 'serial0', backend: { kind: 'vc' }, mux: false },
    ]);
    expect(c.monitors).toEqual([{ chardev: 'compat_monitor0', mode: 'readline', pretty: false }]);
  });
});

describe('-nographic', () => {
  it('muxes COM1 and the monitor on stdio, as -serial mon:stdio, with Ctrl-C going to the guest', () => {
    const c = config('-nographic');
    expect(c.nographic).toBe(true);
    expect(c.display).toBe('none');
    expect(c.chardevs).toEqual([{ id: 'serial0', backend: { kind: 'stdio', signal: false }, mux: true }]);
    expect(c.serials).toEqual(['serial0']);
    expect(c.monitors).toEqual([{ chardev: 'serial0', mode: 'readline', pretty: false }]);
  });

  it('with -serial given, puts only the monitor on stdio', () => {
    const c = config('-nographic', '-serial', 'file:out.txt');
    expect(c.chardevs).toEqual([
      { id: 'compat_monitor0', backend: { kind: 'stdio', signal: true }, mux: false },
      { id: 'serial0', backend: { kind: 'file', path: 'out.txt', append: false }, mux: false },
    ]);
    expect(c.monitors).toEqual([{ chardev: 'compat_monitor0', mode: 'readline', pretty: false }]);
  });

  it('with -monitor none, puts the serial port alone on stdio', () => {
    const c = config('-nographic', '-monitor', 'none');
    expect(c.chardevs).toEqual([{ id: 'serial0', backend: { kind: 'stdio', signal: true }, mux: false }]);
    expect(c.monitors).toEqual([]);
  });

  it('with -nodefaults, creates neither', () => {
    const c = config('-nographic', '-nodefaults');
    expect(c.chardevs).toEqual([]);
    expect(c.serials).toEqual([]);
    expect(c.monitors).toEqual([]);
    expect(c.vga).toBe('none');
  });
});

describe('-m', () => {
  it.each([
    ['512', 512 * MiB],
    ['1G', 1024 * MiB],
    ['1g', 1024 * MiB],
    ['size=256M', 256 * MiB],
    ['1.5G', 1536 * MiB],
    ['65536k', 64 * MiB],
    ['0x100', 256 * MiB],
    ['1000000', 1000000 * MiB],
  ])('-m %s', (arg, bytes) => {
    expect(config('-m', arg).memoryBytes).toBe(bytes);
  });

  it('rounds up to 8 KiB as QEMU does', () => {
    expect(config('-m', '12345k').memoryBytes).toBe(12352 * 1024);
  });

  it('keeps the last of several -m', () => {
    expect(config('-m', '64', '-m', '32').memoryBytes).toBe(32 * MiB);
  });
});

describe('-machine and accelerators', () => {
  it('takes pc and versioned i440fx names', () => {
    expect(config('-M', 'pc').machineType).toBe('pc');
    expect(config('-machine', 'type=pc-i440fx-7.2').machineType).toBe('pc');
  });

  it('reads accel=, kernel_irqchip= and acpi=', () => {
    const c = config('-machine', 'pc,accel=kvm:tcg,kernel_irqchip=split,acpi=off');
    expect(c.accel.order).toEqual(['kvm', 'tcg']);
    expect(c.kernelIrqchip).toBe('split');
    expect(c.acpi).toBe(false);
  });

  it('builds the fallback order from several -accel, or from kvm:tcg', () => {
    expect(config('-accel', 'kvm', '-accel', 'tcg').accel.order).toEqual(['kvm', 'tcg']);
    expect(config('-accel', 'kvm:tcg').accel.order).toEqual(['kvm', 'tcg']);
    expect(config('-accel', 'accel=tcg').accel.order).toEqual(['tcg']);
  });

  it('-enable-kvm is -machine accel=kvm: the later one wins', () => {
    expect(config('-enable-kvm').accel.order).toEqual(['kvm']);
    expect(config('-machine', 'accel=tcg', '-enable-kvm').accel.order).toEqual(['kvm']);
    expect(config('-enable-kvm', '-machine', 'accel=tcg').accel.order).toEqual(['tcg']);
  });

  it('one-insn-per-tb, wasm and kernel-irqchip as accelerator properties', () => {
    expect(config('-accel', 'tcg,one-insn-per-tb=on').accel.oneInsnPerTb).toBe(true);
    expect(config('-accel', 'tcg,wasm=on').accel.wasm).toBe(true);
    expect(config('-accel', 'kvm,kernel-irqchip=off').kernelIrqchip).toBe('off');
  });

  it('-no-acpi', () => {
    expect(config('-no-acpi').acpi).toBe(false);
  });

  it('accepts turning off what tsvm does not have', () => {
    expect(config('-machine', 'pc,usb=off,hpet=off').machineType).toBe('pc');
  });

  it('has the HPET by default; -machine hpet=off and -no-hpet remove it', () => {
    expect(config().hpet).toBe(true);
    expect(config('-machine', 'hpet=on').hpet).toBe(true);
    expect(config('-machine', 'pc,hpet=off').hpet).toBe(false);
    expect(config('-no-hpet').hpet).toBe(false);
    expect(() => config('-machine', 'hpet=maybe')).toThrow(/Parameter 'hpet' expects 'on' or 'off'/);
  });
});

describe('-cpu', () => {
  it('takes a model from CPU_MODELS', () => {
    expect(config('-cpu', 'pentium').cpuModel).toBe('pentium');
  });
  it('takes a KVM-only model when KVM is in the accelerator list', () => {
    expect(config('-cpu', 'host', '-accel', 'kvm:tcg').cpuModel).toBe('host');
  });
});

describe('-smp', () => {
  it.each([
    [['4'], 4],
    [['cpus=2'], 2],
    [['sockets=2,cores=2'], 4],
    [['4,sockets=2'], 4],
    [['2,threads=2'], 2],
    [['sockets=2,cores=2,threads=2'], 8],
  ])('-smp %s', (args, cpus) => {
    expect(config('-smp', ...args).smp).toBe(cpus);
  });
});

describe('drives', () => {
  it('-hda..-hdd, -cdrom and -fda/-fdb land where QEMU puts them', () => {
    const c = config('-hda', 'a', '-hdb', 'b', '-cdrom', 'cd.iso', '-hdd', 'd', '-fda', 'f0', '-fdb', 'f1');
    expect(c.drives.map((d) => [d.id, d.interface, d.index, d.media, d.readonly, d.file])).toEqual([
      ['ide0-hd0', 'ide', 0, 'disk', false, 'a'],
      ['ide0-hd1', 'ide', 1, 'disk', false, 'b'],
      ['ide1-cd0', 'ide', 2, 'cdrom', true, 'cd.iso'],
      ['ide1-hd1', 'ide', 3, 'disk', false, 'd'],
      ['floppy0', 'floppy', 0, 'disk', false, 'f0'],
      ['floppy1', 'floppy', 1, 'disk', false, 'f1'],
    ]);
  });

  it('adds an empty CD-ROM drive on the secondary master, as QEMU pc does, unless that slot is taken or -nodefaults', () => {
    expect(config().drives).toEqual([
      { id: 'ide1-cd0', interface: 'ide', index: 2, media: 'cdrom', readonly: true, snapshot: false, cache: 'writeback', locking: true },
    ]);
    expect(config('-hdc', 'c.img').drives.map((d) => d.id)).toEqual(['ide1-hd0']);
    expect(config('-nodefaults', '-hda', 'a.img').drives.map((d) => d.id)).toEqual(['ide0-hd0']);
  });

  it('takes a -hda file name whole, commas included', () => {
    expect(config('-hda', 'a,b.img').drives[0]!.file).toBe('a,b.img');
  });

  it('reads every -drive key', () => {
    const [d] = config(
      '-drive',
      'file=x.qcow2,format=qcow2,if=ide,index=3,media=disk,readonly=on,snapshot=on,cache=unsafe,id=boot,file.locking=off',
    ).drives;
    expect(d).toEqual({
      id: 'boot',
      file: 'x.qcow2',
      format: 'qcow2',
      interface: 'ide',
      index: 3,
      media: 'disk',
      readonly: true,
      snapshot: true,
      cache: 'unsafe',
      locking: false,
      location: '-drive file=x.qcow2,format=qcow2,if=ide,index=3,media=disk,readonly=on,snapshot=on,cache=unsafe,id=boot,file.locking=off',
    });
  });

  it('un-escapes ,, in a file name', () => {
    expect(config('-drive', 'file=my,,disk.img,format=raw').drives[0]!.file).toBe('my,disk.img');
  });

  it('fills the first free IDE slot when no index is given', () => {
    const c = config('-hda', 'a', '-drive', 'file=b', '-drive', 'file=c');
    expect(c.drives.map((d) => [d.index, d.id])).toEqual([
      [0, 'ide0-hd0'],
      [1, 'ide0-hd1'],
      [2, 'ide1-hd0'],
    ]);
  });

  it('places by bus and unit', () => {
    expect(config('-drive', 'file=a,bus=1,unit=1').drives[0]).toMatchObject({ index: 3, id: 'ide1-hd1' });
  });

  it('an empty CD-ROM drive, a floppy and an if=none drive', () => {
    const c = config('-drive', 'if=ide,media=cdrom', '-drive', 'file=f.img,if=floppy', '-drive', 'file=n.img,if=none,id=disk0');
    expect(c.drives[0]).toMatchObject({ media: 'cdrom', readonly: true, id: 'ide0-cd0' });
    expect(c.drives[0]!.file).toBeUndefined();
    expect(c.drives[1]).toMatchObject({ interface: 'floppy', index: 0, id: 'floppy0' });
    expect(c.drives[2]).toMatchObject({ interface: 'none', id: 'disk0' });
  });

  it('-snapshot turns on snapshot for every drive that does not say otherwise', () => {
    const c = config('-nodefaults', '-snapshot', '-hda', 'a', '-drive', 'file=b,snapshot=off');
    expect(c.snapshot).toBe(true);
    expect(c.drives.map((d) => d.snapshot)).toEqual([true, false]);
  });

  it('booleans: on/off/yes/no and the bare short form', () => {
    expect(config('-drive', 'file=a,readonly=yes').drives[0]!.readonly).toBe(true);
    expect(config('-drive', 'file=a,readonly=no').drives[0]!.readonly).toBe(false);
    expect(config('-drive', 'file=a,readonly').drives[0]!.readonly).toBe(true);
    expect(config('-drive', 'file=a,read-only=on').drives[0]!.readonly).toBe(true);
  });
});

describe('-boot', () => {
  it('order, once, menu, strict', () => {
    expect(config('-boot', 'order=dc,once=n,menu=on,strict=on').boot).toEqual({ order: 'dc', once: 'n', menu: true, strict: true });
  });
  it('the legacy -boot d', () => {
    expect(config('-boot', 'd').boot.order).toBe('d');
  });
});

describe('direct kernel boot and firmware', () => {
  it('-kernel, -initrd, -append, -bios, -L', () => {
    const c = config('-kernel', 'bzImage', '-initrd', 'mod1 arg,mod2', '-append', 'console=ttyS0', '-bios', 'b.bin', '-L', '/fw', '-L', '/fw2');
    expect(c).toMatchObject({ kernel: 'bzImage', initrd: 'mod1 arg,mod2', append: 'console=ttyS0', bios: 'b.bin', dataDirs: ['/fw', '/fw2'] });
  });
});

describe('chardevs and their frontends', () => {
  it('-serial forms', () => {
    const c = config(
      '-serial', 'stdio',
      '-serial', 'file:log.txt',
      '-serial', 'pipe:/tmp/p',
      '-serial', 'tcp:localhost:4444,server=on,wait=off',
    );
    expect(c.serials).toEqual(['serial0', 'serial1', 'serial2', 'serial3']);
    expect(c.chardevs.slice(1).map((ch) => ch.backend)).toEqual([
      { kind: 'stdio', signal: true },
      { kind: 'file', path: 'log.txt', append: false },
      { kind: 'pipe', path: '/tmp/p' },
      { kind: 'socket', host: 'localhost', port: 4444, server: true, wait: false, telnet: false },
    ]);
  });

  it('the old server,nowait form and telnet', () => {
    const [serial] = config('-nodefaults', '-serial', 'telnet::4444,server,nowait').chardevs;
    expect(serial!.backend).toEqual({ kind: 'socket', host: '', port: 4444, server: true, wait: false, telnet: true });
  });

  it('unix sockets', () => {
    const [serial] = config('-nodefaults', '-serial', 'unix:/tmp/s.sock,server=on').chardevs;
    expect(serial!.backend).toEqual({ kind: 'socket', path: '/tmp/s.sock', server: true, wait: true, telnet: false });
  });

  it('-serial none drops the port without using up COM1', () => {
    const c = config('-serial', 'none', '-serial', 'null');
    expect(c.serials).toEqual(['serial0']);
  });

  it('-serial chardev:id and -mon on a muxed -chardev', () => {
    const c = config('-chardev', 'stdio,id=con,mux=on,signal=off', '-serial', 'chardev:con', '-mon', 'chardev=con,mode=readline');
    expect(c.chardevs).toEqual([{ id: 'con', backend: { kind: 'stdio', signal: false }, mux: true }]);
    expect(c.serials).toEqual(['con']);
    expect(c.monitors).toEqual([{ chardev: 'con', mode: 'readline', pretty: false }]);
  });

  it('-chardev backends and common keys', () => {
    const c = config(
      '-nodefaults',
      '-chardev', 'null,id=n',
      '-chardev', 'file,id=f,path=out.log,append=on,logfile=copy.log',
      '-chardev', 'pipe,id=p,path=fifo',
      '-chardev', 'socket,id=s,host=127.0.0.1,port=5555,server=on,wait=off,telnet=on',
      '-chardev', 'socket,id=u,path=/tmp/u.sock,reconnect=2',
      '-chardev', 'vc,id=v',
    );
    expect(c.chardevs).toEqual([
      { id: 'n', backend: { kind: 'null' }, mux: false },
      { id: 'f', backend: { kind: 'file', path: 'out.log', append: true }, mux: false, logfile: 'copy.log' },
      { id: 'p', backend: { kind: 'pipe', path: 'fifo' }, mux: false },
      { id: 's', backend: { kind: 'socket', host: '127.0.0.1', port: 5555, server: true, wait: false, telnet: true }, mux: false },
      { id: 'u', backend: { kind: 'socket', path: '/tmp/u.sock', server: false, wait: false, telnet: false, reconnect: 2 }, mux: false },
      { id: 'v', backend: { kind: 'vc' }, mux: false },
    ]);
  });

  it('-monitor, -qmp, -qmp-pretty', () => {
    const c = config('-monitor', 'tcp::4444,server=on,wait=off', '-qmp', 'unix:/tmp/q,server=on,wait=off', '-qmp-pretty', 'null');
    expect(c.monitors).toEqual([
      { chardev: 'compat_monitor0', mode: 'readline', pretty: false },
      { chardev: 'compat_monitor1', mode: 'control', pretty: false },
      { chardev: 'compat_monitor2', mode: 'control', pretty: true },
    ]);
  });

  it('-serial mon:stdio replaces the default monitor', () => {
    const c = config('-serial', 'mon:stdio');
    expect(c.monitors).toEqual([{ chardev: 'serial0', mode: 'readline', pretty: false }]);
    expect(c.chardevs).toEqual([{ id: 'serial0', backend: { kind: 'stdio', signal: false }, mux: true }]);
  });
});

describe('devices', () => {
  it('-device isa-debug-exit with its defaults and with properties', () => {
    expect(config('-device', 'isa-debug-exit').devices).toEqual([{ driver: 'isa-debug-exit', iobase: 0x501, iosize: 2 }]);
    expect(config('-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04').devices).toEqual([
      { driver: 'isa-debug-exit', iobase: 0xf4, iosize: 4 },
    ]);
  });

  it('-device isa-debugcon on a -chardev, with an id', () => {
    const c = config('-chardev', 'file,id=dbg,path=dbg.log', '-device', 'isa-debugcon,chardev=dbg,id=con0');
    expect(c.devices).toEqual([{ driver: 'isa-debugcon', iobase: 0xe9, chardev: 'dbg', id: 'con0' }]);
  });

  it('-debugcon creates the chardev and the device', () => {
    const c = config('-nodefaults', '-debugcon', 'file:debug.log');
    expect(c.chardevs).toEqual([{ id: 'debugcon', backend: { kind: 'file', path: 'debug.log', append: false }, mux: false }]);
    expect(c.devices).toEqual([{ driver: 'isa-debugcon', iobase: 0xe9, chardev: 'debugcon', id: 'debugcon' }]);
  });

  it('-global sets a default that -device can still override', () => {
    const c = config('-global', 'isa-debug-exit.iobase=0xf4', '-device', 'isa-debug-exit', '-device', 'isa-debug-exit,iobase=0x600,iosize=1');
    expect(c.devices).toEqual([
      { driver: 'isa-debug-exit', iobase: 0xf4, iosize: 2 },
      { driver: 'isa-debug-exit', iobase: 0x600, iosize: 1 },
    ]);
    expect(c.globals).toEqual([{ driver: 'isa-debug-exit', property: 'iobase', value: '0xf4' }]);
  });

  it('-global in its long form applies to -debugcon', () => {
    const c = config('-global', 'driver=isa-debugcon,property=iobase,value=0x402', '-debugcon', 'stdio', '-nodefaults');
    expect(c.devices[0]).toMatchObject({ driver: 'isa-debugcon', iobase: 0x402 });
  });
});

describe('run control, logging and the rest', () => {
  it('flags', () => {
    const c = config('-no-reboot', '-no-shutdown', '-S', '-daemonize', '-nodefaults', '-vga', 'none', '-no-hpet');
    expect(c).toMatchObject({ noReboot: true, noShutdown: true, startPaused: true, daemonize: true, noDefaults: true, vga: 'none' });
    expect(c.action).toEqual({ reboot: 'shutdown', shutdown: 'pause', panic: 'shutdown' });
  });

  it('-action', () => {
    const c = config('-action', 'reboot=shutdown,shutdown=pause,panic=none');
    expect(c.action).toEqual({ reboot: 'shutdown', shutdown: 'pause', panic: 'none' });
    expect(c.noReboot).toBe(true);
    expect(c.noShutdown).toBe(true);
  });

  it('-s and -gdb', () => {
    expect(config('-s').gdb).toBe('tcp::1234');
    expect(config('-gdb', 'tcp::9000').gdb).toBe('tcp::9000');
    expect(config('-gdb', '9001').gdb).toBe('tcp::9001');
    expect(config('-gdb', 'unix:/tmp/gdb.sock,server=on,wait=off').gdb).toBe('unix:/tmp/gdb.sock,server=on,wait=off');
    expect(config('-s', '-gdb', 'none').gdb).toBeUndefined();
  });

  it('-d, -D', () => {
    const c = config('-d', 'in_asm,int,unimp', '-D', 'trace.log');
    expect(c.logItems).toEqual(['in_asm', 'int', 'unimp']);
    expect(c.logFile).toBe('trace.log');
  });

  it('-name, -pidfile, -echr, -display curses', () => {
    expect(config('-name', 'guest=vm1').name).toBe('vm1');
    expect(config('-name', 'vm2').name).toBe('vm2');
    expect(config('-pidfile', 'vm.pid').pidfile).toBe('vm.pid');
    expect(config('-echr', '0x14').escapeChar).toBe(0x14);
    expect(config('-echr', '2').escapeChar).toBe(2);
    expect(config('-display', 'curses').display).toBe('curses');
  });

  it('-rtc', () => {
    expect(config('-rtc', 'base=localtime,clock=vm,driftfix=slew').rtc).toEqual({ base: 'localtime', clock: 'vm', driftfix: 'slew' });
    expect(config('-rtc', 'base=2006-06-17T16:01:21').rtc.base).toBe(Date.UTC(2006, 5, 17, 16, 1, 21));
    expect(config('-rtc', 'base=2006-06-17').rtc.base).toBe(Date.UTC(2006, 5, 17));
  });

  it('accepts the "none" forms of what tsvm lacks', () => {
    expect(() => config('-vnc', 'none', '-net', 'none', '-nic', 'none', '-parallel', 'none')).not.toThrow();
  });
});
