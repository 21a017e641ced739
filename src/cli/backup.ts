// One backup job, start to end: the flag form (`kopiatomic -r tank/home`)
// and each job of `kopiatomic run` come through here. Inside the lifecycle:
// discover, select, plan, then either print the plan (-n) or apply it.
import { lstatSync, readdirSync } from 'node:fs';
import { SetupError, UsageError } from '../core/errors.js';
import { SystemRunner } from '../core/exec.js';
import { rememberJobSecrets } from '../core/secrets.js';
import { discover, startListings, type Inventory } from '../discover/inventory.js';
import type { LoadedConfig } from '../config/load.js';
import { ConfigError, type Problem } from '../config/problems.js';
import { toTarget } from '../discover/targets.js';
import { hostname } from 'node:os';
import { applyPlan } from '../execute/apply.js';
import { applyRetention } from '../execute/retention-phase.js';
import { repositoryRecords, type RepositoryRecord } from '../ops/run-record.js';
import { datasetsVars, runHook } from '../execute/hooks.js';
import { dropRunFilesDir, ensureRunFilesDir } from '../execute/run-files.js';
import { prepareNamespace } from '../execute/namespace.js';
import { runStatus, type StatusCode } from '../core/exit-status.js';
import { newRunId, ownerOf, snapshotNameFor } from '../zfs/naming.js';
import { buildPlan } from '../plan/plan.js';
import type { Plan } from '../plan/types.js';
import { mountMemoryMessage, mountMemoryShortfall } from '../plan/mount-memory.js';
import { select, type Selection } from '../plan/select.js';
import { Journal } from '../safety/journal.js';
import { proofKey, readProofKey } from '../safety/proof.js';
import { requireRootPath } from '../safety/root-path.js';
import type { Options } from './options.js';
import type { CommandSpec } from './command.js';
import { JOB_FLAGS, OUTPUT_FLAGS } from './flags.js';
import type { JobOptions } from '../config/job.js';
import { lifecycle, type CommandContext } from './lifecycle.js';
import { printPlan } from './print-plan.js';
import { which } from '../core/which.js';
import { enginePrefix } from '../engine/priority.js';
import { verifyProblem } from '../verify/options.js';
import { verifyPlanLines } from '../verify/plan.js';

/** The settings of a run that are not the job's: from the command line only. */
export type RunFlags = Pick<Options, 'dryRun' | 'wait'>;

/**
 * The mount root must be ours to use: a real folder, owned by root, empty,
 * and every directory above it safe from other accounts (root-path.ts), so
 * nobody can swap it for another between this check and the mounts.
 */
export function checkMountRoot(root: string): boolean {
  const path = requireRootPath(root, { what: 'mount root', noFinalLink: true });
  if (path.real !== root) throw new SetupError(`mount root ${root} is reached through a symbolic link: give its real path ${path.real}`);
  let st;
  try {
    st = lstatSync(root);
  } catch {
    return false;
  }
  if (!st.isDirectory()) throw new SetupError(`mount root ${root} exists and is not a directory`);
  if (st.uid !== (process.getuid?.() ?? 0)) throw new SetupError(`mount root ${root} is owned by uid ${st.uid}, not by us`);
  if (readdirSync(root).length) throw new SetupError(`mount root ${root} is not empty: kopiatomic assembles its tree in an empty directory`);
  return true;
}

/** zfs must be installed: without it nothing can be read, so this is bad input (exit 2), not a setup failure. */
export function requireZfs(path?: string): void {
  // which()'s own default search path is the one spawn uses.
  if (!(path === undefined ? which('zfs') : which('zfs', path))) {
    throw new UsageError(`zfs is not installed, or not in this PATH (${path ?? process.env['PATH'] ?? ''}): kopiatomic needs OpenZFS`);
  }
}

/**
 * The backup program must be installed; a dry run only warns, since seeing
 * the plan before installing kopia or restic is a normal first step.
 */
export function checkEngineInstalled(job: JobOptions, dryRun: boolean, ctx: CommandContext): void {
  const prog = job.command[0]!;
  if (which(prog)) return;
  const msg = `${job.engine.noun} is not installed: ${prog} not found in PATH`;
  if (!dryRun) throw new UsageError(msg);
  ctx.reporter.warn(`${msg} (the plan is printed anyway)`);
}

/** The datasets a job backs up now, and those it skips with the reason. Pure but for path lookups. */
export function selectFor(job: JobOptions, inventory: Inventory): Selection {
  return select(inventory, {
    targets: job.targets.map(toTarget),
    all: job.all,
    recursive: job.recursive,
    excludes: job.excludes.map(toTarget),
    property: job.property ? job.job : null,
  });
}

