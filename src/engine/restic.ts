// restic: `restic backup` of the tree, or of the real paths inside a private
// mount namespace (Linux) so that parents, policies and restores keep the real paths.
import { which } from '../core/which.js';
import type { Engine, EngineContext, EngineFigures, JobSnapshot, RestoreInput, Restorer, RetentionInput, RetentionPlan } from './engine.js';
import { finiteNumber, jobTag, programPrefix, timeWord, topSources, type WritablePath } from './engine.js';
import { posix } from 'node:path';
import { mountOrder } from '../core/paths.js';
import type { AbsenceRules, ExcludeRule } from './absence.js';
import { readResticPatternFile } from './restic-exclude-file.js';

/** "restic 0.17.3 compiled with ..." -> [0, 17, 3] */
export function parseResticVersion(out: string): number[] | null {
  const m = /restic\s+v?(\d+)\.(\d+)\.(\d+)/.exec(out);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

export function atLeast(v: number[], want: number[]): boolean {
  for (let i = 0; i < want.length; i++) {
    if ((v[i] ?? 0) !== want[i]) return (v[i] ?? 0) > want[i]!;
  }
  return true;
}

function commonFlags(ctx: EngineContext): string[] {
  // restic reads --time in local time.
  return ['--time', timeWord(ctx.time, 'local'), '--tag', ctx.snapshot, '--tag', jobTag(ctx.job ?? 'default')];
}

export const resticEngine: Engine = {
  name: 'restic',
  noun: 'restic',
  defaultCommand: ['restic', 'backup'],
  defaultMountRoot: '/restic',
  needsTree: (layout, platform) => !(layout === 'paths' && platform.hasMountNamespaces),
  layoutProblem: (layout, platform) => {
    if (layout !== 'paths') return null;
    if (!platform.hasMountNamespaces) {
      return `the paths layout for restic needs private mount namespaces, which ${platform.name} does not have; use --layout tree (the default)`;
    }
    if (!which('unshare')) return 'the paths layout for restic needs unshare(1) (util-linux), which is not in PATH';
    return null;
  },
  async probe(runner, command) {
    const r = await runner.run([...programPrefix(command), 'version'], { okCodes: [1] }).catch(() => null);
    const v = r ? parseResticVersion(r.stdout) : null;
    // Snapshot mounts get a new device id on every run; without this feature
    // restic (>= 0.17) would record every folder as changed.
    // Added to, never replacing, features the user already turned on.
    const mine = process.env['RESTIC_FEATURES'] ?? '';
    const env: Record<string, string> =
      v && atLeast(v, [0, 17, 0]) && !mine.split(',').includes('device-id-for-hardlinks')
        ? { RESTIC_FEATURES: mine ? `${mine},device-id-for-hardlinks` : 'device-id-for-hardlinks' }
        : {};
    return { version: v?.join('.'), env };
  },
  calls(ctx) {
    const env = { ...(ctx.probe?.env ?? {}) };
    if (ctx.layout === 'paths' && ctx.platform === 'linux') {
      const tops = topSources(ctx.sources);
      return [
        {
          argv: [...ctx.command, ...commonFlags(ctx), ...ctx.options, ...tops.map((s) => s.path)],
          env,
          namespace: {
            // Parents first: a nested mount point is a folder in its parent's snapshot.
            mounts: mountOrder(ctx.sources.map((s) => ({ dataset: s.dataset, snapshot: ctx.snapshot, target: s.path }))),
          },
        },
      ];
    }
    return [{ argv: [...ctx.command, ...commonFlags(ctx), ...ctx.options, ctx.root], env }];
  },
  writablePaths: resticWritablePaths,
  absence: (ctx) => resticAbsence(ctx.command, ctx.options),
  captureStdout: false,
  // 3: the snapshot was saved but some files could not be read.
  outcome: (code) => (code === 0 ? 'ok' : code === 3 ? 'partial' : 'failed'),
  restorer: resticRestorer,
  restoreLines: (i) => {
    const base = resticBase(i.ctx.command, i.ctx.options);
    const version = i.probe.version ? parseResticVersion(`restic ${i.probe.version}`) : null;
    return [resticSnapshotsArgv(base, i.snapshot), resticStatsArgv(base, 'ID'), resticRestoreArgv(base, 'ID', 'DIR', version)];
  },
  verifyProblem: () => null,
  figures: resticFigures,
  retention: resticRetention,
  repository: {
    base: resticBase,
    // restic check (0.14 as well): --read-data reads every pack, --read-data-subset=P% a random share.
    check: (base, p) => [...base, 'check', ...(p === null ? [] : p >= 100 ? ['--read-data'] : [`--read-data-subset=${p}%`])],
    snapshots: (base, job, host) => [...base, 'snapshots', '--json', '--tag', jobTag(job), '--host', host],
    parseSnapshots: parseResticSnapshots,
    // One restore; each --include keeps its path under the target (restic restores absolute paths).
    restore: (base, snap, target, inside) => [[...base, 'restore', snap.id, '--target', target, ...inside.flatMap((p) => ['--include', p])]],
  },
};

/** `restic snapshots --json`: id, time and paths of each (restic prints the oldest first). */
export function parseResticSnapshots(stdout: string): JobSnapshot[] {
  const list = JSON.parse(stdout.trim() || '[]') as unknown;
  if (!Array.isArray(list)) throw new Error('restic snapshots --json did not print a list');
  return list.flatMap((s: { id?: unknown; time?: unknown; paths?: unknown }) =>
    typeof s.id === 'string' && typeof s.time === 'string' && !Number.isNaN(Date.parse(s.time))
      ? [{ id: s.id, time: new Date(s.time).toISOString(), paths: Array.isArray(s.paths) ? s.paths.filter((p): p is string => typeof p === 'string') : [] }]
      : [],
  );
}

/**
 * The host restic records in a snapshot, as `restic backup` picks it: its
 * --host/-H option (the last one), else RESTIC_HOST, else os.Hostname().
 */
export function resticHost(options: string[], env: Record<string, string | undefined>, hostname: string): string {
  let found: string | undefined;
  for (let k = 0; k < options.length; k++) {
    const w = options[k]!;
    if (w === '--') break;
    if (w === '--host' || w === '-H') found = options[++k];
    else if (w.startsWith('--host=')) found = w.slice(7);
    else if (/^-H.+/.test(w)) found = w.slice(2).replace(/^=/, '');
  }
  return found ?? (env['RESTIC_HOST'] || hostname);
}

const KEEP_FLAGS = [
  ['keepLast', '--keep-last'],
  ['keepHourly', '--keep-hourly'],
  ['keepDaily', '--keep-daily'],
  ['keepWeekly', '--keep-weekly'],
  ['keepMonthly', '--keep-monthly'],
  ['keepYearly', '--keep-yearly'],
] as const;

/**
 * `restic forget` of this job's snapshots made on this host only: --tag
 * selects the job's tag, --host this host's name as its backups record it.
 * --group-by host puts all of them in one group: restic's default grouping
 * (host,paths) would make a group of its own for every set of paths (the
 * datasets a job selects can change from run to run), and grouping by tags
 * would too, since every snapshot carries its run's own tag. A snapshot made
 * by hand or by another job lacks the job tag, one of another host has
 * another host name: neither is in the group, so neither is ever forgotten.
 */
export function resticRetention(i: RetentionInput): RetentionPlan {
  const keep = KEEP_FLAGS.flatMap(([k, flag]) => (i.retention[k] === undefined ? [] : [flag, String(i.retention[k])]));
  const argv = [
    ...resticBase(i.command, i.options),
    'forget',
    '--tag', jobTag(i.job),
    '--host', resticHost(i.options, i.env, i.hostname),
    '--group-by', 'host',
    ...keep,
    ...(i.retention.prune ? ['--prune'] : []),
    ...(i.dryRun ? ['--dry-run'] : []),
  ];
  return i.dryRun ? { calls: [argv], readOnly: true } : { calls: [argv] };
}

/**
 * What restic writes to: its cache, a local repository, and its temporary
 * folder. If one of them lies on a frozen dataset, ns-exec binds the live
 * folder back over the snapshot so restic can still write there.
 */
export function resticWritablePaths(argv: string[], env: NodeJS.ProcessEnv): WritablePath[] {
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

// Verify: find the run's snapshot, size it, restore it.

/** restic's global options that take a value (they select and open the repository). */
const RESTIC_GLOBAL_VALUE = new Set([
  '-r', '--repo', '--repository-file', '-p', '--password-file', '--password-command', '--key-hint',
  '--cache-dir', '--cacert', '--tls-client-cert', '-o', '--option', '--limit-download', '--limit-upload',
]);
const RESTIC_GLOBAL_BOOL = new Set(['--no-cache', '--no-lock', '--insecure-tls', '--cleanup-cache']);
/** `restic backup` options that take a value: skipped with their value. */
const RESTIC_BACKUP_VALUE = new Set([
  '-e', '--exclude', '--iexclude', '--exclude-file', '--iexclude-file', '--exclude-if-present', '--exclude-larger-than',
  '--files-from', '--files-from-raw', '--files-from-verbatim', '-H', '--host', '--parent', '--tag', '--time',
  '--stdin-filename', '--read-concurrency', '--compression', '--pack-size',
]);
/** Options that make `restic backup` leave things out of the backup (resticAbsence evaluates some of them). */
const RESTIC_EXCLUDES = new Set([
  '-e', '--exclude', '--iexclude', '--exclude-file', '--iexclude-file', '--exclude-caches', '--exclude-if-present',
  '--exclude-larger-than', '-x', '--one-file-system', '--files-from', '--files-from-raw', '--files-from-verbatim',
]);

const flagName = (w: string) => (w.startsWith('--') ? w.split('=')[0]! : w);

/**
 * The restic command to read the repository with: the backup command without
 * its `backup` verb (so wrappers, `env` and global flags carry over), plus the
 * global options found among -o (repository, password, cache, TLS).
 */
export function resticBase(command: string[], options: string[]): string[] {
  const i = command.indexOf('backup', programIndexOf(command) + 1);
  const base = i < 0 ? command.slice(0, programIndexOf(command) + 1) : command.slice(0, i);
  const globals: string[] = [];
  for (let k = 0; k < options.length; k++) {
    const w = options[k]!;
    if (w === '--') break;
    const name = flagName(w);
    if (RESTIC_GLOBAL_BOOL.has(name)) globals.push(w);
    else if (RESTIC_GLOBAL_VALUE.has(name)) {
      if (w.includes('=')) globals.push(w);
      else if (k + 1 < options.length) globals.push(w, options[++k]!);
    } else if (/^-[rp].+/.test(w) && !w.startsWith('--')) globals.push(w); // -rVALUE
    else if (RESTIC_BACKUP_VALUE.has(name) && !w.includes('=')) k++;
  }
  return [...base, ...globals];
}

function programIndexOf(argv: string[]): number {
  const i = argv.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w) && w !== 'env');
  return i < 0 ? argv.length - 1 : i;
}

