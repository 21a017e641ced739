// Where root may create, write, mount onto or remove something: the one
// decision, used for the mount root, the state and journal directories, the
// lock, status and metrics files, the verification directory and every
// temporary file (root-file.ts writes files through it).
//
// A path is safe when no other account can change what it names between our
// check and our use: every directory on the way is owned by root (or by us)
// and not writable by group or others. A sticky directory (/tmp) is crossed
// only into entries root owns (others cannot rename or remove those). A
// symbolic link on the way is followed only when root owns it (it then sits
// in a safe directory, so nobody else can change it, e.g. /var/run -> /run),
// and its target is walked from the start: the target's ancestors must be
// safe too. Group write bits are refused whatever the group: on Linux a
// POSIX ACL that lets another account write shows there as the mask.
//
// Checked once per directory that is used (a handful of lstat calls), not
// per mount target: a target below a proven mount root needs only its own
// lstat (execute/mount-phase.ts).
import { lstatSync, mkdirSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { SetupError } from '../core/errors.js';
import { isWithin } from '../core/paths.js';

/** The machine's own state places (Linux and FreeBSD): tests never touch them. */
export const REAL_STATE_DIRS = ['/var/lib/kopiatomic', '/run/kopiatomic', '/var/run/kopiatomic', '/var/db/kopiatomic', '/etc/kopiatomic', '/usr/local/etc/kopiatomic'];

export interface RootPathOptions {
  /** What the path is, for messages: "mount root", "state directory", "metrics file". */
  what: string;
  /** The path itself must not be a symbolic link (the mount root). */
  noFinalLink?: boolean;
  /**
   * The path's own directory may be owned or writable by another account
   * (node_exporter's textfile directory): allowed only for files written by
   * writeRootFile, which follows no name there.
   */
  sharedParent?: boolean;
  /** The path is a directory that may be sticky and writable by all (/tmp): we only create new entries in it, exclusively. */
  stickyDir?: boolean;
  /** The path, when it exists, must be a directory (the mount root). */
  directory?: boolean;
}

export interface RootPathCheck {
  /** Why root must not use the path (with what to change); null when it may. */
  problem: string | null;
  /** The path with every symbolic link resolved. */
  real: string;
  /** The first component that does not exist yet (a real path), or null. */
  missing: string | null;
  /** The path's own directory can be changed by another account (only with sharedParent). */
  parentShared: boolean;
}

type DirState = 'safe' | 'sticky' | 'shared';

const myUid = () => process.getuid?.() ?? 0;
const trusted = (uid: number) => uid === 0 || uid === myUid();
const octal = (m: number) => (m & 0o7777).toString(8).padStart(4, '0');

function dirState(st: Stats): DirState {
  if (!trusted(st.uid)) return 'shared';
  if ((st.mode & 0o022) === 0) return 'safe';
  return st.mode & 0o1000 && st.mode & 0o002 ? 'sticky' : 'shared';
}

function why(dir: string, st: Stats): string {
  if (!trusted(st.uid)) return `${dir} is owned by uid ${st.uid}, so that account can replace what is in it`;
  return `${dir} is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${octal(st.mode)}), so another account can replace what is in it`;
}

const FIX = 'every directory on the way must be owned by root and not writable by group or others (chown root, chmod go-w), or choose another place';

/**
 * Inside a test file run by `node --test` (not a kopiatomic program a test
 * started: the e2e tests run those on the guest's real places on purpose),
 * the machine's real state is refused, and the test file fails even where the
 * caller only warns (the status file), so a test that forgot its own
 * directory is caught instead of writing there.
 */
function testTouchesRealState(path: string): boolean {
  if (!process.env['NODE_TEST_CONTEXT'] || !/\.test\.[cm]?js$/.test(process.argv[1] ?? '')) return false;
  if (!REAL_STATE_DIRS.some((d) => isWithin(path, d))) return false;
  process.stderr.write(`kopiatomic: a test reached the machine's real state: ${path}\n`);
  process.exitCode = 1;
  return true;
}

/**
 * May root create, write, mount onto or remove `path`? Walks it from `/`,
 * one lstat per component; see the head of this file for the rule.
 */
export function checkRootPath(path: string, o: RootPathOptions): RootPathCheck {
  const out = (problem: string | null, real: string, missing: string | null = null, parentShared = false): RootPathCheck => ({
    problem: problem && `${o.what} ${path}: ${problem}`,
    real,
    missing,
    parentShared,
  });
  if (!path.startsWith('/')) return out('not an absolute path', path);
  if (testTouchesRealState(path)) return out("a test must not touch the machine's real state: give it a directory of its own", path);
  let pending = path.split('/').filter((s) => s && s !== '.');
  let dir = '/';
  let st = lstatSync('/');
  let state = dirState(st);
  let hops = 0;
  if (state !== 'safe') return out(`${why('/', st)}; ${FIX}`, '/');
  while (pending.length) {
    const name = pending.shift()!;
    if (name === '..') {
      dir = posix.dirname(dir); // reached from there, so proven; its own state is read again
      st = lstatSync(dir);
      state = dirState(st);
      continue;
    }
    const next = dir === '/' ? `/${name}` : `${dir}/${name}`;
    const last = pending.length === 0;
    if (state === 'shared') {
      if (last && o.sharedParent) return out(null, next, null, true);
      return out(`${why(dir, st)}; ${FIX}`, next);
    }
    let cur: Stats | undefined;
    try {
      cur = lstatSync(next, { throwIfNoEntry: false });
    } catch (e) {
      return out(`${next} cannot be examined (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, next);
    }
    if (!cur) return out(null, posix.join(next, ...pending), next, state === 'sticky');
    if (cur.isSymbolicLink()) {
      if (!trusted(cur.uid)) return out(`${next} is a symbolic link owned by uid ${cur.uid}; ${FIX}`, next);
      if (last && o.noFinalLink) return out('it is a symbolic link; give the real directory', next);
      if (++hops > 40) return out('too many symbolic links', next);
      const target = readlinkSync(next);
      pending = [...target.split('/').filter((s) => s && s !== '.'), ...pending];
      if (target.startsWith('/')) {
        dir = '/';
        st = lstatSync('/');
        state = 'safe';
      }
      continue;
    }
    if (cur.isDirectory()) {
      const s = dirState(cur);
      if (last && s !== 'safe' && !(o.stickyDir && s === 'sticky')) return out(`${why(next, cur)}; ${FIX}`, next);
      if (state === 'sticky' && !trusted(cur.uid)) return out(`${next} is owned by uid ${cur.uid} in the sticky directory ${dir}; ${FIX}`, next);
      dir = next;
      st = cur;
      state = s;
      continue;
    }
    if (!last || o.directory) return out(`${next} is not a directory`, next);
    // The path itself, an existing file: replaced by a rename, never written through.
    if (!trusted(cur.uid) && !(o.sharedParent && state === 'sticky')) return out(`it is owned by uid ${cur.uid}, not by root; remove it or choose another place`, next);
    return out(null, next, null, state === 'sticky');
  }
  return out(null, dir);
}

/** checkRootPath, throwing its problem as a SetupError; returns the real path. */
export function requireRootPath(path: string, o: RootPathOptions): RootPathCheck {
  const c = checkRootPath(path, o);
  if (c.problem) throw new SetupError(c.problem);
  return c;
}

/**
 * Makes sure directory `path` exists and is safe: each missing component is
 * made with its own mkdir (which never follows or reuses what is there) and
 * checked again, so nothing planted between the check and the mkdir is used.
 * Returns the real path.
 */
export function ensureRootDir(path: string, what: string, mode = 0o700): string {
  for (let i = 0; ; i++) {
    const c = requireRootPath(path, { what });
    if (!c.missing) return c.real;
    if (i > 64) throw new SetupError(`${what} ${path}: it keeps changing while it is made`);
    try {
      mkdirSync(c.missing, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // made by someone else meanwhile: the next check judges it
    }
  }
}
