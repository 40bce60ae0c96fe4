/**
 * The facts behind `info ...` and `query-*`: machine status, accelerator,
 * CPUs, block devices, chardevs, the memory map. HMP formats them as text,
 * QMP returns them as QAPI objects.
 */
import type { ChardevBackend } from '../config.js';
import type { Pc } from '../machine/pc.js';
import { QEMU_VERSION } from './control.js';

export function statusText(pc: Pc): string {
  const s = pc.runState;
  return s === 'running' ? 'VM status: running' : s === 'paused' ? 'VM status: paused' : `VM status: paused (${s})`;
}

/** QMP's CpuInfoFast for each vCPU (key order as QEMU 7.2 prints it). */
export function cpusFast(pc: Pc): object[] {
  return pc.accel.vcpus.map((v) => ({
    'thread-id': process.pid,
    props: { 'core-id': 0, 'thread-id': 0, 'socket-id': v.index },
    'qom-path': `/machine/unattached/device[${v.index}]`,
    'cpu-index': v.index,
    target: 'x86_64',
  }));
}

export function cpusText(pc: Pc): string {
  return pc.accel.vcpus.map((v) => `${v.index === 0 ? '*' : ' '} CPU #${v.index}: thread_id=${process.pid}\n`).join('');
}

/** The QOM path QEMU would give the drive's device (tsvm has no QOM tree; the shape is what scripts match). */
function qdevPath(driveIndex: number): string {
  return `/machine/unattached/device[${20 + driveIndex}]`;
}

/** QMP's BlockInfo list (key order as QEMU 7.2 prints it). */
export function blockInfo(pc: Pc): object[] {
  return pc.disks.drives.map(({ config, backend }, i) => {
    const inserted = backend && config.file !== undefined
      ? {
          file: config.file,
          ro: backend.readOnly,
          drv: config.format ?? 'raw',
          encrypted: false,
          'backing_file_depth': 0,
          image: { filename: config.file, format: config.format ?? 'raw', 'virtual-size': backend.length },
          'write_threshold': 0,
          cache: {
            writeback: config.cache !== 'writethrough' && config.cache !== 'directsync',
            direct: config.cache === 'none' || config.cache === 'directsync',
            'no-flush': config.cache === 'unsafe',
          },
        }
      : undefined;
    return {
      'io-status': 'ok',
      device: config.id,
      locked: false,
      removable: config.media === 'cdrom',
      inserted,
      qdev: qdevPath(i),
      'tray_open': config.media === 'cdrom' ? false : undefined,
      type: 'unknown',
    };
  });
}

/** `info block` in QEMU's layout: the medium, where the drive is attached, its cache mode, tray state. */
export function blockText(pc: Pc): string {
  return pc.disks.drives
    .map(({ config, backend }, i) => {
      const medium = backend && config.file !== undefined
        ? `${config.id}: ${config.file} (${config.format ?? 'raw'}${backend.readOnly ? ', read-only' : ''})\n`
        : `${config.id}: [not inserted]\n`;
      const attached = `    Attached to:      ${qdevPath(i)}\n`;
      const cache = backend ? `    Cache mode:       ${config.cache}\n` : '';
      const removable = config.media === 'cdrom' ? '    Removable device: not locked, tray closed\n' : '';
      return medium + attached + removable + cache;
    })
    .join('\n');
}

/** The chardev's `filename` as QEMU's query-chardev reports it. */
function chardevFilename(b: ChardevBackend): string {
  switch (b.kind) {
    case 'stdio':
    case 'null':
    case 'vc':
      return b.kind;
    case 'file':
      return `file:${b.path}`;
    case 'pipe':
      return `pipe:${b.path}`;
    case 'socket': {
      const where = b.path !== undefined ? `unix:${b.path}` : `tcp:${b.host || '0.0.0.0'}:${b.port}`;
      // The address as QEMU shows it while a client is connected (the usual case for a monitor that asks).
      return `${where}${b.server ? ',server=on' : ''}`;
    }
  }
}

export function chardevInfo(pc: Pc): { 'frontend-open': boolean; filename: string; label: string }[] {
  return pc.config.chardevs.map((c) => ({ 'frontend-open': true, filename: c.mux ? 'mux' : chardevFilename(c.backend), label: c.id }));
}

export function chardevText(pc: Pc): string {
  return chardevInfo(pc).map((c) => `${c.label}: filename=${c.filename}\n`).join('');
}

/** QMP's VersionInfo, keys in QEMU's order. */
export function versionInfo(): object {
  const { major, minor, micro } = QEMU_VERSION;
  return { qemu: { micro, minor, major }, package: ' (tsvm)' };
}

function range(base: number, size: number): string {
  const h = (n: number) => n.toString(16).padStart(16, '0');
  return `${h(base)}-${h(base + size - 1)}`;
}

/** `info mtree`: system memory (RAM, ROMs, MMIO windows where they are mapped now) and the I/O space, in QEMU's tree shape. */
export function mtreeText(pc: Pc): string {
  const { mem } = pc.bus;
  let out = 'address-space: memory\n';
  out += `  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n`;
  out += `    ${range(0, mem.lowRamTop)} (prio 0, ram): alias ram-below-4g @pc.ram ${range(0, mem.lowRamTop)}\n`;
  if (mem.highRamSize > 0) out += `    ${range(0x1_0000_0000, mem.highRamSize)} (prio 0, ram): alias ram-above-4g @pc.ram\n`;
  for (const { region: r, base, size } of mem.mappedRegions()) {
    out += `    ${range(base, size)} (prio 1, ${r.kind === 'rom' ? 'rom' : 'i/o'}): ${r.name}\n`;
  }
  out += '\naddress-space: I/O\n  0000000000000000-000000000000ffff (prio 0, i/o): io\n';
  return out;
}
