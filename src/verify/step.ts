// The glue between a run and its verification: what main passes to the
// executor (afterBackup) and how the result is told (stderr lines, a
// `verify` event; the summary carries the same object).
import type { Runner } from '../core/exec.js';
import type { Reporter } from '../core/report.js';
import type { ApplyResult } from '../execute/context.js';
import type { Interrupt } from '../execute/interrupt.js';
import type { Plan } from '../plan/types.js';
import { mib } from './space.js';
import { emptyResult, type VerifyResult } from './result.js';
import { verifyBackup } from './verify.js';

export interface VerifyStep {
  afterBackup: (r: ApplyResult) => Promise<void>;
  /** null until the backup ended (or when there was no backup to verify). */
  result: () => VerifyResult | null;
}

export function verifyStep(
  percent: number,
  verifyCommand: string[] | null,
  plan: Plan,
  deps: { runner: Runner; reporter: Reporter; interrupt: Interrupt; env: Record<string, string> },
): VerifyStep {
  let result: VerifyResult | null = null;
  return {
    result: () => result,
    afterBackup: async (r) => {
      // The verification reads back from the first repository: its backup must have succeeded.
      const outcome = r.backup?.repositories?.[0]?.outcome ?? r.backup?.outcome;
      // Only a backup that succeeded is verified. A partial one (restic exit 3,
      // kopia file errors) is already known to miss what it could not read:
      // it keeps its own status (exit 3), and the verification says skipped.
      if (outcome !== 'ok' || deps.interrupt.signal) {
        const why = deps.interrupt.signal ? `interrupted by ${deps.interrupt.signal}` : `the backup ${outcome === 'partial' ? 'is partial' : 'failed'}`;
        result = emptyResult(percent, 'skipped', why);
      } else {
        try {
          result = await verifyBackup({ ...deps, plan, percent, verifyCommand, stdouts: r.backup?.stdouts ?? [] });
        } catch (e) {
          // verifyBackup reports its own errors; this is a bug, but must not pass for a verified backup
          result = emptyResult(percent, 'error', `internal error: ${(e as Error).message}`);
        }
      }
      tell(deps.reporter, result);
    },
  };
}

export function tell(reporter: Reporter, v: VerifyResult): void {
  reporter.event('verify', { ...v });
  const extra = [
    v.excluded ? `${v.excluded} excluded` : '',
    v.notStored ? `${v.notStored} not stored by the engine` : '',
    v.unjudged ? `${v.unjudged} absent and not judged` : '',
  ].filter(Boolean);
  const counts = `${v.entries} entries, ${v.filesCompared}/${v.files} file contents (${mib(v.bytesCompared)})${extra.map((x) => `, ${x}`).join('')} in ${(v.ms / 1000).toFixed(1)} s`;
  if (v.status === 'ok') reporter.info(`verified: the backup restores to the frozen tree (${counts})`);
  else if (v.status === 'failed') {
    reporter.error(`verification failed: ${v.differences} difference(s) between the backup and the frozen tree (${counts})`);
    for (const d of v.firstDifferences) reporter.error(`  ${d.path}: ${d.what}`);
    if (v.differences > v.firstDifferences.length) reporter.error(`  ... and ${v.differences - v.firstDifferences.length} more`);
    if (v.message) reporter.error(`  (${v.message})`);
  } else if (v.status === 'error') reporter.error(`verification could not run: ${v.message ?? 'unknown error'}`);
  else reporter.warn(`verification skipped: ${v.message ?? ''}`);
  if (v.status === 'skipped') return;
  if (v.excluded) reporter.info(`excluded from the backup: ${v.excludedPaths.join(', ')}${v.excluded > v.excludedPaths.length ? ', ...' : ''}`);
  const more = (n: number, shown: number) => (n > shown ? ` ... and ${n - shown} more` : '');
  for (const p of v.notStoredPaths) reporter.info(`${p.why}: ${p.path}`);
  if (v.notStored > v.notStoredPaths.length) reporter.info(`not stored by the engine:${more(v.notStored, v.notStoredPaths.length)}`);
  // Absent, and neither excluded by a rule nor known to be lost: the verification cannot vouch for these.
  for (const p of v.unjudgedPaths) reporter.warn(`absent from the backup, could not be judged: ${p.path} (${p.why})`);
  if (v.unjudged > v.unjudgedPaths.length) reporter.warn(`absent from the backup, could not be judged:${more(v.unjudged, v.unjudgedPaths.length)}`);
}
