// kopia: `kopia snapshot create` of the tree, or one call per dataset with
// --override-source (kopia >= 0.14) so each keeps its own source, policy and history.
//
// Flags as kopia defines them (cli/command_snapshot_create.go):
//   --override-source=SRC  the source recorded for the snapshot, parsed like a
//                          source argument ("user@host:/path" or "/path"); kopia
//                          then marks that source's scheduling policy manual
//   --start-time=TIME      Go layout "2006-01-02 15:04:05 MST"
//   --tags=KEY:VALUE       repeatable; stored as "tag:KEY"
//   --json                 one manifest per source, on one line of stdout
import { posix } from 'node:path';
import type { Engine, EngineContext, EngineFigures, JobSnapshot, Outcome, RestoreInput, Restorer, RetentionInput, RetentionPlan } from './engine.js';
import { finiteNumber, jobTag, programPrefix, timeWord, topSources } from './engine.js';
import { atLeast } from './restic.js';

/** "0.17.0 build: ..." -> [0, 17, 0] */
export function parseKopiaVersion(out: string): number[] | null {
  const m = /(?:^|\s)v?(\d+)\.(\d+)\.(\d+)/.exec(out);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** Mount points kopia cannot take as --override-source: it reads "a@b" as user@host. */
export function kopiaSourcesProblem(layout: string, paths: string[]): string | null {
  if (layout !== 'paths') return null;
  const bad = paths.filter((p) => p.includes('@'));
  return bad.length
    ? `kopia cannot record ${bad.join(', ')} as a source (it reads "@" in --override-source as user@host); use --layout tree or exclude ${bad.length > 1 ? 'them' : 'it'}`
    : null;
}

function flags(ctx: EngineContext): string[] {
  return ['--start-time', timeWord(ctx.time, 'utc'), '--tags', `kopiatomic:${ctx.snapshot}`, '--tags', jobTag(ctx.job ?? 'default'), '--json'];
}

/**
 * kopia exits 1 both when it fails and when it saved a snapshot with file
 * errors. Its --json manifest tells them apart: a saved snapshot with failed
 * entries is a partial backup.
 */
export function kopiaOutcome(code: number | null, stdout: string): Outcome {
  if (code === 0) return 'ok';
  if (code !== 1) return 'failed';
  let saved = false;
  let failedEntries = 0;
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      const m = JSON.parse(t) as { id?: string; rootEntry?: { summ?: { numFailed?: number } } };
      if (m.id) saved = true;
      failedEntries += m.rootEntry?.summ?.numFailed ?? 0;
    } catch {
      // not a manifest line
    }
  }
  return saved && failedEntries > 0 ? 'partial' : 'failed';
}

export const kopiaEngine: Engine = {
  name: 'kopia',
  noun: 'kopia',
  defaultCommand: ['kopia', 'snapshot', 'create'],
  defaultMountRoot: '/kopia',
  needsTree: () => true,
  layoutProblem: (layout, _platform, probe) => {
    if (layout !== 'paths') return null;
    const v = probe.version ? parseKopiaVersion(probe.version) : null;
    if (!v) return 'could not read the kopia version; the paths layout needs kopia 0.14 or newer';
    return atLeast(v, [0, 14, 0]) ? null : `kopia ${v.join('.')} is too old for the paths layout (--override-source needs 0.14 or newer)`;
  },
  sourcesProblem: kopiaSourcesProblem,
  async probe(runner, command) {
    // kopia prints "0.17.0 build: <commit> from: kopia/kopia" (to stdout; stderr is read too, just in case).
    const r = await runner.run([...programPrefix(command), '--version'], { okCodes: [1] }).catch(() => null);
    const line = [r?.stdout, r?.stderr].map((o) => o?.trim().split('\n')[0] ?? '').find((l) => parseKopiaVersion(l));
    return { version: line ?? r?.stdout.trim().split('\n')[0] };
  },
  calls(ctx) {
    if (ctx.layout === 'paths') {
      // One call per source (--override-source names one source), in sequence:
      // each reads the same frozen tree, so order does not change what is
      // saved; kopia parallelises hashing and uploads inside one process
      // (--parallel), and one process at a time keeps its cache, memory and
      // bandwidth uncontended, its manifests on stdout apart, and each exit
      // code tied to one source. See README "Layouts".
      return topSources(ctx.sources).map((s) => ({
        argv: [...ctx.command, ...flags(ctx), `--override-source=${s.path}`, ...ctx.options, s.readFrom],
        env: {},
      }));
    }
    return [{ argv: [...ctx.command, ...flags(ctx), ...ctx.options, ctx.root], env: {} }];
  },
  // kopia leaves out what its policies say (ignore rules, .kopiaignore,
  // size limits, unknown entry types), which lives in its repository and is not read here.
  absence: () => ({ engine: 'kopia', notStored: [], rules: [], unknown: ["kopia's policies (ignore rules, .kopiaignore, size limits) are not evaluated"] }),
  captureStdout: true,
  outcome: kopiaOutcome,
  restorer: kopiaRestorer,
  restoreLines: (i) => [kopiaRestoreArgv(i.ctx.command, 'ID', 'DIR/0')],
  verifyProblem: () => null,
  figures: kopiaFigures,
  retention: kopiaRetention,
  repository: {
    base: (command) => kopiaBase(command),
    // cli/command_snapshot_verify.go: `snapshot verify` walks every snapshot's
    // directories and checks each object's contents exist; --verify-files-percent
    // (default 0) also reads that share of the files back whole.
    check: (base, p) => [...base, 'snapshot', 'verify', `--verify-files-percent=${p ?? 0}`],
    // cli/command_snapshot_list.go: --tags KEY:VALUE filters; without --all only
    // this user and host's snapshots are listed; --json prints the manifests.
    snapshots: (base, job) => [...base, 'snapshot', 'list', '--json', '--tags', jobTag(job)],
    parseSnapshots: parseKopiaSnapshots,
    // cli/command_restore.go: the source is "ID/sub/path", restored into the
    // target directory given after it; snapshotfs FilesystemEntryFromIDWithPath
    // takes a snapshot manifest id as ID, then the path inside that snapshot.
    restore: (base, snap, target, inside) => {
      const root = snap.paths[0] ?? '/';
      return (inside.length ? inside : [root]).map((p) => {
        const rel = posix.relative(root, p);
        return [...base, 'snapshot', 'restore', rel ? `${snap.id}/${rel}` : snap.id, posix.join(target, p)];
      });
    },
  },
};

