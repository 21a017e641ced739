// After the engine and before teardown, one read of the mount table: every
// mount this run made must still be there with its own source. A mount that
// went away during the backup (unmounted from outside, say by another run's
// recovery) left the engine an empty directory, and one mounted over ours
// showed it something else: that backup is not ok.
import { errorMessage } from '../core/errors.js';
import { platformFor } from '../platform/detect.js';
import type { MountEntry } from '../zfs/mount-table.js';
import type { Plan } from '../plan/types.js';
import type { ApplyContext, UndoEntry } from './context.js';

/**
 * Whether a mount table entry is this run's mount of `source`. A dataset
 * renamed during the backup renames its snapshot mounts' source too (OpenZFS
 * 2.3 shows the new name): the same snapshot is a zfs mount whose source ends
 * in this run's unique snapshot name.
 */
export function sameSnapshotMount(m: MountEntry, source: string, snapshot: string): boolean {
  return m.source === source || (m.fstype === 'zfs' && m.source.endsWith(`@${snapshot}`));
}

/** The mount table by target, in table order (the last entry at a target is the one on top). */
export function mountsAt(table: readonly MountEntry[]): Map<string, MountEntry[]> {
  const at = new Map<string, MountEntry[]>();
  for (const m of table) {
    const here = at.get(m.target);
    if (here) here.push(m);
    else at.set(m.target, [m]);
  }
  return at;
}

/**
 * The mounts of `undo` that are gone or covered, as "TARGET (SOURCE...)"
 * lines. Those gone are taken off the stack (their journal entries done):
 * teardown must not unmount whatever may be at that target now. A covered
 * one stays: its unmount fails on the foreign mount on top, a leftover.
 */
export async function lostMounts(undo: UndoEntry[], plan: Plan, ctx: ApplyContext): Promise<string[]> {
  const ours = undo.filter((u) => u.undo.phase === 'umount');
  if (!ours.length) return [];
  let table;
  try {
    table = await (ctx.platform ?? platformFor(plan.engineContext.platform)).readMounts(ctx.runner);
  } catch (e) {
    return [`the mount table could not be read to check them (${errorMessage(e)})`];
  }
  const same = (m: MountEntry, source: string) => sameSnapshotMount(m, source, plan.snapshot);
  const at = mountsAt(table);
  const lost: string[] = [];
  for (const u of ours) {
    const target = String(u.step.detail?.['target']);
    const source = String(u.step.detail?.['source']);
    const here = at.get(target) ?? [];
    if (here.some((m) => same(m, source))) {
      // The last entry at a target is the one on top: what the engine saw there.
      const t = here[here.length - 1]!;
      if (!same(t, source)) lost.push(`${target} (${source}: ${t.source} was mounted over it)`);
      continue;
    }
    lost.push(`${target} (${source})`);
    undo.splice(undo.indexOf(u), 1);
    if (u.seq) ctx.journal?.undone(u.seq);
  }
  return lost;
}
