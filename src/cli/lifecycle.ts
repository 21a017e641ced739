// The one lifecycle every command that changes state goes through:
//   lock -> recovery -> the command -> status computed once -> post hook ->
//   summary -> exit code,
// with the lock released in a finally, whatever the post hook does.
import type { SystemRunner } from '../core/exec.js';
import type { Reporter } from '../core/report.js';
import { errorStatus, EXIT, finalStatus, type RunFacts, type StatusCode } from '../core/exit-status.js';
import { runHook } from '../execute/hooks.js';
import type { Interrupt } from '../execute/interrupt.js';
import type { Platform } from '../platform/platform.js';
import { Journal, journalPath, markRecordComplete, recordComplete } from '../safety/journal.js';
import { sweepDeadRunFiles } from '../execute/run-files.js';
import { Lock } from '../safety/lock.js';
import { recover, type RecoverResult } from '../safety/recover.js';
import type { Flavour } from '../config/job.js';
import { UsageError } from '../core/errors.js';
import { ConfigError } from '../config/problems.js';
import { reportRunEnd, reportRunStart } from '../ops/report-run.js';
import { LogTail } from '../ops/ping.js';
import { buildRunRecord, type RecordInput } from '../ops/run-record.js';

/** What every command gets: who we are, how we talk, the door to the system. */
export interface CommandContext {
  flavour: Flavour;
  reporter: Reporter;
  runner: SystemRunner;
  platform: Platform;
  interrupt: Interrupt;
  /** The usage lines of the command being run, shown under a usage error (made only then). */
  usage?: () => string;
}

export interface LifecycleSpec {
  /** The job name, carried into the summary ("default" for the flag form). */
  job: string;
  mountRoot: string;
  wait: number;
  dryRun: boolean;
  /** `always`: look on every pool for a dead run's snapshots (kopiatomic cleanup). */
  scan: 'auto' | 'always';
  /** Recovery leftovers make the status cleanup-incomplete (kopiatomic cleanup) instead of a warning. */
  leftoversFail: boolean;
  post: string | null;
  /** KOPIATOMIC_* variables for the post hook; the command adds to it. */
  hookEnv: Record<string, string>;
  /** Monitoring (a backup job): pings at start and end, the run recorded in the status and metrics files. */
  ops?: { pingUrl: string | null; metricsFile: string | null; statusFile: string | null; maxAgeSeconds?: number | null };
}

export interface Recovery {
  boot: string;
  /** This host's id (platform.hostId()), read once: recovery's ownership test and the new run's owner. */
  host: string;
  journal: string;
  actions: number;
  leftovers: string[];
  /**
   * Nothing can have changed the datasets since the process started: the
   * lock was free at once and not taken over, and recovery did nothing.
   * Listings started before the lock may then stand for discovery's.
   */
  fresh: boolean;
}

/** What the command hands back: the executor's result if it ran, and fields for the summary. */
export interface CommandResult {
  result?: RunFacts['result'];
  verify?: RunFacts['verify'];
  summary?: Record<string, unknown>;
  /** The post hook does not run (a dry run). */
  noPostHook?: boolean;
  /** What the status file and the metrics record of this run. */
  record?: Partial<RecordInput>;
}

/** The recovery's leftovers as lines of text. */
export function leftoversOf(r: RecoverResult): string[] {
  return r.leftovers.map((l) => `${l.what}: ${l.reason}`);
}

/**
 * Runs `command` inside the lifecycle and returns the exit code. The post
 * hook sees the status of everything before it; if it fails, an otherwise
 * `ok` run becomes post-hook-failed (7), any other status stays, and the
 * summary carries `postHookExitCode`. The summary's status and exit code are
 * the process's exit status.
 */