// kopia's retention flags, as cli/command_policy_set_retention.go defines
// them for `kopia policy set` (keep-latest, keep-hourly, keep-daily,
// keep-weekly, keep-monthly, keep-annual: a number or "inherit").
const KOPIA_KEEP = [
  ['keepLast', '--keep-latest'],
  ['keepHourly', '--keep-hourly'],
  ['keepDaily', '--keep-daily'],
  ['keepWeekly', '--keep-weekly'],
  ['keepMonthly', '--keep-monthly'],
  ['keepYearly', '--keep-annual'],
] as const;

/**
 * kopia keeps retention as its own per-source policy, applied by kopia each
 * time it snapshots that source: `kopia policy set SOURCE --keep-...` for
 * each source the backups record, then `kopia snapshot expire SOURCE
 * --delete` (cli/command_snapshot_expire.go) applies it at once. A policy
 * belongs to the source (user@host:path), not to a tag: jobs that record the
 * same source share one retention. kopia has no prune: its maintenance frees
 * the data. kopia cannot show what a policy would expire before it is set,
 * so a dry run's calls are the real ones, shown and never run.
 */
export function kopiaRetention(i: RetentionInput): RetentionPlan {
  // Every class is set: one left out would inherit kopia's global policy
  // (keep-latest 10, keep-hourly 48, ...), where restic's unset keep_* keeps nothing by it.
  const keep = KOPIA_KEEP.map(([k, flag]) => `${flag}=${i.retention[k] ?? 0}`);
  const base = kopiaBase(i.command);
  return {
    calls: i.sources.flatMap((src) => [
      [...base, 'policy', 'set', src, ...keep],
      [...base, 'snapshot', 'expire', src, '--delete'],
    ]),
  };
}

/** The words of the backup command before its `snapshot` verb (wrappers, --config-file=...). */
function kopiaBase(command: string[]): string[] {
  const i = command.indexOf('snapshot', programPrefix(command).length);
  return i < 0 ? programPrefix(command) : command.slice(0, i);
}

/** `kopia snapshot list --json`: a list of manifests (id, source.path, startTime). */
export function parseKopiaSnapshots(stdout: string): JobSnapshot[] {
  const list = JSON.parse(stdout.trim() || '[]') as unknown;
  if (!Array.isArray(list)) throw new Error('kopia snapshot list --json did not print a list');
  return list.flatMap((m: { id?: unknown; startTime?: unknown; source?: { path?: unknown } }) =>
    typeof m.id === 'string' && typeof m.startTime === 'string' && !Number.isNaN(Date.parse(m.startTime))
      ? [{ id: m.id, time: new Date(m.startTime).toISOString(), paths: typeof m.source?.path === 'string' ? [m.source.path] : [] }]
      : [],
  );
}

// Verify: the manifests `snapshot create --json` printed, and restore.

