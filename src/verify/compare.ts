// Compares a restored tree with the frozen tree it was backed up from.
//
// Both trees are walked together, folder by folder, names sorted, so memory
// holds one folder's names per level plus the hard-link groups (only files
// with more than one link), never a file's contents: contents are hashed in
// 1 MiB reads. Nothing is followed: every entry is lstat()ed, folders are
// entered only when lstat says folder, files are opened with O_NOFOLLOW.
//
// Compared for every entry on both sides: the name (present on both sides),
// the type, the mode (permission bits with setuid/setgid/sticky), uid and gid;
// files: size, mtime (ns) and which other paths share their inode (hard
// links); folders: mtime; symlinks: the target; devices: the device number.
// Contents (SHA-256) for every file, or for the files the sample picks.
import { closeSync, constants, lstatSync, openSync, readSync } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { judgeAbsent, type AbsenceRules, type EntryKind } from '../engine/absence.js';
import type { TreePair } from '../engine/engine.js';
import { MAX_DIFFERENCES, MAX_EXCLUDED, zeroCounts } from './result.js';

/** The comparison's work when it runs as its own process (bin/verify-compare.ts, the paths layout). */
export interface CompareJob {
  pairs: TreePair[];
  runId: string;
  percent: number;
  /** What the engine leaves out (engine/absence.ts). */
  absence: AbsenceRules;
  /** Frozen paths left out (the restore directory, should it be visible in the tree). */
  skip: string[];
}

export interface CompareOptions {
  /** Whether this file's contents are hashed (the sample); default: all. */
  contents?: (shown: string) => boolean;
  /** What the engine leaves out by itself or as told (engine/absence.ts): an absent entry none of it explains is a difference. */
  absence: AbsenceRules;
  /** Frozen paths to leave out of the comparison entirely (e.g. the restore folder itself). */
  skip?: (frozen: Buffer) => boolean;
  /** Polled between entries: stop when it returns a reason. */
  aborted?: () => string | null;
}

/** The comparison's counts, as VerifyResult carries them. */
export type CompareResult = ReturnType<typeof zeroCounts> & {
  /** Set when the comparison stopped early (the counts are then partial). */
  abortedBy: string | null;
};

const BUF = 1 << 20;
const SLASH = Buffer.from('/');
/** Paths are bytes: a name need not be valid UTF-8. */
const join = (dir: Buffer, name: Buffer) => (dir[dir.length - 1] === 0x2f ? Buffer.concat([dir, name]) : Buffer.concat([dir, SLASH, name]));

/** A path as bytes, for readable text: bytes that are not UTF-8, control characters and backslashes as \\xNN (a newline cannot split a report line). */
export function showPath(p: Buffer | string): string {
  const b = typeof p === 'string' ? Buffer.from(p) : p;
  const hex = (c: number) => `\\x${c.toString(16).padStart(2, '0')}`;
  const text = b.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(b)) return text.replace(/[\x00-\x1f\x7f\\]/g, (c) => hex(c.charCodeAt(0)));
  // Not UTF-8: ASCII as is, every other byte escaped.
  let out = '';
  for (const c of b) out += c < 0x20 || c >= 0x7f || c === 0x5c ? hex(c) : String.fromCharCode(c);
  return out;
}

/** The skip option for these frozen paths (and everything below them). */
export function skipper(paths: string[]): (p: Buffer) => boolean {
  const dirs = paths.map((d) => Buffer.from(d));
  return (p) => dirs.some((d) => withinBytes(p, d));
}

/** Whether `p` is `dir` or below it, on bytes. */
export function withinBytes(p: Buffer, dir: Buffer): boolean {
  return p.equals(dir) || (p.length > dir.length && p.subarray(0, dir.length).equals(dir) && (p[dir.length] === 0x2f || dir[dir.length - 1] === 0x2f));
}
const oct = (m: bigint) => (Number(m) & 0o7777).toString(8).padStart(4, '0');

