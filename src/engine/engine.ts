// A backup engine turns the frozen sources into one or more command lines and
// reads the outcome from the exit code. Adapters: kopia, restic, command.
import type { Runner } from '../core/exec.js';
import type { Platform } from '../platform/platform.js';

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
  /** The snapshot's creation time: recorded as the backup's time. */
  time: Date;
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
  /** Keep stdout (still shown live) to read the outcome from it. */
  readonly captureStdout: boolean;
  outcome(code: number | null, stdout: string): Outcome;
}

/** Sources not inside another source: a backup of these includes the rest. */
export function topSources(sources: Source[]): Source[] {
  return sources.filter(
    (s) => !sources.some((o) => o !== s && (o.path === '/' ? s.path !== '/' : s.path.startsWith(o.path + '/'))),
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

/** Index of the program in a command that may start with `env` and NAME=value words. */
export function programIndex(argv: string[]): number {
  const i = argv.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w) && w !== 'env');
  return i < 0 ? argv.length - 1 : i;
}

/** The words that start the program itself (for a version probe), without its subcommand. */
export function programPrefix(argv: string[]): string[] {
  return argv.slice(0, programIndex(argv) + 1);
}
