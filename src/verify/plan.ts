// What `-n --verify` shows: the verification's commands, after the backup and
// before cleanup. ID (the snapshot or manifest id) and DIR (the private
// restore folder) are only known during the run, so they are shown as names.
import { quoteArgv } from '../core/errors.js';
import { kopiaRestoreArgv } from '../engine/kopia.js';
import { resticBase, resticRestoreArgv, resticSnapshotsArgv, resticStatsArgv, parseResticVersion } from '../engine/restic.js';
import { verifyCommandArgv } from '../engine/command.js';
import type { Plan } from '../plan/types.js';

export function verifyPlanLines(plan: Plan, percent: number, verifyCommand: string[] | null): string[] {
  const ctx = plan.engineContext;
  const lines = [`# verify (${percent < 100 ? `contents of ${percent}% of the files, every name` : 'every file'}), before cleanup`];
  if (plan.engine.name === 'restic') {
    const base = resticBase(ctx.command, ctx.options);
    const version = plan.probe.version ? parseResticVersion(`restic ${plan.probe.version}`) : null;
    lines.push(quoteArgv(resticSnapshotsArgv(base, plan.snapshot)), quoteArgv(resticStatsArgv(base, 'ID')), quoteArgv(resticRestoreArgv(base, 'ID', 'DIR', version)));
  } else if (plan.engine.name === 'kopia') {
    lines.push(quoteArgv(kopiaRestoreArgv(ctx.command, 'ID', 'DIR/0')));
  } else if (verifyCommand) {
    lines.push(quoteArgv(verifyCommandArgv(verifyCommand, plan.mountRoot, 'DIR/root')));
  }
  lines.push(`# compare DIR with the frozen tree, then remove DIR`);
  return lines;
}
