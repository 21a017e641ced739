// A job's settings as every command that backs up receives them, and the
// few defaults and checks that both the flags and the configuration use.
import { posix } from 'node:path';
import { UsageError } from '../core/errors.js';
import { isWithin } from '../core/paths.js';
import type { Engine, Layout, Retention } from '../engine/engine.js';
import { ENGINES, engineForCommand } from '../engine/index.js';

export interface Flavour {
  /** kopiatomic or restomic */
  name: string;
  engine: 'kopia' | 'restic';
  mountRoot: string;
}

export const KOPIATOMIC: Flavour = { name: 'kopiatomic', engine: 'kopia', mountRoot: '/kopia' };
export const RESTOMIC: Flavour = { name: 'restomic', engine: 'restic', mountRoot: '/restic' };

/** One repository a job backs up to, with the engine's whole environment for it (job env, then the repository's). */
export interface Repository {
  /** "default" for a job that names no repositories (its env names the one). */
  name: string;
  /** The engine's environment for this repository: the job's env merged with the repository's own. */
  env: Record<string, string>;
  /** Whether the configuration named it ([[jobs.X.repositories]]); false for the job's one implicit repository. */
  configured: boolean;
}

export type { Retention } from '../engine/engine.js';

export type IoClass = 'idle' | 'best-effort';

/** The job's one repository when none is configured: its own env names it. */
export function implicitRepository(env: Record<string, string>): Repository {
  return { name: 'default', env, configured: false };
}

/** A job's settings: what every command that backs up receives (the flag form is job "default"). */
export interface JobOptions {
  /** The job's name; "default" for the flag form. */
  job: string;
  targets: string[];
  all: boolean;
  recursive: boolean;
  /** Select the datasets whose kopiatomic:backup property selects this job. */
  property: boolean;
  engine: Engine;
  command: string[];
  options: string[];
  pre: string | null;
  post: string | null;
  mountRoot: string;
  excludes: string[];
  layout: Layout;
  /** Extra environment for the engine only (config env + env_files); never for hooks, never printed. */
  env: Record<string, string>;
  metricsFile: string | null;
  pingUrl: string | null;
  maxAgeSeconds: number | null;
  /** systemd OnCalendar expression. */
  schedule: string;
  /** Percent of files read back and compared after the backup; null = no verification. */
  verifyPercent: number | null;
  /** The command that reads the backup back (words), or null for the engine's own. */
  verifyCommand: string[] | null;
  /** Seconds a signalled engine or hook may take to exit before SIGKILL; 0 = never. */
  killAfter: number;
  /** Seconds one zfs, zpool, mount or umount command may run (a batch mount or unmount: without progress) before it is killed (exit 9); 0 = no limit. */
  zfsTimeout: number;
  statusFile: string;
  /** Where the backup goes, in order: at least one (the implicit one when none is configured). */
  repositories: Repository[];
  retention: Retention | null;
  /** systemd OnCalendar expression for `kopiatomic check`; null = not scheduled. */
  checkSchedule: string | null;
  /** The engine's nice value; null = inherit. */
  nice: number | null;
  /** The engine's I/O class; null = inherit. */
  ioClass: IoClass | null;
}

/** Job settings given as flags: those named in `given` override a configured job's. */
export interface JobFlags extends JobOptions {
  given: Set<keyof JobOptions>;
}

/**
 * Seconds between SIGTERM and SIGKILL unless set (execute/interrupt.ts).
 * 30 s: systemd stops a unit with SIGTERM and kills everything after
 * TimeoutStopSec (90 s by default); an engine that ignores SIGTERM must be
 * gone well before that, leaving the rest for cleanup (unmount, release,
 * destroy) and the post hook.
 */
export const KILL_AFTER_DEFAULT = 30;

/** The defaults of settings that have one independent of the program. */
export function statusFileDefault(platform: string = process.platform): string {
  return platform === 'freebsd' ? '/var/db/kopiatomic/status.json' : '/var/lib/kopiatomic/status.json';
}

/** A mount root as given, checked and normalised; throws UsageError. */
export function checkMountRootPath(mountRoot: string, what = '--mount-root'): string {
  if (!mountRoot.startsWith('/')) throw new UsageError(`${what} must be an absolute path: ${mountRoot}`);
  const root = posix.normalize(mountRoot).replace(/\/+$/, '');
  if (root === '') throw new UsageError(`${what} cannot be /`);
  if (isWithin(root, '/tmp') || isWithin(root, '/var/tmp')) {
    throw new UsageError(`${what} must not be under a world-writable directory: ${mountRoot}`);
  }
  return root;
}

/** The engine: named, implied by the command's program, or the program's own. */
export function resolveEngine(name: string | undefined, command: string[] | null, flavour: Flavour): Engine {
  let engine: Engine;
  if (name !== undefined) {
    const e = ENGINES[name];
    if (!e) throw new UsageError(`unknown engine ${JSON.stringify(name)}: use kopia, restic or command`);
    engine = e;
  } else {
    engine = command ? engineForCommand(command) : ENGINES[flavour.engine]!;
  }
  if (!engine.defaultCommand.length && !command) throw new UsageError('--engine command needs -c COMMAND');
  return engine;
}