/** `restic snapshots --json --tag TAG`: the run's snapshot, found by its unique tag, never "latest". */
export function resticSnapshotsArgv(base: string[], tag: string): string[] {
  return [...base, 'snapshots', '--json', '--tag', tag];
}

/** Snapshot ids from `restic snapshots --json` (an array of {id, short_id, paths, tags, ...}). */
export function parseResticSnapshotIds(stdout: string): string[] {
  const list = JSON.parse(stdout.trim() || '[]') as unknown;
  if (!Array.isArray(list)) throw new Error('restic snapshots --json did not print a list');
  return list.map((s) => (s as { id?: unknown }).id).filter((id): id is string => typeof id === 'string' && /^[0-9a-f]{64}$/.test(id));
}

/** `restic stats --json --mode restore-size ID`: the bytes a restore writes. */
export function resticStatsArgv(base: string[], id: string): string[] {
  return [...base, 'stats', '--json', '--mode', 'restore-size', id];
}

export function parseResticRestoreSize(stdout: string): number {
  const line = stdout.trim().split('\n').reverse().find((l) => l.trim().startsWith('{'));
  const v = line ? (JSON.parse(line) as { total_size?: unknown }).total_size : undefined;
  if (typeof v !== 'number') throw new Error('restic stats --json printed no total_size');
  return v;
}

