// A selected dataset mounted below another selected one is reached inside
// that one's read-only snapshot. If something else is mounted in between
// (A and A/B/C selected, A/B mounted but not selected, or any other
// filesystem there), the folder for the deeper mount is not in A's snapshot:
// the run could never mount it. Named up front with what is in the way:
// refused for a dataset the user named, skipped with that reason for one a
// property selected (see select.ts).
import { posix } from 'node:path';
import { UsageError } from '../core/errors.js';
import { isBelow } from '../core/paths.js';
import type { Dataset } from '../discover/inventory.js';
import type { MountEntry } from '../zfs/mount-table.js';

export interface Unreachable {
  dataset: Dataset;
  message: string;
}

export function unreachableNested(selected: Dataset[], mounts: MountEntry[]): Unreachable[] {
  const out: Unreachable[] = [];
  const at = new Map<string, Dataset>();
  for (const d of selected) if (d.mountedAt) at.set(d.mountedAt, d);
  const mounted = new Map<string, MountEntry>();
  for (const m of mounts) if (!mounted.has(m.target)) mounted.set(m.target, m);
  for (const d of selected) {
    const mp = d.mountedAt;
    if (!mp || mp === '/') continue;
    // Walk up to the nearest selected mount above; anything mounted on the way is in the way.
    const between: string[] = [];
    for (let p = posix.dirname(mp); ; p = posix.dirname(p)) {
      const parent = at.get(p);
      if (parent) {
        const blocker = between.find((b) => isBelow(b, p));
        if (blocker) {
          const m = mounted.get(blocker)!;
          const what = m.fstype === 'zfs' && !m.source.includes('@') ? `the dataset ${m.source}` : `${m.source} (${m.fstype})`;
          out.push({
            dataset: d,
            message: `${d.name} (mounted at ${mp}) cannot be reached inside ${parent.name}'s snapshot: ${what} is mounted at ${blocker} in between and is not selected; select it too (e.g. with -r), or exclude ${d.name}`,
          });
        }
        break;
      }
      if (mounted.has(p)) between.push(p);
      if (p === '/') break;
    }
  }
  return out;
}

/** Throws for the first unreachable dataset: for selections the user spelled out. */
export function checkNestedReachable(selected: Dataset[], mounts: MountEntry[]): void {
  const first = unreachableNested(selected, mounts)[0];
  if (first) throw new UsageError(first.message);
}
