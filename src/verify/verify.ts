// Verification: after a backup that succeeded, while the snapshots are still
// mounted and held, restore the backup just made into a private folder and
// compare it with the frozen tree (see compare.ts). Always removes its folder.
//
// How each engine restores and what it is compared with is the engine's own
// (Engine.restorer); a restore in a namespace (restic's paths layout) makes
// the comparison run in one too (ns-exec mounts the snapshots over the real
// paths again, exactly as for the backup).
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Runner } from '../core/exec.js';
import { CommandError } from '../core/errors.js';
import type { Reporter } from '../core/report.js';
import type { Interrupt } from '../execute/interrupt.js';
import { namespaceArgv, namespaceJobPath, removeStaging, writeJobFile, type NamespaceJob } from '../execute/namespace.js';
import { ensureRunFilesDir, runFilesDir } from '../execute/run-files.js';
import type { Plan } from '../plan/types.js';
import { NO_ABSENCE } from '../engine/absence.js';
import { compareTrees, skipper, type CompareJob, type CompareResult } from './compare.js';
import { beforeVerify } from './fault.js';
import { emptyResult, type VerifyResult } from './result.js';
import { inSample } from './sample.js';
import { candidates, mib, placeRestore, privateFolder, removeStaleFolders } from './space.js';
import { zfsList } from '../zfs/zfs.js';

export interface VerifyInput {
  plan: Plan;
  runner: Runner;
  reporter: Reporter;
  interrupt: Interrupt;
  percent: number;
  verifyCommand: string[] | null;
  /** The engine's stdout, one per call (kopia's --json manifests). */
  stdouts: string[];
  /** KOPIATOMIC_* variables, as the engine got them. */
  env: Record<string, string>;
}

const COMPARE = fileURLToPath(new URL('../bin/verify-compare.js', import.meta.url));

export async function verifyBackup(i: VerifyInput): Promise<VerifyResult> {
  const started = Date.now();
  const { reporter, percent } = i;
  const done = (r: VerifyResult): VerifyResult => ({ ...r, ms: Date.now() - started });
  let dir: string | null = null;
  try {
    await beforeVerify(i.runner, reporter, i.env);
    reporter.info(`verifying the backup: restore, then compare ${percent < 100 ? `${percent}% of the file contents and every name` : 'every file'} with the frozen tree`);
    const { plan } = i;
    const r = await plan.engine.restorer({
      runner: i.runner,
      ctx: plan.engineContext,
      snapshot: plan.snapshot,
      mountRoot: plan.mountRoot,
      layout: plan.layout,
      probe: plan.probe,
      stdouts: i.stdouts,
      verifyCommand: i.verifyCommand,
      run: (argv, extraEnv) => restoreWith(i, argv, extraEnv),
      logicalSize: () => zfsLogicalSize(i),
    });
    const avoid = [i.plan.mountRoot, ...i.plan.engineContext.sources.map((s) => s.path)];
    removeStaleFolders(candidates(), (m) => reporter.warn(m));
    const place = placeRestore(r.size, i.plan.layout === 'paths' ? avoid : [i.plan.mountRoot], candidates());
    if (!place.ok) return done(emptyResult(percent, 'error', place.reason));
    dir = privateFolder(place.dir, i.plan.runId);
    reporter.verbose(`verify: restoring ${mib(r.size)} into ${dir}`);
    const restoreError = await r.restore(dir);
    if (i.interrupt.signal) return done(emptyResult(percent, 'skipped', `interrupted by ${i.interrupt.signal}`));
    const absence = i.plan.engine.absence?.(i.plan.engineContext) ?? { ...NO_ABSENCE, engine: i.plan.engine.name };
    const job: CompareJob = { pairs: r.pairs(dir), runId: i.plan.runId, percent, absence, skip: [dir] };
    const c = r.namespace ? await compareInNamespace(i, job, r.namespace, dir) : await compareHere(i, job);
    if (c.abortedBy) return done({ ...emptyResult(percent, 'skipped', c.abortedBy), ...counts(c) });
    const status = c.differences ? 'failed' : restoreError ? 'error' : 'ok';
    return done({ ...emptyResult(percent, status, restoreError ?? undefined), ...counts(c) });
  } catch (e) {
    return done(emptyResult(percent, 'error', e instanceof CommandError ? e.message : (e as Error).message));
  } finally {
    if (dir) {
      try {
        rmSync(dir, { recursive: true, force: true }); // our own private folder; rm does not follow symlinks
      } catch (e) {
        reporter.warn(`could not remove the verification directory ${dir}: ${(e as Error).message}`);
      }
    }
  }
}

function counts(c: CompareResult): Omit<VerifyResult, 'status' | 'message' | 'percent' | 'ms'> {
  const { abortedBy: _, ...rest } = c;
  return rest;
}

async function compareHere(i: VerifyInput, job: CompareJob): Promise<CompareResult> {
  return compareTrees(job.pairs, {
    contents: (p) => inSample(job.runId, p, job.percent),
    absence: job.absence,
    skip: skipper(job.skip),
    aborted: () => (i.interrupt.signal ? `interrupted by ${i.interrupt.signal}` : null),
  });
}

/**
 * The paths layout: the frozen tree is mounted over the real paths in a new
 * private namespace, just for the comparison. Both jobs (ns-exec's and the
 * comparison's) travel in 0600 files, never as argv words: a job names every
 * mount and can be far larger than the 128 KiB one word may hold.
 */
async function compareInNamespace(i: VerifyInput, job: CompareJob, mounts: NamespaceJob['mounts'], dir: string): Promise<CompareResult> {
  const files = { stateDir: i.plan.stateDir, runId: i.plan.runId };
  ensureRunFilesDir(files.stateDir);
  const nsPath = namespaceJobPath(files, 'verify-ns-job');
  const comparePath = namespaceJobPath(files, 'verify-compare-job');
  const ns: NamespaceJob = {
    mounts,
    keepWritable: [dir],
    staging: `${runFilesDir(files.stateDir)}/verify-stage-${files.runId}`,
    argv: [process.execPath, COMPARE, comparePath],
    parent: process.pid,
  };
  try {
    writeJobFile(comparePath, job);
    writeJobFile(nsPath, ns);
    const out = await i.runner.run(namespaceArgv(nsPath));
    const line = out.stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(line) as CompareResult;
  } finally {
    rmSync(nsPath, { force: true });
    rmSync(comparePath, { force: true });
    removeStaging(ns.staging);
  }
}

/** Logical bytes of the run's snapshots: the restore size when the engine cannot say. */
async function zfsLogicalSize(i: VerifyInput): Promise<number> {
  const names = i.plan.pools.flatMap((p) => p.datasets.map((d) => `${d}@${i.plan.snapshot}`));
  const out = await i.runner.run(zfsList({ type: 'snapshot', columns: ['logicalreferenced'], names }));
  return out.stdout.split('\n').reduce((n, l) => n + (Number(l.trim()) || 0), 0);
}

/** Run a restore with its output live (on stderr); signals reach it through the interrupt. null = exit 0. */
async function restoreWith(i: VerifyInput, argv: string[], extraEnv: Record<string, string>): Promise<string | null> {
  const p = i.runner.live(argv, { env: { ...process.env, ...i.env, ...extraEnv }, stdoutToStderr: true });
  i.interrupt.setChild(p.child);
  const { code, signal } = await p.done;
  i.interrupt.setChild(null);
  if (code === 0) return null;
  return `${argv[0]} ${argv.includes('restore') ? 'restore' : ''} ${signal ? `was killed by ${signal}` : `exited with ${code}`}`.replace(/\s+/g, ' ');
}