/**
 * Every job's datasets must exist (one inventory for all): each job that
 * names a missing one is a problem at its `datasets` key in the config.
 */
export function checkJobsDatasets(jobs: JobOptions[], inventory: Inventory, loaded: LoadedConfig): void {
  const problems: Problem[] = [];
  for (const j of jobs) {
    try {
      selectFor(j, inventory);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      problems.push({ ...loaded.where(['jobs', j.job, 'datasets']), message: `job ${j.job}: ${e.message}` });
    }
  }
  if (problems.length) throw new ConfigError(problems);
}

/** Checks that need no lock and change nothing, so bad input fails before anything happens. */
export function preflight(job: JobOptions, flags: RunFlags, ctx: CommandContext): void {
  requireZfs();
  checkEngineInstalled(job, flags.dryRun, ctx);
  verifyProblem(job.engine, job.verifyPercent, job.verifyCommand);
  retentionProblem(job);
  job.targets.forEach(toTarget);
  job.excludes.forEach(toTarget);
}

/** A retention the job's engine cannot apply is bad input: refused before anything happens, never skipped in silence. */
export function retentionProblem(job: JobOptions): void {
  if (!job.retention) return;
  const r0 = job.retention;
  // No keep_* above 0: restic would keep everything (no policy), kopia nothing; neither can be what was meant.
  if (![r0.keepLast, r0.keepHourly, r0.keepDaily, r0.keepWeekly, r0.keepMonthly, r0.keepYearly].some((n) => n !== undefined && n > 0)) {
    throw new UsageError(`${job.job === 'default' ? '' : `job ${job.job}: `}the retention keeps nothing: set at least one of keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly above 0`);
  }
  const r = job.engine.retention({ command: job.command, options: job.options, job: job.job, retention: job.retention, sources: [job.mountRoot], env: {}, hostname: '', dryRun: true });
  if ('problem' in r) throw new UsageError(`${job.job === 'default' ? '' : `job ${job.job}: `}${r.problem}`);
}