/**
 * `restic restore ID --target DIR`. As root restic restores owners, modes and
 * times. --sparse exists from restic 0.15 (0.14, Debian 12's, writes holes
 * out as zeros: the space check counts the full size either way).
 */
export function resticRestoreArgv(base: string[], id: string, target: string, version: number[] | null): string[] {
  return [...base, 'restore', id, '--target', target, ...(version && atLeast(version, [0, 15, 0]) ? ['--sparse'] : [])];
}

// What a verification must know: what restic leaves out, by itself and as told

/** --exclude-caches is --exclude-if-present with the tag of the Cache Directory Tagging Specification. */
const CACHEDIR_TAG = { name: 'CACHEDIR.TAG', header: 'Signature: 8a477f597d28d172789f06886806bc55' };

/**
 * restic never stores sockets (its archiver skips them); everything else it
 * meets (files, directories, symlinks, FIFOs, devices) it stores. What its
 * options leave out is evaluated where it can be exactly (--exclude,
 * --iexclude, their files read as restic reads them (--exclude-file,
 * --iexclude-file; a pattern naming a variable only when `env`, restic's
 * environment, is given), --exclude-caches, --exclude-if-present,
 * --exclude-larger-than);
 * the other options that leave things out make an unexplained absence
 * "could not be judged".
 */
