// Files root writes whole and others read while or after we write them (the
// status and metrics files, unit files, recovery's known leftovers and record
// marker): written to a temp file with a random name in the same directory,
// created with O_CREAT|O_EXCL|O_NOFOLLOW (it can only be a new file of ours),
// fsynced, renamed over the old one, and the directory fsynced: a reader (or
// the run after a crash) sees the old file or the new one, never half of one.
// The directory is judged first (root-path.ts).
//
// The metrics and status files may live in a directory another account owns
// (node_exporter's textfile directory is often its own account's). Refusing
// would break that common layout, and that account can already replace the
// file; so such a directory is accepted when every directory above it is
// safe, and root then follows no name in it: the temp file is new and ours
// (O_EXCL|O_NOFOLLOW), the rename replaces whatever entry is there (a planted
// symlink is replaced, never followed), and the old file is read only when it
// is a plain file root owns. At worst that account changes the metrics it can
// read anyway; it can never make root write anywhere else.
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { posix } from 'node:path';
import { randomHex } from '../core/random.js';
import { ensureRootDir, requireRootPath } from './root-path.js';

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_WRONLY, O_RDONLY, O_NONBLOCK } = constants;

export interface RootFileOptions {
  /** What the file is, for messages. */
  what: string;
  /** Its directory may belong to another account (see above). */
  sharedParent?: boolean;
}

/** Judges the file's place and makes its missing directories (mode 0755); returns the file's real path. */
export function prepareRootFile(path: string, o: RootFileOptions): string {
  const c = requireRootPath(path, { what: o.what, sharedParent: o.sharedParent });
  if (c.missing && c.missing !== c.real) ensureRootDir(posix.dirname(c.real), `${o.what}'s directory`, 0o755);
  return c.real;
}

/** A new file of ours: it cannot be an existing file, a symlink or a FIFO someone planted. */
function createNew(path: string, mode: number): number {
  const fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  fchmodSync(fd, mode); // the umask must not change it
  return fd;
}

export function writeRootFile(path: string, content: string, mode: number, o: RootFileOptions): void {
  const real = prepareRootFile(path, o);
  const dir = posix.dirname(real);
  // node_exporter's textfile collector reads only *.prom: the temp name must not end so.
  const tmp = `${dir}/.${posix.basename(real)}.${randomHex(8)}.tmp`;
  const fd = createNew(tmp, mode);
  try {
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, real);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // gone already
    }
    throw e;
  }
  // The rename is durable once the directory is synced.
  try {
    const dfd = openSync(dir, O_RDONLY);
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // some filesystems refuse fsync on a directory; the data itself is synced
  }
}

/**
 * The text of a file we wrote earlier, or null when there is none: a name
 * that is a symlink, a FIFO, a file another account owns or a second hard
 * link (ours are renamed into place, one link each) is not ours and is never
 * read (no blocking open, nothing read through a link).
 */
export function readRootFile(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'EMLINK' || code === 'ENXIO') return null;
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.nlink !== 1 || (st.uid !== 0 && st.uid !== (process.getuid?.() ?? 0))) return null;
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs fn holding PATH.lock (created with O_EXCL|O_NOFOLLOW, so a planted
 * name is never opened); a lock older than staleMs (a dead writer) is taken over.
 */
export async function withFileLock<T>(path: string, o: RootFileOptions, fn: () => T, timeoutMs = 10_000, staleMs = 60_000): Promise<T> {
  const lock = `${prepareRootFile(path, o)}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      closeSync(createNew(lock, 0o600));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - lstatSync(lock).mtimeMs > staleMs) unlinkSync(lock);
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new Error(`${lock} is held by another writer`);
      await sleep(50);
    }
  }
  try {
    return fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // removed by someone else
    }
  }
}
