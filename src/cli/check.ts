// `kopiatomic check [JOB...] [--read-data[=PERCENT]]`: each job's repositories
// checked by the engine (restic check, kopia snapshot verify), one after the
// other; each result recorded beside the job's last run in the status file
// and in the metrics (labels job and repository). Exit codes: 0 every check
// found no error, 1 a check failed (or its engine could not run), 2 bad
// usage, 128+N stopped by signal N. Reads no zfs and takes no lock: the
// engine locks its repository itself.
import { hostname } from 'node:os';
import { EXIT, interruptedCode } from '../core/exit-status.js';
import { quoteArgv, UsageError } from '../core/errors.js';
import { enginePrefix } from '../engine/priority.js';
import { writeCheckMetrics } from '../ops/metrics.js';
import { recordCheck, type CheckRecord } from '../ops/status-file.js';
import type { JobOptions, Repository } from '../config/job.js';
import type { CommandSpec } from './command.js';
import { OUTPUT_FLAGS } from './flags.js';
import type { CommandContext } from './lifecycle.js';
import type { Options } from './options.js';
import { repositoryEnv, repositoryJobs, runLive, shellCode } from './repository-job.js';

export async function checkCommand(opts: Options, ctx: CommandContext): Promise<number> {
  const { reporter } = ctx;
  const jobs = await repositoryJobs(opts, ctx, opts.names);
  const runnable = jobs.filter((j) => {
    if (j.engine.repository) return true;
    // Named: an error; among all the jobs: left out with a note.
    if (opts.names.length) throw new UsageError(`job ${j.job} backs up with a ${j.engine.noun}: kopiatomic cannot check its repository`);
    reporter.info(`job ${j.job}: not checked: a ${j.engine.noun} has no repository kopiatomic can check`);
    return false;
  });
  let failed = 0;
  for (const job of runnable) {
    const verbs = job.engine.repository!;
    const prefix = enginePrefix(job, ctx.platform.name, (m) => reporter.warn(`job ${job.job}: ${m}`));
    for (const repo of job.repositories) {
      if (ctx.interrupt.signal) break;
      const argv = [...prefix, ...verbs.check(verbs.base(job.command, job.options), opts.readData)];
      if (opts.dryRun) {
        reporter.print(`# job ${job.job}, repository ${repo.name}\n${quoteArgv(argv)}`);
        continue;
      }
      reporter.info(`job ${job.job}: checking repository ${repo.name}: ${quoteArgv(argv)}`);
      const start = new Date();
      const r = await runLive(ctx, argv, repositoryEnv(repo));
      const ok = r.code === 0 && !r.signal;
      if (!ok) failed++;
      const rec: CheckRecord = {
        job: job.job,
        repository: repo.name,
        host: hostname(),
        start: start.toISOString(),
        end: new Date().toISOString(),
        ok,
        exitCode: r.code,
        ...(opts.readData !== null ? { readPercent: opts.readData } : {}),
        ...(ok ? {} : { error: `${job.engine.noun} exited with ${r.signal ?? shellCode(r)}` }),
      };
      reporter.event('check', { ...rec });
      if (ok) reporter.info(`job ${job.job}: repository ${repo.name}: no errors found`);
      else reporter.error(`job ${job.job}: repository ${repo.name}: the check failed (${rec.error})`);
      await record(job, repo, rec, ctx);
    }
  }
  if (ctx.interrupt.signal) return interruptedCode(ctx.interrupt.signal);
  const code = failed ? EXIT.backupFailed : EXIT.ok;
  reporter.event('summary', { command: 'check', status: failed ? 'check-failed' : 'ok', exitCode: code, failed });
  return code;
}

/** Into the status file and the metrics; a failure to record is a warning, the check's result stands. */
async function record(job: JobOptions, repo: Repository, rec: CheckRecord, ctx: CommandContext): Promise<void> {
  try {
    await recordCheck(job.statusFile, rec);
    if (job.metricsFile) await writeCheckMetrics(job.metricsFile, rec);
  } catch (e) {
    ctx.reporter.warn(`job ${job.job}: the check of repository ${repo.name} could not be recorded: ${(e as Error).message}`);
  }
}

export const checkSpec: CommandSpec = {
  words: ['check'],
  mode: 'check',
  operands: '[JOB...]',
  summary: "check each job's repositories for errors (restic check, kopia snapshot verify)",
  about: `Checks every repository of the jobs (all when none is named) with the
engine's own check: restic check, kopia snapshot verify. --read-data also
reads back that share of the data. Each result is recorded in the status
file and the metrics (job and repository labels). Exit codes: 0 no errors,
1 a check failed, 2 bad usage. A job's check_schedule runs it on a timer.`,
  flags: ['read-data', 'dry-run', 'config', ...OUTPUT_FLAGS],
  check: (operands) => operands,
  completes: 'job',
};
