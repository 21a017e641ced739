// What `-n --verify` shows: the verification's commands, after the backup and
// before cleanup. ID (the snapshot or manifest id) and DIR (the private
// restore directory) are only known during the run, so they are shown as names.
import { quoteArgv } from '../core/errors.js';
import type { Plan } from '../plan/types.js';

export function verifyPlanLines(plan: Plan, percent: number, verifyCommand: string[] | null): string[] {
  const first = plan.repositories[0];
  const from = plan.repositories.length > 1 || first?.configured ? ` from repository ${first!.name}` : '';
  const lines = [`# verify (${percent < 100 ? `contents of ${percent}% of the files, every name` : 'every file'})${from}, before cleanup`];
  const restore = plan.engine.restoreLines({ ctx: plan.engineContext, snapshot: plan.snapshot, mountRoot: plan.mountRoot, probe: plan.probe, verifyCommand });
  lines.push(...restore.map(quoteArgv));
  lines.push(`# compare DIR with the frozen tree, then remove DIR`);
  return lines;
}