/** One job through the lifecycle; returns its exit code. */
export async function backupJob(job: JobOptions, flags: RunFlags, ctx: CommandContext): Promise<StatusCode> {
  const { runner, reporter, platform, interrupt } = ctx;
  if (rememberJobSecrets(job).length) reporter.warn(`${job.job === 'default' ? '' : `job ${job.job}: `}a secret is in the engine's command line, where every local user can read it (ps): give it in the engine's environment instead (env_files)`);
  const hookEnv: Record<string, string> = { KOPIATOMIC_MOUNT_ROOT: job.mountRoot, KOPIATOMIC_ENGINE: job.engine.name, KOPIATOMIC_JOB: job.job };
  const ops = { pingUrl: job.pingUrl, metricsFile: job.metricsFile, statusFile: job.statusFile, maxAgeSeconds: job.maxAgeSeconds };
  const spec = { job: job.job, mountRoot: job.mountRoot, wait: flags.wait, dryRun: flags.dryRun, scan: 'auto' as const, leftoversFail: false, post: job.post, hookEnv, ops };
  interrupt.setKillAfter(job.killAfter);
  if (runner instanceof SystemRunner) runner.zfsTimeoutMs = job.zfsTimeout * 1000;
  // Discovery's listings start now, beside the lock and recovery: taken
  // only when nothing can have changed the datasets meanwhile (rec.fresh).
  const early = startListings(runner);
  // The list of datasets lives in a file for the engine and both hooks: removed once the post hook is done.
  let datasets = null as { remove(): void } | null;
  try {
    return await lifecycle(ctx, spec, async (rec) => {
      const inventory = await discover(runner, platform, rec.fresh ? early : undefined);
      const selection = selectFor(job, inventory);
      for (const s of selection.skipped) {
        reporter.info(`skipping ${s.dataset}: ${s.reason}`);
        reporter.event('skip', { dataset: s.dataset, reason: s.reason, job: job.job });
      }
      if (selection.selected.length === 0) {
        throw new UsageError(job.property ? `nothing to back up: no dataset's kopiatomic:backup property selects job ${job.job}` : 'nothing to back up: every selected dataset was skipped');
      }

      const probe = await job.engine.probe(runner, job.command);
      const problem = job.engine.layoutProblem(job.layout, platform, probe);
      if (problem) throw new UsageError(problem);
      if (job.layout === 'paths' && selection.selected.some((d) => d.mountedAt === '/') && !job.engine.needsTree(job.layout, platform)) {
        throw new UsageError('the paths layout cannot freeze the root filesystem (/) in a namespace; exclude it or use --layout tree');
      }
      const sourcesProblem = job.engine.sourcesProblem?.(job.layout, selection.selected.map((d) => d.mountedAt!));
      if (sourcesProblem) throw new UsageError(sourcesProblem);

      const runId = newRunId();
      const plan: Plan = buildPlan({
        selection,
        runId,
        snapshot: snapshotNameFor(runId),
        owner: ownerOf(rec.host, rec.boot),
        mountRoot: job.mountRoot,
        mountRootExists: checkMountRoot(job.mountRoot),
        platform,
        engine: job.engine,
        probe,
        stateDir: platform.stateDir,
        layout: job.layout,
        command: job.command,
        options: job.options,
        engineEnv: { ...process.env, ...job.env },
        job: job.job,
        repositories: job.repositories,
        retention: job.retention,
        hostname: hostname(),
        enginePrefix: enginePrefix(job, platform.name, (m) => reporter.warn(m)),
        // A dry run makes no key: where there is none yet it shows the proof made with a
        // stand-in, so its commands keep the real run's shape (the proof covers the run id,
        // so it differs from the real run's in any case).
        proofKey: flags.dryRun ? (readProofKey(platform.journalDir).key ?? Buffer.alloc(32)) : proofKey(platform.journalDir, (m) => reporter.warn(m)),
      });
      // Before any snapshot: past what the machine has, the mounts crawl for hours instead of failing.
      const short = mountMemoryShortfall(selection.selected.length, platform.memory ? await platform.memory(runner) : null);
      if (short && flags.dryRun) reporter.warn(mountMemoryMessage(short));
      else if (short) throw new SetupError(mountMemoryMessage(short));
      const dv = datasetsVars(selection.selected.map((d) => d.name), flags.dryRun ? null : runFilesDirOrWarn(platform.stateDir, reporter), plan.runId, reporter);
      datasets = dv;
      Object.assign(hookEnv, { KOPIATOMIC_RUN_ID: plan.runId, KOPIATOMIC_SNAPSHOT: plan.snapshot, ...dv.env });
      if (flags.dryRun) {
        printPlan(plan, job.pre, job.post, reporter);
        if (job.verifyPercent && !reporter.json) for (const l of verifyPlanLines(plan, job.verifyPercent, job.verifyCommand)) reporter.print(l);
        return { summary: { dryRun: true }, noPostHook: true };
      }

      if (job.pre) {
        const rc = await runHook('pre', job.pre, hookEnv, runner, reporter, interrupt);
        if (rc !== 0) throw new SetupError(`pre hook failed (exit ${rc}); nothing was snapshotted`);
      }
      if (interrupt.signal) throw new SetupError(`interrupted by ${interrupt.signal} before the snapshot`);
      reporter.event('plan', { dryRun: false, job: job.job, runId: plan.runId, snapshot: plan.snapshot, datasets: selection.selected.map((d) => d.name), skipped: selection.skipped, pools: plan.pools });
      reporter.info(`${job.job === 'default' ? '' : `job ${job.job}: `}run ${plan.runId}: ${selection.selected.length} dataset(s) in ${plan.pools.length} pool(s) with ${job.engine.name}`);

      prepareNamespace(plan, reporter);
      const journal = new Journal(rec.journal, plan.runId);
      journal.begin(plan.snapshot, plan.owner, plan.mountRoot);
      // The job's env goes to the engine (and its verification) only, never to the hooks.
      const engineEnv = { ...hookEnv, ...job.env };
      // The verification reads back from the first repository.
      const verifyEnv = { ...engineEnv, ...(plan.repositories[0]?.env ?? {}) };
      // --verify: after the backup, before cleanup, while the frozen tree is still mounted and held.
      // Loaded only when asked for: its hashing and file walking cost every other run start-up time.
      const verify = job.verifyPercent ? (await import('../verify/step.js')).verifyStep(job.verifyPercent, job.verifyCommand, plan, { runner, reporter, interrupt, env: verifyEnv }) : null;
      let result;
      try {
        result = await applyPlan(plan, { runner, reporter, interrupt, journal, env: engineEnv, platform, ...(verify ? { afterBackup: verify.afterBackup } : {}) });
      } finally {
        // Kept while anything of this run is still to be undone (an earlier run's leftovers are remembered apart).
        journal.close(result !== undefined && result.cleanupFailures.length === 0);
      }
      // A pool that could not take a snapshot was left out: the backup is incomplete (partial, 3), never ok.
      const poolsSkipped = [...new Map(selection.skipped.filter((x) => x.pool).map((x) => [x.pool!, x.reason])).entries()].map(([pool, reason]) => ({ pool, reason }));
      if (poolsSkipped.length && result.backup?.outcome === 'ok') {
        result.backup.outcome = 'partial';
        reporter.warn(`the backup is incomplete: ${poolsSkipped.map((p) => p.reason).join('; ')}`);
      }
      const txgs = Object.fromEntries(Object.entries(result.createtxg).map(([p, t]) => [p, [...new Set(t)]]));
      const v = verify?.result() ?? null;
      // Each repository's retention, after cleanup; none after a verification that did not pass.
      result.retentionFailures = await applyRetention(plan, result, { runner, reporter, interrupt, env: engineEnv, hold: v && v.status !== 'ok' ? `the verification did not pass (${v.status})` : null });
      const repositories = repositoryRecords(plan, result.backup?.repositories ?? [], job.engine);
      const figures = repositories[0]?.engine;
      return {
        result,
        verify: v,
        record: {
          runId: plan.runId,
          snapshot: plan.snapshot,
          datasets: selection.selected.map((d) => d.name),
          pools: plan.pools.map((p) => p.pool),
          durations: result.durations ?? {},
          ...(figures ? { engine: figures } : {}),
          ...(repositories.length ? { repositories } : {}),
          ...(failedRepositories(repositories) ? { error: failedRepositories(repositories)! } : {}),
          ...(v && v.status !== 'skipped' ? { verify: { filesCompared: v.filesCompared, bytesCompared: v.bytesCompared, differences: v.differences } } : {}),
        },
        summary: {
          // The backup's own outcome beside the verification's (a verify-error run still saved its backup).
          ...(verify ? { verify: v, backupStatus: runStatus(result, interrupt.signal).status } : {}),
          runId: plan.runId,
          snapshot: plan.snapshot,
          datasets: selection.selected.length,
          createtxg: txgs,
          backupExitCodes: result.backup?.exitCodes ?? [],
          ...(repositories.length ? { repositories } : {}),
          ...(result.retentionFailures?.length ? { retentionFailures: result.retentionFailures } : {}),
          cleanupFailures: result.cleanupFailures,
          ...(result.lostMounts ? { lostMounts: result.lostMounts } : {}),
          ...(poolsSkipped.length ? { poolsSkipped } : {}),
          setupError: result.setupError?.message ?? null,
        },
      };
    });
  } finally {
    datasets?.remove();
    if (!flags.dryRun) dropRunFilesDir(platform.stateDir);
  }
}

