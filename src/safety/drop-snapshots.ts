// Releasing our holds on snapshots and destroying them, then checking with
// one `zfs list` that they are really gone (OpenZFS issue 1210: a destroy
// reported success and left a mounted snapshot). Whatever remains is a
// leftover, with the reason zfs gave.
import type { Runner } from '../core/exec.js';
import { CommandError } from '../core/errors.js';
import { retryWhileBusy } from '../core/retry.js';
import { existingSnapshots, heldByUs } from '../discover/snapshots.js';
import { HOLD_TAG } from '../plan/naming.js';

export interface Leftover {
  what: string;
  reason: string;
}

export function errorReason(e: unknown): string {
  if (e instanceof CommandError) {
    const text = e.stderr.trim().split('\n')[0];
    return e.reason === 'program-missing' || e.reason === 'spawn-failed' || !text ? e.message : text;
  }
  return (e as Error).message;
}

/**
 * names: the snapshots to remove (all of one run); roots: `root@snap` names
 * whose `zfs destroy -r` reaches exactly them (one transaction per pool).
 * Returns how many were removed and what remains.
 */
export async function dropSnapshots(runner: Runner, names: readonly string[], roots: readonly string[] = []): Promise<{ dropped: number; leftovers: Leftover[] }> {
  const exist = await existingSnapshots(runner, names);
  if (!exist.length) return { dropped: 0, leftovers: [] };
  const why = new Map<string, string>();
  const held = await heldByUs(runner, exist);
  if (held.length) {
    try {
      await runner.run(['zfs', 'release', HOLD_TAG, ...held], { mutates: true });
    } catch (e) {
      for (const n of held) why.set(n, `could not release our hold: ${errorReason(e)}`);
    }
  }
  const destroy = (target: string, recursive: boolean) =>
    retryWhileBusy(() => runner.run(['zfs', 'destroy', ...(recursive ? ['-r'] : []), target], { mutates: true }), 4, 250);
  let ok = roots.length > 0;
  for (const r of roots) {
    try {
      await destroy(r, true);
    } catch {
      ok = false; // one snapshot that cannot go (a clone) stops the whole -r destroy: try one by one
    }
  }
  let left = await existingSnapshots(runner, exist);
  if (left.length && !ok) {
    for (const n of left) {
      try {
        await destroy(n, false);
      } catch (e) {
        if (!why.has(n)) why.set(n, errorReason(e));
      }
    }
    left = await existingSnapshots(runner, left);
  }
  return {
    dropped: exist.length - left.length,
    leftovers: left.map((n) => ({ what: `snapshot ${n}`, reason: why.get(n) ?? 'it is still there after zfs destroy reported success' })),
  };
}