export function resticAbsence(command: string[], options: string[], env?: Record<string, string | undefined>): AbsenceRules {
  const rules: ExcludeRule[] = [];
  const unknown = new Set<string>();
  const words = [...command.slice(programIndexOf(command) + 1), ...options];
  for (let k = 0; k < words.length; k++) {
    const w = words[k]!;
    if (w === '--') break;
    if (!w.startsWith('-') || w === '-') continue;
    const long = w.startsWith('--');
    const name = long ? flagName(w) : w.slice(0, 2);
    const inline = long ? (w.includes('=') ? w.slice(w.indexOf('=') + 1) : undefined) : w.length > 2 ? w.slice(2).replace(/^=/, '') : undefined;
    const takes = RESTIC_BACKUP_VALUE.has(name) || RESTIC_GLOBAL_VALUE.has(name);
    const value = inline ?? (takes ? words[++k] : undefined);
    if (!long && w.length > 2 && !takes) {
      // -xv and the like: a cluster of short flags
      if (/[ex]/.test(w.slice(1))) unknown.add(`${w} (short options together)`);
      continue;
    }
    switch (name) {
      case '-e':
      case '--exclude':
      case '--iexclude':
        if (value !== undefined) rules.push({ kind: 'restic-pattern', pattern: value, insensitive: name === '--iexclude', option: name });
        break;
      case '--exclude-file':
      case '--iexclude-file': {
        if (value === undefined) break;
        const f = readResticPatternFile(value, env);
        const insensitive = name === '--iexclude-file';
        if ('problem' in f) unknown.add(`${name} ${value} (${f.problem})`);
        else for (const pattern of f.patterns) rules.push({ kind: 'restic-pattern', pattern, insensitive, option: `${name} ${value}:` });
        break;
      }
      case '--exclude-caches':
        if (inline === undefined || inline === 'true') rules.push({ kind: 'if-present', ...CACHEDIR_TAG, option: '--exclude-caches' });
        else if (inline !== 'false') unknown.add(w);
        break;
      case '--exclude-if-present': {
        const colon = value?.indexOf(':') ?? -1;
        if (value === undefined || colon === 0) break;
        rules.push({ kind: 'if-present', name: colon > 0 ? value.slice(0, colon) : value, header: colon > 0 ? value.slice(colon + 1) : '', option: name });
        break;
      }
      case '--exclude-larger-than': {
        const bytes = value === undefined ? null : resticParseBytes(value);
        if (bytes === null) unknown.add(`${name} ${value ?? ''}`);
        else rules.push({ kind: 'larger-than', bytes, option: `${name} ${value}` });
        break;
      }
      default:
        if (RESTIC_EXCLUDES.has(name) || /^--i?exclude/.test(name)) unknown.add(`${name}${value !== undefined && takes ? ` ${value}` : ''}`);
    }
  }
  return { engine: 'restic', notStored: ['socket'], rules, unknown: [...unknown].map((o) => `${o} is not evaluated`) };
}

