// Which of a job's snapshots a restore reads, and where the real paths the
// operator names (/tank/home/alice/docs) are inside them: in the tree layout
// under the mount root at the dataset's place (/restic/tank/home/alice/docs),
// in the paths layout at the real path itself. Pure.
import { posix } from 'node:path';
import { UsageError } from '../core/errors.js';
import { isWithin } from '../core/paths.js';
import type { JobSnapshot } from './engine.js';

export interface RestoreChoice {
  /** A snapshot id (or its unique start); null: the job's newest. */
  snapshotId: string | null;
  /** Real paths, absolute; none: the whole snapshot. */
  paths: string[];
  /** Whether the backup was made of the tree under the mount root. */
  tree: boolean;
  mountRoot: string;
}

/** Where a real path is inside the backup. */
export function insidePath(real: string, tree: boolean, mountRoot: string): string {
  return tree ? posix.join(mountRoot, real).replace(/(.)\/$/, '$1') : real;
}

/** A real path as given: absolute, normalised; refused when it cannot name itself exactly. */
export function checkRestorePath(p: string): string {
  if (!p.startsWith('/')) throw new UsageError(`a path to restore must be absolute (the real path, as /tank/home/alice/docs): ${p}`);
  // restic reads --include as a pattern: a path with these would name other files too.
  if (/[*?[\\\n]/.test(p)) throw new UsageError(`a path to restore cannot hold *, ?, [, \\ or a newline: ${JSON.stringify(p)}`);
  return posix.normalize(p).replace(/(.)\/+$/, '$1');
}

/**
 * The snapshots to restore and, per snapshot, the paths inside it (none: all
 * of it). The newest are those of the job's last backup: every snapshot of
 * that time (kopia's paths layout makes one per source, all with the run's
 * time). Throws a UsageError when the snapshot or a path is not there.
 */
export function chooseRestore(snaps: JobSnapshot[], c: RestoreChoice, what: string): { snap: JobSnapshot; inside: string[] }[] {
  let chosen: JobSnapshot[];
  if (c.snapshotId !== null) {
    const id = c.snapshotId;
    chosen = snaps.filter((s) => s.id === id);
    if (!chosen.length) chosen = snaps.filter((s) => id.length >= 4 && s.id.startsWith(id));
    if (chosen.length !== 1) throw new UsageError(`${chosen.length ? `${id} names ${chosen.length} snapshots` : `no snapshot ${id}`} of ${what}: give one of ${snaps.map((s) => s.id.slice(0, 8)).join(', ') || 'none'}`);
  } else {
    const newest = snaps.reduce((t, s) => (s.time > t ? s.time : t), '');
    chosen = snaps.filter((s) => s.time === newest);
    if (!chosen.length) throw new UsageError(`${what} has no snapshot to restore`);
  }
  const inside = c.paths.map((p) => ({ real: p, at: insidePath(p, c.tree, c.mountRoot) }));
  for (const p of inside) {
    if (!chosen.some((s) => s.paths.some((root) => isWithin(p.at, root)))) {
      throw new UsageError(`${p.real} is not in the backup (${p.at} is not inside ${chosen.flatMap((s) => s.paths).join(', ') || 'any path'} of snapshot ${chosen.map((s) => s.id.slice(0, 8)).join(', ')})`);
    }
  }
  return chosen
    .map((snap) => ({ snap, inside: inside.filter((p) => snap.paths.some((root) => isWithin(p.at, root))).map((p) => p.at) }))
    .filter((x) => !c.paths.length || x.inside.length);
}
