/** `tsvm-img snapshot [-l | -a snapshot | -c snapshot | -d snapshot] [-f fmt] filename` */
import { openImage } from '../block/qcow2-chain.js';
import { applySnapshot, createSnapshot, deleteSnapshot } from '../block/qcow2-snapshot.js';
import { Qcow2Image } from '../block/qcow2.js';
import { ImgError } from './errors.js';
import { imageFormat } from './format.js';
import { snapshotTable } from './snapshot-list.js';

export interface SnapshotFlags {
  format?: string;
  list?: boolean;
  apply?: string;
  create?: string;
  delete?: string;
}

export function snapshot(file: string, flags: SnapshotFlags): void {
  const actions = [flags.list, flags.apply, flags.create, flags.delete].filter((a) => a !== undefined && a !== false);
  if (actions.length > 1) throw new ImgError('Cannot mix \'-l\', \'-a\', \'-c\', \'-d\'');
  const list = actions.length === 0 || flags.list === true;
  const image = openImage(file, { format: imageFormat(flags.format), readOnly: list, noBacking: true });
  try {
    if (!(image instanceof Qcow2Image)) throw new ImgError(`Could not ${list ? 'list' : 'change'} snapshots of '${file}': the raw format has no snapshots`);
    if (list) {
      if (image.snapshots.length > 0) process.stdout.write(snapshotTable(image.snapshots));
    } else if (flags.create !== undefined) {
      attempt(`create snapshot '${flags.create}'`, () => createSnapshot(image, flags.create!));
    } else if (flags.apply !== undefined) {
      attempt(`apply snapshot '${flags.apply}'`, () => applySnapshot(image, flags.apply!));
    } else if (flags.delete !== undefined) {
      attempt(`delete snapshot '${flags.delete}'`, () => deleteSnapshot(image, flags.delete!));
    }
  } finally {
    image.close();
  }
}

function attempt(what: string, action: () => unknown): void {
  try {
    action();
  } catch (err) {
    const message = (err as Error).message;
    throw new ImgError(message.startsWith('Could not') ? message : `Could not ${what}: ${message}`);
  }
}