function typeOf(st: BigIntStats): EntryKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'char device';
  if (st.isBlockDevice()) return 'block device';
  return 'unknown';
}

/** SHA-256 of a regular file, read in bounded chunks; never follows a symlink. */
export async function hashFile(path: Buffer | string): Promise<{ hash: string; bytes: number }> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(BUF);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, BUF, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    return { hash: h.digest('hex'), bytes };
  } finally {
    await fh.close();
  }
}

class Walk {
  readonly r: CompareResult = { ...zeroCounts(), abortedBy: null };
  /** dev:ino -> first path seen, for files with more than one link. */
  private readonly frozenLinks = new Map<string, Buffer>();
  private readonly restoredLinks = new Map<string, Buffer>();

  constructor(private readonly o: CompareOptions) {}

  diff(path: Buffer | string, what: string): void {
    this.r.differences++;
    if (this.r.firstDifferences.length < MAX_DIFFERENCES) this.r.firstDifferences.push({ path: showPath(path), what });
  }

  /** An entry of the frozen tree that the backup does not hold: not stored by the engine, excluded, not judged, or lost. */
  private async absent(frozen: Buffer, shown: Buffer): Promise<void> {
    const st = await lstat(frozen, { bigint: true });
    const parent = frozen.subarray(0, frozen.lastIndexOf(0x2f));
    const j = judgeAbsent(this.o.absence, { path: shown, kind: typeOf(st), size: st.size, sibling: (name, n) => readSibling(join(parent, Buffer.from(name)), n) });
    const path = showPath(shown);
    const r = this.r;
    if (j.verdict === 'lost') this.diff(shown, 'missing from the backup');
    else if (j.verdict === 'excluded') {
      r.excluded++;
      if (r.excludedPaths.length < MAX_EXCLUDED) r.excludedPaths.push(path);
    } else if (j.verdict === 'not-stored') {
      r.notStored++;
      if (r.notStoredPaths.length < MAX_EXCLUDED) r.notStoredPaths.push({ path, why: j.why });
    } else {
      r.unjudged++;
      if (r.unjudgedPaths.length < MAX_EXCLUDED) r.unjudgedPaths.push({ path, why: j.why });
    }
  }

  async dir(frozen: Buffer, restored: Buffer, shown: Buffer): Promise<void> {
    const [f, r] = await Promise.all([readdir(frozen, { encoding: 'buffer' }), readdir(restored, { encoding: 'buffer' })]);
    f.sort(Buffer.compare);
    r.sort(Buffer.compare);
    let i = 0;
    let j = 0;
    while (i < f.length || j < r.length) {
      if ((this.r.abortedBy = this.o.aborted?.() ?? null)) return;
      const a = f[i];
      const b = r[j];
      const order = a === undefined ? 1 : b === undefined ? -1 : Buffer.compare(a, b);
      if (order < 0) {
        const p = join(frozen, a!);
        if (!this.o.skip?.(p)) await this.absent(p, join(shown, a!));
        i++;
      } else if (order > 0) {
        this.diff(join(shown, b!), 'in the backup but not in the source');
        j++;
      } else {
        const p = join(frozen, a!);
        if (!this.o.skip?.(p)) await this.entry(p, join(restored, b!), join(shown, a!));
        i++;
        j++;
      }
    }
  }

