// The `paths` layout for restic on Linux: the engine runs in a private mount
// namespace where each snapshot is mounted read-only over the dataset's real
// mount point. Nobody outside sees those mounts, and the kernel removes them
// when the namespace's last process exits, even after SIGKILL: there is
// nothing for cleanup or recovery to unmount. (If kopiatomic itself is killed,
// ns-exec notices that its parent is gone, stops the engine and exits, so the
// namespace and its mounts go away with it and recovery can destroy the
// snapshots.)
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Reporter } from '../core/report.js';
import type { BackupCall, Plan } from '../plan/plan.js';

export interface NamespaceJob {
  mounts: { dataset: string; snapshot: string; target: string }[];
  /** Live folders that must stay writable under the frozen ones (caches, a local repository, TMPDIR). */
  keepWritable: string[];
  /** A private tmpfs is mounted here (inside the namespace only) to stage the writable folders. */
  staging: string;
  argv: string[];
  /** kopiatomic's pid: when ns-exec's parent is no longer this one, kopiatomic is gone. */
  parent: number;
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
  };
}

/** The argv that runs the call: as is, or inside unshare + ns-exec. Time slots must be filled first. */
export function engineArgv(call: BackupCall, plan: Pick<Plan, 'stateDir'>): string[] {
  const job = namespaceJob(call, plan);
  if (!job) return call.argv;
  return ['unshare', '--mount', '--propagation', 'private', '--', process.execPath, NS_EXEC, JSON.stringify(job)];
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