/** The repositories whose backup or retention did not succeed, named, for the record's error; null when all did (or the job's one implicit repository failed its backup: the run's status says it). */
function failedRepositories(repos: RepositoryRecord[]): string | null {
  const bad = repos.filter((r) => r.status !== 'ok' && (r.configured || r.retention === 'failed'));
  return bad.length ? bad.map((r) => `repository ${r.name}: ${r.status}${r.error ? ` (${r.error})` : ''}`).join('; ') : null;
}

/** This process's directory for the run's files, or null (with a warning) when it cannot be used. */
function runFilesDirOrWarn(stateDir: string, reporter: CommandContext['reporter']): string | null {
  try {
    return ensureRunFilesDir(stateDir);
  } catch (e) {
    reporter.warn(`no KOPIATOMIC_DATASETS_FILE: ${(e as Error).message}`);
    return null;
  }
}

/** The flag form: `kopiatomic [flags] DATASET|PATH...`, job "default". */
export async function backupCommand(opts: Options, ctx: CommandContext): Promise<number> {
  preflight(opts, opts, ctx);
  return (await backupJob(opts, opts, ctx)).code;
}

/** The flag form: the original script's command line. */
export const backupSpec: CommandSpec = {
  words: [],
  mode: 'backup',
  operands: 'DATASET|PATH...',
  summary: 'back up the datasets named, at one instant',
  about: `Atomic backups of ZFS datasets: one snapshot transaction per pool, the
snapshots mounted read-only under {mountRoot}, {engine} run on that frozen
tree, and every snapshot, mount and directory removed again. A path names
the dataset mounted there. A word after -- is always a dataset or a path, so
a pool called "run" can still be named.`,
  flags: [...JOB_FLAGS, 'dry-run', 'wait', ...OUTPUT_FLAGS],
  check(operands, v) {
    if (!v['all'] && !v['property'] && operands.length === 0) throw new UsageError('no datasets or paths given (use -a for all)');
    if (v['property'] && operands.length) throw new UsageError('--property selects by the kopiatomic:backup property: name no datasets with it');
    return operands;
  },
  completes: 'dataset',
};
