// `kopiatomic run [JOB...]`: the jobs of the configuration file (all when
// none is named), one after the other, each its own atomic run with its own
// snapshot and lifecycle. Bad input in any job stops all of them before
// anything changes, and is recorded as the failure of every job (status
// file, metrics, fail ping). The exit code is the worst job's (core/exit-status.ts PRECEDENCE).
import { EXIT, worstOf, type StatusCode } from '../core/exit-status.js';
import { discover } from '../discover/inventory.js';
import type { Options } from './options.js';
import { configModules } from './config-modules.js';
import type { CommandSpec } from './command.js';
import { JOB_FLAGS, OUTPUT_FLAGS } from './flags.js';
import { backupJob, checkJobsDatasets, preflight } from './backup.js';
import { failJobsBeforeStart, type CommandContext } from './lifecycle.js';

export async function runCommand(opts: Options, ctx: CommandContext): Promise<number> {
  const { loadConfig, resolveJobs, checkNestedMountRoots } = await configModules();
  const { reporter } = ctx;
  const loaded = loadConfig(opts.configFile, ctx.platform.name);
  const jobs = resolveJobs(loaded, opts.names, { flavour: ctx.flavour, platform: ctx.platform.name, readEnvFiles: true, flags: opts });
  const started = new Date();
  try {
    checkNestedMountRoots(jobs, loaded);
    for (const j of jobs) preflight(j, opts, ctx);
    // Every job's datasets must exist before the first job changes anything.
    const inventory = await discover(ctx.runner, ctx.platform);
    checkJobsDatasets(jobs, inventory, loaded);
  } catch (e) {
    // No job starts: each records that failure, or monitoring would still show the last good run.
    return (await failJobsBeforeStart(ctx, jobs, e, started, opts.dryRun)).code;
  }

  const results: (StatusCode & { job: string })[] = [];
  for (const j of jobs) {
    if (ctx.interrupt.signal) {
      reporter.warn(`job ${j.job} not started: interrupted by ${ctx.interrupt.signal}`);
      continue;
    }
    let s: StatusCode;
    try {
      s = await backupJob(j, opts, ctx);
    } catch (e) {
      // The job could not start (its lock, say): recorded as failed like one that ran.
      s = await failJobsBeforeStart(ctx, [j], e, new Date(), opts.dryRun);
    }
    results.push({ job: j.job, ...s });
  }
  const worst = worstOf(results) ?? { status: 'interrupted' as const, code: EXIT.ok };
  const code = results.length ? worst.code : EXIT.interrupted;
  if (!reporter.json && jobs.length > 1) for (const r of results) reporter.info(`job ${r.job}: ${r.status} (exit ${r.code})`);
  reporter.event('run-summary', { status: results.length ? worst.status : 'interrupted', exitCode: code, jobs: results.map((r) => ({ job: r.job, status: r.status, exitCode: r.code })) });
  return code;
}

export const runSpec: CommandSpec = {
  words: ['run'],
  mode: 'run',
  operands: '[JOB...]',
  summary: 'run the configured jobs (all when none is named), one after the other',
  about: `Runs the jobs of the configuration file (all when none is named), one after
the other, each its own atomic backup. A job flag given here overrides that
setting of every job. Bad input in any job stops all of them before anything
changes. The exit code is the worst job's.`,
  flags: [...JOB_FLAGS, 'dry-run', 'wait', 'config', ...OUTPUT_FLAGS],
  check: (operands) => operands,
  completes: 'job',
};