export interface KopiaManifest {
  id: string;
  /** The source path the snapshot was recorded under. */
  path: string;
  /** Total size of the files (rootEntry.summ.size), when kopia gave it. */
  size: number | null;
}

/**
 * Every manifest object in kopia's stdout. kopia prints one JSON object per
 * source (cli/command_snapshot_create.go reportSnapshotStatus: the
 * snapshot.Manifest, on one line, or indented with --json-indent); its fields
 * are id, source {host, userName, path}, rootEntry {obj, summ {size, files,
 * numFailed, ...}} (snapshot/manifest.go). Objects are found by brace depth,
 * strings respected, so both forms parse; other text is ignored.
 */
export function parseKopiaManifests(stdout: string): KopiaManifest[] {
  const out: KopiaManifest[] = [];
  for (const text of jsonObjects(stdout)) {
    let m: { id?: unknown; source?: { path?: unknown }; rootEntry?: { summ?: { size?: unknown } } };
    try {
      m = JSON.parse(text) as typeof m;
    } catch {
      continue;
    }
    if (typeof m.id !== 'string' || !m.id) continue;
    const size = m.rootEntry?.summ?.size;
    out.push({ id: m.id, path: typeof m.source?.path === 'string' ? m.source.path : '', size: typeof size === 'number' ? size : null });
  }
  return out;
}

function jsonObjects(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"' && depth > 0) inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && depth > 0 && --depth === 0) out.push(s.slice(start, i + 1));
  }
  return out;
}

/**
 * `kopia snapshot restore ID DIR`, with the words of the backup command
 * before its `snapshot` verb (so `--config-file=...` and wrappers carry over).
 * As root kopia restores owners, modes and times by default.
 */
export function kopiaRestoreArgv(command: string[], id: string, target: string): string[] {
  return [...kopiaBase(command), 'snapshot', 'restore', id, target];
}

/**
 * kopia snapshot create --json: one manifest per source, one per line; its
 * stats hold fileCount, totalSize, errorCount; rootEntry.summ.numFailed counts
 * failed entries. Several manifests (the paths layout) are summed.
 */
export function kopiaFigures(stdout: string): EngineFigures | undefined {
  const ids: string[] = [];
  let files: number | undefined;
  let bytes: number | undefined;
  let errors: number | undefined;
  const add = (a: number | undefined, b: number | undefined) => (b === undefined ? a : (a ?? 0) + b);
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    let m: { id?: unknown; stats?: Record<string, unknown>; rootEntry?: { summ?: Record<string, unknown> } };
    try {
      m = JSON.parse(t) as typeof m;
    } catch {
      continue;
    }
    if (typeof m.id !== 'string') continue;
    ids.push(m.id);
    files = add(files, finiteNumber(m.stats?.['fileCount']) ?? finiteNumber(m.rootEntry?.summ?.['files']));
    bytes = add(bytes, finiteNumber(m.stats?.['totalSize']) ?? finiteNumber(m.rootEntry?.summ?.['size']));
    const e = Math.max(finiteNumber(m.stats?.['errorCount']) ?? 0, finiteNumber(m.rootEntry?.summ?.['numFailed']) ?? 0);
    errors = add(errors, e);
  }
  return ids.length ? { engine: 'kopia', snapshotId: ids.join(','), files, bytesProcessed: bytes, errors } : undefined;
}

/** `kopia snapshot restore ID DIR/N` per manifest id read from the backup's --json output; each compared with the tree directory it was read from. */
async function kopiaRestorer(i: RestoreInput): Promise<Restorer> {
  const { ctx } = i;
  const manifests = parseKopiaManifests(i.stdouts.join('\n'));
  const calls = kopiaEngine.calls({ ...ctx, time: new Date(), probe: i.probe });
  if (manifests.length !== calls.length) throw new Error(`expected ${calls.length} snapshot manifest(s) in kopia's --json output, found ${manifests.length}`);
  // Tree layout: one manifest of the mount root; paths layout: one per top source, in call order.
  const readFrom = i.layout === 'paths' ? topSources(ctx.sources).map((s) => s.readFrom) : [i.mountRoot];
  return {
    size: manifests.reduce((n, m) => n + (m.size ?? 0), 0),
    restore: async (dir) => {
      for (const [k, m] of manifests.entries()) {
        const err = await i.run(kopiaRestoreArgv(ctx.command, m.id, `${dir}/${k}`), {});
        if (err) return err;
      }
      return null;
    },
    pairs: (dir) => manifests.map((m, k) => ({ frozen: readFrom[k]!, restored: `${dir}/${k}`, shown: m.path || readFrom[k]!, rootMeta: false })),
  };
}
