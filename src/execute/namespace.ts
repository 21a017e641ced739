// The `paths` layout for restic on Linux: the engine runs in a private mount
// namespace where each snapshot is mounted read-only over the dataset's real
// mount point. Nobody outside sees those mounts, and the kernel removes them
// when the namespace's last process exits, even after SIGKILL: there is
// nothing for cleanup or recovery to unmount. (If kopiatomic itself is killed,
// ns-exec notices that its parent is gone, stops the engine and exits, so the
// namespace and its mounts go away with it and recovery can destroy the
// snapshots.)
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { ensureRootDir } from '../safety/root-path.js';
import { fileURLToPath } from 'node:url';
import type { Reporter } from '../core/report.js';
import type { BackupCall, Plan } from '../plan/plan.js';
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

export function namespaceJob(call: BackupCall, plan: Pick<Plan, 'stateDir'>): NamespaceJob | null {
  if (!call.namespace) return null;
  return {
    mounts: call.namespace.mounts,
    keepWritable: (call.writable ?? []).map((w) => w.path),
    staging: plan.stateDir,
    argv: call.argv,
    parent: process.pid,
    killAfterMs: killAfterMs(),
  };
}

/**
 * Where the job for ns-exec is written. The job names every mount and the
 * engine's whole command line, so it can be any size: it travels in a file
 * (mode 0600, in our root-only state folder), never as one argv word, which
 * Linux limits to 128 KiB (spawn would fail with E2BIG).
 */
export function namespaceJobPath(plan: Pick<Plan, 'stateDir'>): string {
  return `${plan.stateDir}/ns-job-${process.pid}.json`;
}

/** The engine's command line: as is, or wrapped in unshare and ns-exec. Pure: the dry run prints it. */
export function engineArgv(call: BackupCall, plan: Pick<Plan, 'stateDir'>): string[] {
  if (!call.namespace) return call.argv;
  return ['unshare', '--mount', '--propagation', 'private', '--', process.execPath, NS_EXEC, namespaceJobPath(plan)];
}

/**
 * Writes the job engineArgv() points to, before the engine starts; returns
 * what removes it again once the engine has ended (ns-exec removes it as soon
 * as it has read it, this is for an ns-exec that never started). Never
 * throws: without the file ns-exec fails and the backup counts as failed,
 * and the run goes on to its cleanup.
 */
export function writeNamespaceJob(call: BackupCall, plan: Pick<Plan, 'stateDir'>, reporter: Reporter): () => void {
  const job = namespaceJob(call, plan);
  if (!job) return () => {};
  const path = namespaceJobPath(plan);
  try {
    ensureRootDir(plan.stateDir, 'state directory');
    rmSync(path, { force: true });
    writeFileSync(path, JSON.stringify(job), { mode: 0o600, flag: 'wx' });
  } catch (e) {
    reporter.error(`could not write the namespace job ${path}: ${(e as Error).message}`);
  }
  return () => rmSync(path, { force: true });
}

/** ns-exec's side: the job from its file (removed at once), or inline JSON. */
export function readNamespaceJob(arg: string | undefined, read: (p: string) => string, remove: (p: string) => void): NamespaceJob {
  if (!arg) throw new Error('no namespace job given');
  if (arg.startsWith('{')) return JSON.parse(arg) as NamespaceJob;
  try {
    return JSON.parse(read(arg)) as NamespaceJob;
  } finally {
    remove(arg);
  }
}

/**
 * Before the snapshot: create the engine's cache folder if it is missing, so
 * that it exists inside the snapshot and the live one can be bound over it.
 * Only for calls that run in a namespace; a no-op otherwise.
 */
export function prepareNamespace(plan: Plan, reporter: Reporter): void {
  for (const call of plan.backup) {
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
