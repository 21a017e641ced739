// A backup engine turns the frozen sources into one or more command lines and
// reads the outcome from the exit code. Adapters: kopia, restic, command.
// Each engine is the whole strategy: backup, restore (for the verification),
// its figures (for the metrics); nothing outside engine/ asks which it is.
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
  /** The job's name, in the job tag of every backup (jobTag); none: "default", the flag form's. */
  job?: string;
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

export type EngineName = 'kopia' | 'restic' | 'command';

/** Figures the engine reported about the backup; any may be missing. */
export interface EngineFigures {
  engine: EngineName;
  /** restic: the summary's snapshot_id; kopia: the manifest id(s), comma separated. */
  snapshotId?: string;
  filesNew?: number;
  filesChanged?: number;
  filesUnmodified?: number;
  /** Files in the snapshot (kopia stats.fileCount; restic total_files_processed). */
  files?: number;
  /** Bytes read from the source (restic total_bytes_processed; kopia stats.totalSize). */
  bytesProcessed?: number;
  /** Bytes added to the repository (restic data_added). */
  bytesAdded?: number;
  /** Entries the engine could not read (kopia stats.errorCount / rootEntry.summ.numFailed). */
  errors?: number;
}

/**
 * The tag that names a backup's job, the same text for every engine: restic
 * `--tag kopiatomic-job:NAME`, kopia `--tags kopiatomic-job:NAME` (kopia's
 * KEY:VALUE form). Anything scoped to a job (retention, restore) finds the
 * job's snapshots by it, and only them.
 */
export const JOB_TAG_KEY = 'kopiatomic-job';
export const jobTag = (job: string): string => `${JOB_TAG_KEY}:${job}`;

/** Which of the job's snapshots a repository keeps; an unset keep_* is not passed. */
export interface Retention {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  prune: boolean;
}

/** What an engine needs to apply a job's retention to one repository. */
export interface RetentionInput {
  command: string[];
  options: string[];
  job: string;
  retention: Retention;
  /** The sources the backups record (the mount root, or each top source's real path in the paths layout). */
  sources: string[];
  /** The repository's whole environment (process's, job's, repository's): where the engine reads its host name. */
  env: Record<string, string | undefined>;
  /** This machine's host name (os.hostname()). */
  hostname: string;
  /** Plan commands that only show what would go (restic forget --dry-run), where the engine can. */
  dryRun: boolean;
}

/**
 * The commands that apply the retention, in order (`readOnly`: they change
 * nothing, a dry run may run them), or why this engine cannot.
 */
export type RetentionPlan = { calls: string[][]; readOnly?: true } | { problem: string };

/** A frozen tree and the same tree as restored from the backup, compared by the verification. */
export interface TreePair {
  /** The frozen tree (snapshot mounts). */
  frozen: string;
  /** The same tree as restored from the backup. */
  restored: string;
  /** How paths below it are named in the report (what the backup records). */
  shown: string;
  /** Compare the root directory's own metadata too (default); false when the restore directory was made by us, not restored. */
  rootMeta?: boolean;
}

/** What an engine needs to restore a run's backup (the verification). */
export interface RestoreInput {
  /** For read-only queries (which snapshot, how large). */
  runner: Runner;
  ctx: Omit<EngineContext, 'time'>;
  snapshot: string;
  mountRoot: string;
  layout: Layout;
  probe: Probe;
  /** The backup's captured stdout, one per call (kopia's --json manifests). */
  stdouts: string[];
  /** The user's restore command (the command engine). */
  verifyCommand: string[] | null;
  /** Runs a restore with its output live: null when it exited 0, else what failed. */
  run(argv: string[], extraEnv: Record<string, string>): Promise<string | null>;
  /** Logical bytes of the run's snapshots: the restore size when the engine cannot say. */
  logicalSize(): Promise<number>;
}

/** How one engine restores the run's backup: its size, the restore, and what to compare. */
export interface Restorer {
  /** Bytes the restore writes. */
  size: number;
  /** null = ok, else what failed. */
  restore(dir: string): Promise<string | null>;
  pairs(dir: string): TreePair[];
  /** The comparison must run in a namespace where the snapshots are mounted over these paths. */
  namespace?: NamespaceSpec['mounts'];
}

export interface Engine {
  readonly name: EngineName;
  /** How messages name it: "kopia", "restic", "backup command". */
  readonly noun: string;
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
  /** The mount root when none is configured; none: the flavour's. */
  readonly defaultMountRoot?: string;
  /** How it restores this run's backup, for the verification. */
  restorer(i: RestoreInput): Promise<Restorer>;
  /** The verification's commands as the dry run shows them (ID and DIR where only the run knows them). */
  restoreLines(i: Pick<RestoreInput, 'ctx' | 'snapshot' | 'mountRoot' | 'probe' | 'verifyCommand'>): string[][];
  /** Why --verify cannot be honoured with this restore command, or null. */
  verifyProblem(verifyCommand: string[] | null): string | null;
  /** Its figures from its captured stdout (the metrics); undefined when it reported none. */
  figures(stdout: string): EngineFigures | undefined;
  /** The commands that keep only what the job's retention says in one repository (after a backup, and `forget`). */
  retention(i: RetentionInput): RetentionPlan;
  /** What it does with a repository outside a backup (check, pass-through, restore); none: it has no repository of its own (the command engine). */
  readonly repository?: RepositoryVerbs;
}

/** One of a job's snapshots in a repository, as the engine lists it. */
export interface JobSnapshot {
  id: string;
  /** ISO time of the backup (the ZFS snapshot's creation). */
  time: string;
  /** The paths it recorded (restic: the backup's arguments; kopia: its source). */
  paths: string[];
}

/**
 * An engine's repository commands, each as an argv. `base` is the engine's
 * program with the job's global options (repository, password file, config
 * file...), so every command reaches the job's repository; secrets stay in
 * the environment.
 */
export interface RepositoryVerbs {
  base(command: string[], options: string[]): string[];
  /** Checks the repository; `readPercent`: the share of the data read back (null: the structure only). */
  check(base: string[], readPercent: number | null): string[];
  /** Lists this job's snapshots made on `host` (found by the job tag). */
  snapshots(base: string[], job: string, host: string): string[];
  parseSnapshots(stdout: string): JobSnapshot[];
  /**
   * Restores `snap` into `target`, only `inside` (paths inside the backup, in
   * it; none: all of it), each at its path inside the backup under `target`.
   */
  restore(base: string[], snap: JobSnapshot, target: string, inside: string[]): string[][];
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

/** A finite number from parsed JSON, else undefined. */
export const finiteNumber = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
