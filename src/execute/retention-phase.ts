// The retention, after cleanup: for each repository whose backup succeeded,
// the commands the plan holds for it (restic forget, kopia's policy). It runs
// once the snapshots are gone, so it never holds them longer than the backups
// need; it cannot be undone, so it runs only after a backup that is known good.
import type { Runner } from '../core/exec.js';
import type { Reporter } from '../core/report.js';
import { errorMessage } from '../core/errors.js';
import type { Plan } from '../plan/types.js';
import { display } from '../plan/display.js';
import type { ApplyResult } from './context.js';
import type { Interrupt } from './interrupt.js';

export interface RetentionContext {
  runner: Runner;
  reporter: Reporter;
  interrupt: Interrupt;
  /** KOPIATOMIC_* variables and the job's env; each repository's env goes over it. */
  env: Record<string, string>;
  /** Why no retention may run at all (the verification did not pass), or null. */
  hold: string | null;
}

/**
 * Applies each repository's retention after its backup, recording the result
 * on the repository's outcome. Returns the messages of those that failed.
 */
export async function applyRetention(plan: Plan, result: ApplyResult, ctx: RetentionContext): Promise<string[]> {
  const failures: string[] = [];
  for (const [k, repo] of plan.repositories.entries()) {
    const out = result.backup?.repositories?.[k];
    if (!out || !repo.retention.length) continue;
    // Only a complete backup counts towards what is kept: after a partial or
    // failed one, or one whose verification did not pass, forgetting could
    // drop a good snapshot and keep the doubtful one.
    const why = ctx.interrupt.signal ? `interrupted by ${ctx.interrupt.signal}` : out.outcome !== 'ok' ? `the backup ${out.outcome === 'partial' ? 'is partial' : 'failed'}` : ctx.hold;
    const where = plan.repositories.length > 1 || repo.configured ? ` of repository ${repo.name}` : '';
    if (why) {
      out.retention = { status: 'skipped', message: why };
      ctx.reporter.warn(`retention${where} skipped: ${why}`);
      continue;
    }
    const message = await runRetention(repo.retention, { ...process.env, ...ctx.env, ...repo.env }, ctx);
    out.retention = message ? { status: 'failed', message } : { status: 'ok' };
    ctx.reporter.event('retention', { repository: repo.name, status: out.retention.status, ...(message ? { error: message } : {}) });
    if (message) {
      failures.push(`retention${where}: ${message}`);
      ctx.reporter.error(`retention${where} failed: ${message} (the backup itself is saved)`);
    } else ctx.reporter.info(`retention${where} applied`);
  }
  return failures;
}

/** Runs the commands in order, output live; null when all exited 0, else what failed (the rest are not run). */
export async function runRetention(calls: string[][], env: NodeJS.ProcessEnv, ctx: Pick<RetentionContext, 'runner' | 'reporter' | 'interrupt'>): Promise<string | null> {
  for (const argv of calls) {
    if (ctx.interrupt.signal) return `interrupted by ${ctx.interrupt.signal}`;
    ctx.reporter.event('step', { phase: 'retention', command: display({ kind: 'exec', argv, mutates: true }) });
    try {
      const p = ctx.runner.live(argv, { env, stdoutToStderr: ctx.reporter.json });
      ctx.interrupt.setChild(p.child);
      const { code, signal } = await p.done;
      ctx.interrupt.setChild(null);
      if (signal) return `${argv[0]} was killed by ${signal}`;
      if (code !== 0) return `${display({ kind: 'exec', argv, mutates: true })} exited with ${code}`;
    } catch (e) {
      ctx.interrupt.setChild(null);
      return errorMessage(e);
    }
  }
  return null;
}
