// `kopiatomic forget [JOB...]`: each job's retention alone, for each of its
// repositories, as a run applies it after a successful backup (restic forget
// scoped to the job's tag and this host; kopia's source policy). No snapshot,
// no mount: it takes no lock (the engine locks its own repository). `-n`
// shows what would go (restic forget --dry-run) or, where the engine cannot
// show it (kopia), prints the commands without running them.
import { hostname } from 'node:os';
import { quoteArgv, UsageError } from '../core/errors.js';
import { EXIT, interruptedCode, worstOf, type StatusCode } from '../core/exit-status.js';
import { topSources } from '../engine/engine.js';
import type { JobOptions } from '../config/job.js';
import { discover } from '../discover/inventory.js';
import { runRetention } from '../execute/retention-phase.js';
import type { Options } from './options.js';
import type { CommandSpec } from './command.js';
import { configModules } from './config-modules.js';
import { OUTPUT_FLAGS } from './flags.js';
import { checkEngineInstalled, retentionProblem, selectFor } from './backup.js';
import { reportError, type CommandContext } from './lifecycle.js';

export async function forgetCommand(opts: Options, ctx: CommandContext): Promise<number> {
  const { loadConfig, resolveJobs } = await configModules();
  const { reporter } = ctx;
  const loaded = loadConfig(opts.configFile, ctx.platform.name);
  const jobs = resolveJobs(loaded, opts.names, { flavour: ctx.flavour, platform: ctx.platform.name, readEnvFiles: true, flags: opts });
  const results: (StatusCode & { job: string })[] = [];
  for (const job of jobs) {
    if (ctx.interrupt.signal) break;
    let s: StatusCode;
    let repositories: { repository: string; status: string; error?: string }[] = [];
    try {
      ({ s, repositories } = await forgetJob(job, opts.dryRun, ctx));
    } catch (e) {
      s = reportError(ctx, e);
    }
    reporter.event('summary', { job: job.job, status: s.status, exitCode: s.code, dryRun: opts.dryRun, repositories });
    results.push({ job: job.job, ...s });
  }
  if (ctx.interrupt.signal) results.push({ job: '', status: 'interrupted', code: interruptedCode(ctx.interrupt.signal) });
  return worstOf(results)?.code ?? EXIT.ok;
}

async function forgetJob(job: JobOptions, dryRun: boolean, ctx: CommandContext): Promise<{ s: StatusCode; repositories: { repository: string; status: string; error?: string }[] }> {
  const { reporter } = ctx;
  const who = `job ${job.job}`;
  if (!job.retention) {
    reporter.info(`${who}: no retention configured ([jobs.${job.job}.retention]): skipped`);
    return { s: { status: 'ok', code: EXIT.ok }, repositories: [] };
  }
  retentionProblem(job);
  checkEngineInstalled(job, dryRun, ctx);
  const sources = job.layout === 'paths' ? await pathSources(job, ctx) : [job.mountRoot];
  const repositories: { repository: string; status: string; error?: string }[] = [];
  let failed = false;
  for (const repo of job.repositories) {
    if (ctx.interrupt.signal) break;
    const env = { ...process.env, ...repo.env };
    const where = `${who}${job.repositories.length > 1 || repo.configured ? `, repository ${repo.name}` : ''}`;
    const plan = job.engine.retention({ command: job.command, options: job.options, job: job.job, retention: job.retention, sources, env, hostname: hostname(), dryRun });
    if ('problem' in plan) throw new UsageError(plan.problem);
    if (dryRun && !plan.readOnly) {
      // The engine cannot show what would go without changing something: its commands, not run.
      reporter.print(`# ${where}: retention (not run)`);
      for (const argv of plan.calls) reporter.print(quoteArgv(argv));
      repositories.push({ repository: repo.name, status: 'not-run' });
      continue;
    }
    reporter.info(`${where}: ${dryRun ? 'what the retention would forget' : 'applying the retention'}`);
    const message = await runRetention(plan.calls, env, ctx);
    if (message) {
      failed = true;
      reporter.error(`${where}: retention failed: ${message}`);
    }
    repositories.push({ repository: repo.name, status: message ? 'failed' : 'ok', ...(message ? { error: message } : {}) });
  }
  if (ctx.interrupt.signal) return { s: { status: 'interrupted', code: interruptedCode(ctx.interrupt.signal) }, repositories };
  return { s: failed ? { status: 'retention-failed', code: EXIT.retentionFailed } : { status: 'ok', code: EXIT.ok }, repositories };
}

/** The paths layout records each top dataset's real path as a source (kopia's policy is per source). */
async function pathSources(job: JobOptions, ctx: CommandContext): Promise<string[]> {
  const selection = selectFor(job, await discover(ctx.runner, ctx.platform));
  const mounts = selection.selected.map((d) => ({ path: d.mountedAt!, readFrom: d.mountedAt!, dataset: d.name }));
  return topSources(mounts).map((s) => s.path);
}

export const forgetSpec: CommandSpec = {
  words: ['forget'],
  mode: 'forget',
  operands: '[JOB...]',
  summary: "apply the jobs' retention alone (all jobs when none is named)",
  about: `Applies each job's retention to each of its repositories, as a run does
after a successful backup: restic forget of the job's own snapshots made on
this host (its job tag and host name), with --prune when the retention says
so; kopia: the policy of the job's source, then kopia snapshot expire. A job
without a retention is skipped with a message. With -n, restic shows what
would be forgotten and nothing changes; for kopia the commands are printed,
not run. Exit 10 if a retention failed.`,
  flags: ['dry-run', 'config', ...OUTPUT_FLAGS],
  check: (operands) => operands,
  completes: 'job',
};