export async function lifecycle(ctx: CommandContext, spec: LifecycleSpec, command: (rec: Recovery) => Promise<CommandResult>): Promise<StatusCode> {
  const { reporter, runner, platform, interrupt } = ctx;
  const boot = await platform.bootId(runner);
  const lock = spec.dryRun ? null : await Lock.acquire(platform.stateDir, spec.mountRoot, boot, spec.wait, reporter, interrupt);
  const started = new Date();
  const ops = spec.dryRun ? undefined : spec.ops;
  const opsOptions = ops && { job: spec.job, pingUrl: ops.pingUrl, metricsFile: ops.metricsFile, statusFile: ops.statusFile, warn: (m: string) => reporter.warn(m) };
  // The last lines of the run's log: the body of the end ping.
  const tail = new LogTail();
  const stopListening = ops ? reporter.listen((l) => tail.push(l)) : () => {};
  const facts: RunFacts = { signal: null, postHook: null };
  let record: Partial<RecordInput> = {};
  let extra: Record<string, unknown> = {};
  let leftovers: string[] = [];
  let noPost = spec.dryRun;
  try {
    if (opsOptions) await reportRunStart(opsOptions);
    try {
      // Whatever a dead run left, from the journals (ours and other mount
      // roots'), which record every snapshot before it is made; every pool
      // is scanned only for `cleanup` and while the journals are not known
      // to be a complete record (a host's first run, lost state).
      const jpath = journalPath(platform.journalDir, spec.mountRoot);
      const scan = spec.scan === 'always' || !recordComplete(platform.journalDir) ? 'all' : 'journals';
      const host = await platform.hostId(runner);
      const t0 = Date.now();
      const r = await recover({ runner, reporter, platform, mountRoot: spec.mountRoot, journal: jpath, boot, host, scan, retryKnown: spec.scan === 'always', deadOwner: lock?.tookOver });
      // The helpers' files of dead runs (namespace jobs, lists of datasets, staging directories).
      if (!spec.dryRun) r.actions += sweepDeadRunFiles(platform.stateDir, boot, reporter).length;
      reporter.event('recovery', { scan, actions: r.actions, leftovers: r.leftovers.length, ms: Date.now() - t0 });
      // Leftovers that cannot be undone now were reported by recover() (a
      // warning and a `leftover` event each) and remembered with their undo:
      // never fatal for a backup; `kopiatomic cleanup` exits 5 on them.
      leftovers = leftoversOf(r);
      if (spec.leftoversFail) facts.leftovers = leftovers;
      if (!spec.dryRun) {
        new Journal(jpath, 'cleanup').close(true);
        if (scan === 'all') markRecordComplete(platform.journalDir);
      }
      const fresh = !lock?.waited && !lock?.tookOver && r.actions === 0;
      const out = await command({ boot, host, journal: jpath, actions: r.actions, leftovers, fresh });
      facts.result = out.result ?? null;
      facts.verify = out.verify ?? null;
      extra = out.summary ?? {};
      record = out.record ?? {};
      if (out.noPostHook) noPost = true;
    } catch (e) {
      facts.error = e;
      reportError(ctx, e);
    }
    facts.signal = interrupt.signal;
    if (spec.post && !noPost) {
      const before = finalStatus(facts);
      try {
        facts.postHook = await runHook('post', spec.post, { ...spec.hookEnv, KOPIATOMIC_STATUS: before.status, KOPIATOMIC_EXIT_CODE: String(before.code) }, runner, reporter, interrupt);
      } catch (e) {
        reporter.error(`post hook could not run: ${(e as Error).message}`);
        facts.postHook = 127;
      }
    }
    const s = finalStatus(facts);
    reporter.event('summary', {
      job: spec.job,
      status: s.status,
      exitCode: s.code,
      ...extra,
      ...(leftovers.length ? { leftovers } : {}),
      ...(facts.postHook !== null ? { postHookExitCode: facts.postHook } : {}),
      ...(facts.error ? { error: (facts.error as Error).message } : {}),
    });
    if (!spec.dryRun || s.code !== EXIT.ok) reporter.info(`${spec.job === 'default' ? '' : `job ${spec.job}: `}finished: ${s.status} (exit ${s.code})`);
    if (opsOptions) {
      const cleanupFailures = facts.result?.cleanupFailures.length ?? 0;
      const run = buildRunRecord({
        job: spec.job,
        start: started,
        end: new Date(),
        status: s.status,
        exitCode: s.code,
        ...record,
        leftovers: leftovers.length + cleanupFailures,
        ...(ops?.maxAgeSeconds != null ? { maxAgeSeconds: ops.maxAgeSeconds } : {}),
        ...(facts.error ? { error: (facts.error as Error).message } : {}),
      });
      await reportRunEnd(opsOptions, run, tail.text());
    }
    return s;
  } finally {
    stopListening();
    lock?.release();
  }
}

/** An error's message (and a usage hint for bad input). */
export function reportError(ctx: CommandContext, e: unknown): StatusCode {
  const s = errorStatus(e);
  const err = e as Error;
  ctx.reporter.error(err.message);
  if (e instanceof UsageError && !(e instanceof ConfigError) && !ctx.reporter.json) process.stderr.write(`${ctx.usage ? `${ctx.usage()}\n` : ''}Try '${ctx.flavour.name} help' for help.\n`);
  if (s.code === EXIT.internal && err.stack) ctx.reporter.verbose(err.stack);
  return s;
}

/** A command that failed before its lifecycle began (bad input, locked): the same status function, one summary. */
export function failBeforeLifecycle(ctx: CommandContext, job: string, e: unknown): StatusCode {
  reportError(ctx, e);
  const s = finalStatus({ error: e, signal: ctx.interrupt.signal });
  ctx.reporter.event('summary', { job, status: s.status, exitCode: s.code, error: (e as Error).message, ...(e instanceof ConfigError ? { problems: e.problems } : {}) });
  return s;
}

/** What the status file, the metrics and the end ping need to know of a job. */
export interface MonitoredJob {
  job: string;
  pingUrl: string | null;
  metricsFile: string | null;
  statusFile: string | null;
  maxAgeSeconds?: number | null;
}

/**
 * A run that failed before its jobs started (a dataset renamed, an engine
 * missing, the lock): reported once, then recorded as that failure for every
 * job it was to run (status file, metrics, fail ping) so monitoring sees it;
 * one summary per job. Returns the status, the same for each.
 */
export async function failJobsBeforeStart(ctx: CommandContext, jobs: MonitoredJob[], e: unknown, started: Date, dryRun: boolean): Promise<StatusCode> {
  reportError(ctx, e);
  const s = finalStatus({ error: e, signal: ctx.interrupt.signal });
  const message = (e as Error).message;
  for (const j of jobs) {
    ctx.reporter.event('summary', { job: j.job, status: s.status, exitCode: s.code, error: message, ...(e instanceof ConfigError ? { problems: e.problems } : {}) });
    if (dryRun) continue;
    const run = buildRunRecord({ job: j.job, start: started, end: new Date(), status: s.status, exitCode: s.code, error: message, maxAgeSeconds: j.maxAgeSeconds ?? undefined });
    await reportRunEnd({ job: j.job, pingUrl: j.pingUrl, metricsFile: j.metricsFile, statusFile: j.statusFile, warn: (m) => ctx.reporter.warn(m) }, run, message);
  }
  return s;
}
