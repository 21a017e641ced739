// After the engine and before teardown, one read of the mount table: every
// mount this run made must still be there with its own source. A mount that
// went away during the backup (unmounted from outside, say by another run's
// recovery) left the engine an empty directory, and one mounted over ours
// showed it something else: that backup is not ok.
import { errorMessage } from '../core/errors.js';
import { platformFor } from '../platform/detect.js';
import type { Plan } from '../plan/plan.js';
import type { ApplyContext } from './apply.js';
import type { UndoEntry } from './mount-phase.js';

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
  const present = new Set(table.map((m) => `${m.source}\0${m.target}`));
  // The last entry at a target is the one on top: what the engine saw there.
  const top = new Map(table.map((m) => [m.target, m.source]));
  const lost: string[] = [];
  for (const u of ours) {
    const target = String(u.step.detail?.['target']);
    const source = String(u.step.detail?.['source']);
    if (present.has(`${source}\0${target}`)) {
      if (top.get(target) !== source) lost.push(`${target} (${source}: ${top.get(target)} was mounted over it)`);
      continue;
    }
    lost.push(`${target} (${source})`);
    undo.splice(undo.indexOf(u), 1);
    if (u.seq) ctx.journal?.undone(u.seq);
  }
  return lost;
}