  async entry(frozen: Buffer, restored: Buffer, shown: Buffer): Promise<void> {
    const [fs, rs] = await Promise.all([lstat(frozen, { bigint: true }), lstat(restored, { bigint: true })]);
    this.r.entries++;
    const ft = typeOf(fs);
    const rt = typeOf(rs);
    if (ft !== rt) {
      this.diff(shown, `type: ${ft} in the source, ${rt} in the backup`);
      return;
    }
    const what: string[] = [];
    if ((fs.mode & 0o7777n) !== (rs.mode & 0o7777n)) what.push(`mode ${oct(fs.mode)} -> ${oct(rs.mode)}`);
    if (fs.uid !== rs.uid || fs.gid !== rs.gid) what.push(`owner ${fs.uid}:${fs.gid} -> ${rs.uid}:${rs.gid}`);
    if ((ft === 'file' || ft === 'directory') && fs.mtimeNs !== rs.mtimeNs) what.push(`mtime ${nsTime(fs.mtimeNs)} -> ${nsTime(rs.mtimeNs)}`);
    if ((ft === 'char device' || ft === 'block device') && fs.rdev !== rs.rdev) what.push(`device ${fs.rdev} -> ${rs.rdev}`);
    if (ft === 'symlink') {
      const [a, b] = await Promise.all([readlink(frozen, { encoding: 'buffer' }), readlink(restored, { encoding: 'buffer' })]);
      if (!a.equals(b)) what.push(`symlink target ${JSON.stringify(showPath(a))} -> ${JSON.stringify(showPath(b))}`);
    }
    if (ft === 'file') {
      this.r.files++;
      if (fs.size !== rs.size) what.push(`size ${fs.size} -> ${rs.size}`);
      const link = this.links(fs, rs, shown);
      if (link) what.push(link);
      if (fs.size === rs.size && (this.o.contents?.(showPath(shown)) ?? true)) {
        try {
          const [a, b] = await Promise.all([hashFile(frozen), hashFile(restored)]);
          this.r.filesCompared++;
          this.r.bytesCompared += a.bytes;
          if (a.hash !== b.hash) what.push('content');
        } catch (e) {
          what.push(`content could not be read: ${(e as Error).message}`);
        }
      }
    }
    if (what.length) this.diff(shown, what.join(', '));
    if (ft === 'directory') await this.dir(frozen, restored, shown);
  }

  /** Hard links: the first path sharing this file's inode must be the same on both sides. */
  private links(fs: BigIntStats, rs: BigIntStats, shown: Buffer): string | null {
    const first = (m: Map<string, Buffer>, st: BigIntStats): Buffer => {
      if (st.nlink < 2n) return shown;
      const key = `${st.dev}:${st.ino}`;
      const seen = m.get(key);
      if (seen !== undefined) return seen;
      m.set(key, shown);
      return shown;
    };
    const a = first(this.frozenLinks, fs);
    const b = first(this.restoredLinks, rs);
    if (a.equals(b)) return null;
    return `hard link: ${a === shown ? 'not linked' : `linked to ${showPath(a)}`} in the source, ${b === shown ? 'not linked' : `linked to ${showPath(b)}`} in the backup`;
  }
}

function nsTime(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(s) * 1000).toISOString().replace(/\.000Z$/, '')}.${frac}Z`;
}

/**
 * Compare each pair: its root entry itself (type, metadata) and everything below.
 * Throws only when a root cannot be read at all.
 */
export async function compareTrees(pairs: TreePair[], o: CompareOptions): Promise<CompareResult> {
  const w = new Walk(o);
  for (const p of pairs) {
    let restoredExists = true;
    try {
      await lstat(p.restored);
    } catch {
      restoredExists = false;
    }
    if (!restoredExists) {
      w.diff(p.shown, 'missing from the backup (nothing was restored)');
      continue;
    }
    const [frozen, restored, shown] = [Buffer.from(p.frozen), Buffer.from(p.restored), Buffer.from(p.shown)];
    if (p.rootMeta === false) await w.dir(frozen, restored, shown);
    else await w.entry(frozen, restored, shown);
    if (w.r.abortedBy) break;
  }
  return w.r;
}

/** The first n bytes of a regular file, never following a symlink; null: absent; 'other': not a regular file or unreadable. */
function readSibling(path: Buffer, n: number): Buffer | null | 'other' {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? null : 'other';
  }
  if (!st.isFile()) return 'other';
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const buf = Buffer.alloc(n);
      let got = 0;
      while (got < n) {
        const k = readSync(fd, buf, got, n - got, got);
        if (k === 0) break;
        got += k;
      }
      return buf.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  } catch {
    return 'other';
  }
}
