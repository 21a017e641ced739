// The `paths` layout for restic on Linux: the engine runs in a private mount
// namespace where each snapshot is mounted read-only over the dataset's real
// mount point. Nobody outside sees those mounts, and the kernel removes them
// when the namespace's last process exits, even after SIGKILL: there is
// nothing for cleanup or recovery to unmount.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { posix } from 'node:path';
import type { EngineCall } from '../engine/engine.js';
import type { Plan } from '../plan/plan.js';

export interface NamespaceJob {
  mounts: { dataset: string; snapshot: string; target: string }[];
  /** Live folders that must stay writable under the frozen ones (caches, a local repository). */
  keepWritable: string[];
  /** A private tmpfs is mounted here to stage the writable folders. */
  staging: string;
  argv: string[];
}

const NS_EXEC = fileURLToPath(new URL('../bin/ns-exec.js', import.meta.url));

export function engineArgv(call: EngineCall, plan: Plan): string[] {
  if (!call.namespace) return call.argv;
  const job: NamespaceJob = {
    mounts: call.namespace.mounts,
    keepWritable: writablePaths(call.argv, process.env),
    staging: plan.stateDir,
    argv: call.argv,
  };
  return ['unshare', '--mount', '--propagation', 'private', '--', process.execPath, NS_EXEC, JSON.stringify(job)];
}

/** restic's cache and a local repository: restic writes to both. */
export function writablePaths(argv: string[], env: NodeJS.ProcessEnv): string[] {
  const flag = (names: string[]): string | undefined => {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      for (const n of names) {
        if (a === n) return argv[i + 1];
        if (a.startsWith(n + '=')) return a.slice(n.length + 1);
      }
    }
    return undefined;
  };
  const out: string[] = [];
  const cache =
    flag(['--cache-dir']) ??
    env['RESTIC_CACHE_DIR'] ??
    (env['XDG_CACHE_HOME'] ? posix.join(env['XDG_CACHE_HOME'], 'restic') : env['HOME'] ? posix.join(env['HOME'], '.cache', 'restic') : undefined);
  if (cache) out.push(cache);
  const repo = flag(['-r', '--repo']) ?? env['RESTIC_REPOSITORY'];
  if (repo?.startsWith('/')) out.push(repo);
  else if (repo?.startsWith('local:')) out.push(repo.slice(6));
  return out.filter((p) => p.startsWith('/'));
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
