/** The snapshot table as qemu-img prints it (bdrv_snapshot_dump) and as JSON (QAPI SnapshotInfo). */
import type { SnapshotEntry } from '../block/qcow2-snapshot-table.js';
import { humanSize } from './size.js';

export function snapshotTable(snapshots: SnapshotEntry[]): string {
  const row = (id: string, tag: string, size: string, date: string, clock: string, icount: string) =>
    `${id.padEnd(9)} ${tag.padEnd(17)} ${size.padStart(7)} ${date.padStart(19)} ${clock.padStart(12)} ${icount.padStart(10)}\n`;
  let out = 'Snapshot list:\n' + row('ID', 'TAG', 'VM SIZE', 'DATE', 'VM CLOCK', 'ICOUNT');
  for (const s of snapshots) {
    const icount = s.icount === undefined || s.icount < 0 ? '' : String(s.icount);
    out += row(s.id, s.name, humanSize(s.vmStateSize), localDate(s.dateSec), vmClock(s.vmClockNsec), icount);
  }
  return out;
}

export function snapshotJson(s: SnapshotEntry): Record<string, unknown> {
  return {
    ...(s.icount !== undefined && s.icount >= 0 ? { icount: s.icount } : {}),
    'vm-clock-nsec': s.vmClockNsec % 1e9,
    name: s.name,
    'date-sec': s.dateSec,
    'date-nsec': s.dateNsec,
    'vm-clock-sec': Math.floor(s.vmClockNsec / 1e9),
    id: s.id,
    'vm-state-size': s.vmStateSize,
  };
}

function localDate(sec: number): string {
  const d = new Date(sec * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function vmClock(nsec: number): string {
  const ms = Math.floor(nsec / 1e6);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(Math.floor(ms / 3_600_000))}:${p(Math.floor(ms / 60_000) % 60)}:${p(Math.floor(ms / 1000) % 60)}.${p(ms % 1000, 3)}`;
}
