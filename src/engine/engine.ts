// A backup engine turns the frozen sources into one or more command lines and
// reads the outcome from the exit code. Adapters: kopia, restic, command.
import type { Runner } from '../core/exec.js';
import { isBelow } from '../core/paths.js';
import type { Platform } from '../platform/platform.js';
import type { AbsenceRules } from './absence.js';

export type Layout = 'tree' | 'paths';
export type Outcome = 'ok' | 'partial' | 'failed';

export interface Source {
  /** Where the dataset is really mounted. */
  path: string;
  /** Where the snapshot of it is mounted in the tree. */
  readFrom: string;
  dataset: string;
}

export interface EngineContext {
  command: string[];
  options: string[];
  root: string;
  snapshot: string;
  runId: string;
  layout: Layout;
  platform: Platform['name'];
  sources: Source[];
  /**
   * The snapshot's creation time, recorded as the backup's time. The planner
   * passes SNAPSHOT_TIME (known only once the snapshots exist): engines write
   * timeWord(ctx.time, style) and the executor fills the slot with fillTime().
   */
  time: Date | typeof SNAPSHOT_TIME;
  probe?: Probe;
}

/** What a read-only look at the installed engine found (version, features). */
export interface Probe {
  version?: string;
  env?: Record<string, string>;
}

/** Mounts made inside a private mount namespace just for the engine. */
export interface NamespaceSpec {
  mounts: { dataset: string; snapshot: string; target: string }[];
}

export interface EngineCall {
  argv: string[];
  env: Record<string, string>;
  namespace?: NamespaceSpec;
}

/** A folder the engine writes to; `create`: the engine would create it itself if missing. */
export interface WritablePath {
  path: string;
  create: boolean;
}

export interface Engine {
  readonly name: 'kopia' | 'restic' | 'command';
  readonly defaultCommand: string[];
  /** Whether the sources are assembled under the mount root. */
  needsTree(layout: Layout, platform: Platform): boolean;
  /** A reason the layout cannot be used here, or null. */
  layoutProblem(layout: Layout, platform: Platform, probe: Probe): string | null;
  /** A reason these mount points cannot be backed up with the layout, or null. */
  sourcesProblem?(layout: Layout, paths: string[]): string | null;
  probe(runner: Runner, command: string[]): Promise<Probe>;
  calls(ctx: EngineContext): EngineCall[];
  /**
   * Folders this call writes to (cache, a local repository, TMPDIR) that must
   * stay writable when it runs in a mount namespace over frozen datasets.
   */
  writablePaths?(argv: string[], env: NodeJS.ProcessEnv): WritablePath[];
  /** What it leaves out of a backup, by itself or as told by its options (for the verification); none: every absent entry is lost. */
  absence?(ctx: Pick<EngineContext, 'command' | 'options'>): AbsenceRules;
  /** Keep stdout (still shown live) to read the outcome from it. */
  readonly captureStdout: boolean;
  outcome(code: number | null, stdout: string): Outcome;
}

/** Sources not inside another source: a backup of these includes the rest. */
export function topSources(sources: Source[]): Source[] {
  return sources.filter(
    (s) => !sources.some((o) => o !== s && isBelow(s.path, o.path)),
  );
}

/** "2026-11-26 07:00:00" in local time (restic --time) or UTC with zone (kopia). */
export function formatLocal(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function formatUtc(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** Stands for the snapshot's creation time in a planned call; see EngineContext.time. */
export const SNAPSHOT_TIME = Symbol('snapshot time');
export type TimeStyle = 'utc' | 'local';

// A NUL byte cannot occur in a real argv word, so a slot never collides with
// user input, and an unfilled slot makes spawn fail instead of running.
const SLOT = { utc: '\0kopiatomic-time:utc', local: '\0kopiatomic-time:local' } as const;

/** The time as one argv word: formatted, or the slot for the snapshot's time. */
export function timeWord(t: Date | typeof SNAPSHOT_TIME, style: TimeStyle): string {
  if (t === SNAPSHOT_TIME) return SLOT[style];
  return style === 'utc' ? formatUtc(t) : formatLocal(t);
}

/** The argv with every time slot replaced by `time` (null: a readable stand-in, for the dry run). */
export function fillTime(argv: string[], time: Date | null): string[] {
  return argv.map((w) =>
    w === SLOT.utc ? (time ? formatUtc(time) : '<snapshot creation time, UTC>') : w === SLOT.local ? (time ? formatLocal(time) : '<snapshot creation time>') : w,
  );
}

/** Index of the program in a command that may start with `env` and NAME=value words. */
export function programIndex(argv: string[]): number {
  const i = argv.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w) && w !== 'env');
  return i < 0 ? argv.length - 1 : i;
}

/** The words that start the program itself (for a version probe), without its subcommand. */
export function programPrefix(argv: string[]): string[] {
  return argv.slice(0, programIndex(argv) + 1);
}