/** restic's sizes: a number of bytes, or with a suffix b, k, m, g, t (powers of 1024). null: not one. */
export function resticParseBytes(s: string): number | null {
  const unit: Record<string, number> = { b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  const last = s.slice(-1).toLowerCase();
  const num = unit[last] ? s.slice(0, -1) : s;
  if (!/^[+-]?\d+$/.test(num)) return null;
  const v = Number(num) * (unit[last] ?? 1);
  return Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/**
 * restic backup --json: one JSON object per line; the last has
 * message_type "summary" (files_new, files_changed, files_unmodified,
 * total_files_processed, total_bytes_processed, data_added, snapshot_id).
 */
export function resticFigures(stdout: string): EngineFigures | undefined {
  let found: EngineFigures | undefined;
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(t) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (m['message_type'] !== 'summary') continue;
    found = {
      engine: 'restic',
      snapshotId: typeof m['snapshot_id'] === 'string' ? m['snapshot_id'] : undefined,
      filesNew: finiteNumber(m['files_new']),
      filesChanged: finiteNumber(m['files_changed']),
      filesUnmodified: finiteNumber(m['files_unmodified']),
      files: finiteNumber(m['total_files_processed']),
      bytesProcessed: finiteNumber(m['total_bytes_processed']),
      bytesAdded: finiteNumber(m['data_added']),
    };
  }
  return found;
}

/**
 * The snapshot is found by the run's unique tag (kopiatomic-<run id>), sized
 * with `restic stats --mode restore-size`, restored with `restic restore ID
 * --target DIR`. restic records absolute paths, so the tree layout restores
 * to DIR/<mount root>/..., the paths layout to DIR/<real path>/... In the
 * paths layout the frozen tree exists only in a private namespace, so the
 * comparison runs in a new one (the snapshots mounted over the real paths
 * again, exactly as for the backup) and follows the real paths.
 */
async function resticRestorer(i: RestoreInput): Promise<Restorer> {
  const { ctx, runner } = i;
  const base = resticBase(ctx.command, ctx.options);
  const found = parseResticSnapshotIds((await runner.run(resticSnapshotsArgv(base, i.snapshot))).stdout);
  if (found.length !== 1) throw new Error(`expected one restic snapshot tagged ${i.snapshot}, found ${found.length}`);
  const id = found[0]!;
  const size = parseResticRestoreSize((await runner.run(resticStatsArgv(base, id))).stdout);
  const version = i.probe.version ? parseResticVersion(`restic ${i.probe.version}`) : null;
  // The paths layout ran restic in a namespace over the real paths; the comparison does too.
  const mounts = resticEngine.calls({ ...ctx, time: new Date(), probe: i.probe })[0]?.namespace?.mounts;
  const paths = Boolean(mounts);
  const tops = paths ? topSources(ctx.sources) : [];
  return {
    size,
    restore: (dir) => i.run(resticRestoreArgv(base, id, dir, version), {}),
    pairs: (dir) =>
      paths
        ? tops.map((s) => ({ frozen: s.path, restored: posix.join(dir, s.path), shown: s.path }))
        : [{ frozen: i.mountRoot, restored: posix.join(dir, i.mountRoot), shown: i.mountRoot }],
    ...(mounts ? { namespace: mounts } : {}),
  };
}
