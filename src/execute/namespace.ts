// The `paths` layout for restic on Linux: the engine runs in a private mount
// namespace where each snapshot is mounted read-only over the dataset's real
// mount point. Nobody outside sees those mounts, and the kernel removes them
// when the namespace's last process exits, even after SIGKILL: there is
// nothing for cleanup or recovery to unmount. (If kopiatomic itself is killed,
// ns-exec notices that its parent is gone, stops the engine and exits, so the
// namespace and its mounts go away with it and recovery can destroy the
// snapshots.)
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { posix } from 'node:path';
import type { Reporter } from '../core/report.js';
import type { EngineCall } from '../engine/engine.js';
import type { Plan } from '../plan/plan.js';
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

/** A folder the engine writes to; `create`: the engine would create it itself if missing. */
export interface WritablePath {
  path: string;
  create: boolean;
}

const NS_EXEC = fileURLToPath(new URL('../bin/ns-exec.js', import.meta.url));

/** The environment the engine runs with (see runEngine in apply.ts). */
function engineEnv(call: EngineCall, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, ...call.env };
}

export function namespaceJob(call: EngineCall, plan: Pick<Plan, 'stateDir'>, env: NodeJS.ProcessEnv = process.env): NamespaceJob | null {
  if (!call.namespace) return null;
  return {
    mounts: call.namespace.mounts,
    keepWritable: writablePaths(call.argv, engineEnv(call, env)).map((w) => w.path),
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
export function engineArgv(call: EngineCall, plan: Pick<Plan, 'stateDir'>, env: NodeJS.ProcessEnv = process.env): string[] {
  if (!call.namespace) return call.argv;
  void env;
  return ['unshare', '--mount', '--propagation', 'private', '--', process.execPath, NS_EXEC, namespaceJobPath(plan)];
}

/**
 * Writes the job engineArgv() points to, before the engine starts; returns
 * what removes it again once the engine has ended (ns-exec removes it as soon
 * as it has read it, this is for an ns-exec that never started). Never
 * throws: without the file ns-exec fails and the backup counts as failed,
 * and the run goes on to its cleanup.
 */
export function writeNamespaceJob(call: EngineCall, plan: Pick<Plan, 'stateDir'>, reporter: Reporter, env: NodeJS.ProcessEnv = process.env): () => void {
  const job = namespaceJob(call, plan, env);
  if (!job) return () => {};
  const path = namespaceJobPath(plan);
  try {
    mkdirSync(plan.stateDir, { recursive: true, mode: 0o700 });
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
 * What restic writes to: its cache, a local repository, and its temporary
 * folder. If one of them lies on a frozen dataset, ns-exec binds the live
 * folder back over the snapshot so restic can still write there.
 */
export function writablePaths(argv: string[], env: NodeJS.ProcessEnv): WritablePath[] {
  const flag = (names: string[]): string | undefined => {
    let found: string | undefined;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '--') break;
      for (const n of names) {
        if (a === n) found = argv[i + 1];
        else if (a.startsWith(n + '=')) found = a.slice(n.length + 1);
      }
    }
    return found; // the last one wins, as with restic's own flag parsing
  };
  const out: WritablePath[] = [];
  if (!argv.includes('--no-cache')) {
    const cache =
      flag(['--cache-dir']) ??
      nonEmpty(env['RESTIC_CACHE_DIR']) ??
      (nonEmpty(env['XDG_CACHE_HOME'])
        ? posix.join(env['XDG_CACHE_HOME']!, 'restic')
        : nonEmpty(env['HOME'])
          ? posix.join(env['HOME']!, '.cache', 'restic')
          : undefined);
    if (cache) out.push({ path: cache, create: true });
  }
  const repo = flag(['-r', '--repo']) ?? nonEmpty(env['RESTIC_REPOSITORY']);
  if (repo?.startsWith('/')) out.push({ path: repo, create: false });
  else if (repo?.startsWith('local:')) out.push({ path: repo.slice(6), create: false });
  out.push({ path: nonEmpty(env['TMPDIR']) ?? '/tmp', create: false });
  const seen = new Set<string>();
  return out
    .map((w) => ({ ...w, path: posix.normalize(w.path).replace(/(.)\/+$/, '$1') }))
    .filter((w) => w.path.startsWith('/') && !seen.has(w.path) && Boolean(seen.add(w.path)));
}

function nonEmpty(s: string | undefined): string | undefined {
  return s ? s : undefined;
}

/**
 * Before the snapshot: create the engine's cache folder if it is missing, so
 * that it exists inside the snapshot and the live one can be bound over it.
 * Only for calls that run in a namespace; a no-op otherwise.
 */
export function prepareNamespace(plan: Plan, reporter: Reporter, env: NodeJS.ProcessEnv = process.env): void {
  const calls = plan.engine.calls({ ...plan.engineContext, time: new Date(), probe: plan.probe });
  for (const call of calls) {
    if (!call.namespace) continue;
    for (const w of writablePaths(call.argv, engineEnv(call, env))) {
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
