// The `paths` layout for restic on Linux: the engine runs in a private mount
// namespace where each snapshot is mounted read-only over the dataset's real
// mount point. Nobody outside sees those mounts, and the kernel removes them
// when the namespace's last process exits, even after SIGKILL: there is
// nothing for cleanup or recovery to unmount. (If kopiatomic itself is killed,
// ns-exec notices that its parent is gone, stops the engine and exits, so the
// namespace and its mounts go away with it and recovery can destroy the
// snapshots.)
import { existsSync, mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { which } from '../core/which.js';
import { systemPath } from '../core/system-path.js';
import { programIndex } from '../engine/engine.js';
import { ensureRunFilesDir, runFilesDir } from './run-files.js';
import type { Reporter } from '../core/report.js';
import type { BackupCall, Plan } from '../plan/types.js';
import { killAfterMs } from './interrupt.js';

export interface NamespaceJob {
  mounts: { dataset: string; snapshot: string; target: string }[];
  /** Live folders that must stay writable under the frozen ones (caches, a local repository, TMPDIR). */
  keepWritable: string[];
  /** A private tmpfs is mounted here (inside the namespace only) to stage the writable folders. */
  staging: string;
  argv: string[];
  /** kopiatomic's pid: when ns-exec's parent is no longer this one, kopiatomic is gone. */
  parent: number;
  /** After a signal, SIGKILL the engine if it has not exited by then (kopiatomic's --kill-after, a little less). */
  killAfterMs?: number;
}

const NS_EXEC = fileURLToPath(new URL('../bin/ns-exec.js', import.meta.url));

type PlanFiles = Pick<Plan, 'stateDir' | 'runId'>;

export function namespaceJob(call: BackupCall, plan: PlanFiles): NamespaceJob | null {
  if (!call.namespace) return null;
  return {
    mounts: call.namespace.mounts,
    keepWritable: (call.writable ?? []).map((w) => w.path),
    staging: `${runFilesDir(plan.stateDir)}/stage-${plan.runId}`,
    argv: call.argv,
    parent: process.pid,
    killAfterMs: killAfterMs(),
  };
}

/**
 * Where the job for ns-exec is written. The job names every mount and the
 * engine's whole command line, so it can be any size: it travels in a file
 * (mode 0600, in this process's root-only directory of the state directory),
 * never as one argv word, which Linux limits to 128 KiB (spawn would fail
 * with E2BIG).
 */
export function namespaceJobPath(plan: PlanFiles, what = 'ns-job'): string {
  return `${runFilesDir(plan.stateDir)}/${what}-${plan.runId}.json`;
}

/** The engine's command line: as is, or wrapped in unshare and ns-exec. Pure: the dry run prints it. */
export function engineArgv(call: BackupCall, plan: PlanFiles & Pick<Plan, 'enginePrefix'>): string[] {
  // The priority prefix goes outside unshare: nice and ionice are found in the
  // live PATH, and the namespace (its mounts, then the engine) inherits them.
  return [...(plan.enginePrefix ?? []), ...(call.namespace ? namespaceArgv(namespaceJobPath(plan)) : call.argv)];
}

/** unshare and ns-exec, reading its job from `jobPath`. */
export function namespaceArgv(jobPath: string): string[] {
  return ['unshare', '--mount', '--propagation', 'private', '--', process.execPath, NS_EXEC, jobPath];
}

/**
 * The program to start, as an absolute path found with `path` (the PATH the
 * engine gets), before any mount changes what paths mean: inside the
 * namespace a PATH lookup would search the frozen snapshots. A command that
 * starts with env(1) and NAME=value words has its program resolved too.
 * Throws when a program is not found.
 */
export function resolveProgram(argv: string[], path: string | undefined): string[] {
  const abs = (w: string): string => {
    const found = which(w, path ?? systemPath(process.env['PATH']));
    if (!found) throw new Error(`${w} was not found in PATH (${path ?? ''})`);
    return posix.resolve(found);
  };
  const out = [...argv];
  if (!out[0]) throw new Error('the engine command is empty');
  const i = programIndex(argv);
  out[0] = abs(out[0]);
  if (posix.basename(out[0]) === 'env') {
    if (i > 0 && i < out.length && !out[i]!.startsWith('-')) out[i] = abs(out[i]!);
  }
  return out;
}

/**
 * Writes a job for ns-exec (or for the comparison it starts) to `path`, mode
 * 0600, created anew (never through a name that was there). Throws.
 */
export function writeJobFile(path: string, job: unknown): void {
  rmSync(path, { force: true });
  writeFileSync(path, JSON.stringify(job), { mode: 0o600, flag: 'wx' });
}

/**
 * Writes the job engineArgv() points to, before the engine starts, with the
 * engine resolved to an absolute path through `env`'s PATH; returns what
 * removes it (and the namespace's staging directory) again once the engine
 * has ended (ns-exec removes the job as soon as it has read it, this is for
 * an ns-exec that never started). Never throws: without the file ns-exec
 * fails and the backup counts as failed, and the run goes on to its cleanup.
 */
export function writeNamespaceJob(call: BackupCall, plan: PlanFiles, reporter: Reporter, env: NodeJS.ProcessEnv = process.env): () => void {
  const job = namespaceJob(call, plan);
  if (!job) return () => {};
  const path = namespaceJobPath(plan);
  try {
    ensureRunFilesDir(plan.stateDir);
    writeJobFile(path, { ...job, argv: resolveProgram(job.argv, env['PATH']) });
  } catch (e) {
    reporter.error(`could not write the namespace job ${path}: ${(e as Error).message}`);
  }
  return () => {
    rmSync(path, { force: true });
    removeStaging(job.staging);
  };
}

/** The staging directory ns-exec made (empty outside its namespace). */
export function removeStaging(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // never made, or already gone
  }
}

/** ns-exec's side: the job from its file, removed at once. A job is never taken from argv. */
export function readNamespaceJob(arg: string | undefined, read: (p: string) => string, remove: (p: string) => void): NamespaceJob {
  if (!arg || !arg.startsWith('/')) throw new Error('the namespace job must be given as the absolute path of its file');
  let job: NamespaceJob;
  try {
    job = JSON.parse(read(arg)) as NamespaceJob;
  } finally {
    remove(arg);
  }
  if (!job.argv?.[0]?.startsWith('/')) throw new Error(`the program to run must be an absolute path, not ${JSON.stringify(job.argv?.[0])}`);
  return job;
}

/**
 * Before the snapshot: create the engine's cache folder if it is missing, so
 * that it exists inside the snapshot and the live one can be bound over it.
 * Only for calls that run in a namespace; a no-op otherwise.
 */
export function prepareNamespace(plan: Plan, reporter: Reporter): void {
  for (const call of plan.repositories.flatMap((r) => r.calls)) {
    if (!call.namespace) continue;
    for (const w of call.writable ?? []) {
      if (!w.create || existsSync(w.path)) continue;
      if (ensureDir(w.path)) reporter.verbose(`created ${w.path} so that it stays writable during the backup`);
      else reporter.warn(`could not create ${w.path}; if it is on a frozen dataset, ${plan.engine.name} cannot write to it`);
    }
  }
}

export function ensureDir(p: string): boolean {
  if (existsSync(p)) return true;
  try {
    mkdirSync(p, { recursive: true, mode: 0o700 });
    return true;
  } catch {
    return false;
  }
}
