// One run per mount root. The lock is a file created with O_EXCL under the
// runtime state folder (/run, cleared at boot), holding the owner's pid and
// boot id, so a lock left by a dead process or an earlier boot is recognised.
// Mount roots that nest (one inside the other) exclude each other too: once
// our lock file exists, every other live lock's mount root is compared with
// ours, and on a conflict ours is removed again and we wait or refuse. Each
// of two runs starting at once creates its file before it looks at the
// other's, so at least the later one sees the earlier: both never pass.
import { stateKey } from '../core/paths.js';
import { closeSync, fsyncSync, linkSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { InterruptedError, LockedError } from '../core/errors.js';
import type { Reporter } from '../core/report.js';
import { rootsNestApart } from '../core/nested-roots.js';
import { ensureRootDir } from './root-path.js';

export interface LockOwner {
  pid: number;
  boot: string;
  mountRoot: string;
  started: string;
  /** The process's start time in clock ticks since boot (Linux), so a reused pid is not mistaken for the owner. */
  startTicks?: string;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** State and start time of a process from /proc (Linux); null where there is no /proc. */
function procStat(pid: number): { state: string; startTicks: string } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0] ?? '', startTicks: f[19] ?? '' };
  } catch {
    return null;
  }
}

export function ownStartTicks(): string | undefined {
  return procStat(process.pid)?.startTicks || undefined;
}

/** Same boot, pid alive, not a zombie, and (where known) the same process, not a reuse of its pid. */
export function ownerAlive(o: { pid: number; boot: string; startTicks?: string }, boot: string): boolean {
  if (o.boot !== boot || !Number.isInteger(o.pid) || o.pid <= 0 || !pidAlive(o.pid)) return false;
  const st = procStat(o.pid);
  if (st && st.state === 'Z') return false;
  if (st && o.startTicks && st.startTicks && st.startTicks !== o.startTicks) return false;
  return true;
}

function readOwner(path: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    return null; // vanished, or half written by a process killed mid-write
  }
}

export class Lock {
  private constructor(
    readonly path: string,
    readonly previous: LockOwner | null,
    private readonly me: LockOwner,
    /** Another run held it first: we waited for it (--wait). */
    readonly waited: boolean,
  ) {}

  /** The owner of a lock that was taken over, if any: recovery must look for its leftovers. */
  get tookOver(): LockOwner | null {
    return this.previous;
  }

  /**
   * `stop`: while waiting (--wait), a signal ends the wait at once with an
   * InterruptedError (exit 128 + N), before anything was changed.
   */
  static async acquire(
    stateDir: string,
    mountRoot: string,
    boot: string,
    waitSeconds: number,
    reporter: Reporter,
    stop?: { readonly signal: NodeJS.Signals | null },
  ): Promise<Lock> {
    // The lock, the batch mount tables and the namespace jobs live here: no one else may reach it.
    ensureRootDir(stateDir, 'state directory');
    const path = `${stateDir}/${stateKey(mountRoot)}.lock`;
    const me: LockOwner = { pid: process.pid, boot, mountRoot, started: new Date().toISOString(), startTicks: ownStartTicks() };
    const deadline = Date.now() + waitSeconds * 1000;
    let announced = false;
    let previous: LockOwner | null = null;
    for (;;) {
      let nested: { mountRoot: string; owner: LockOwner | null } | null = null;
      try {
        const fd = openSync(path, 'wx', 0o600);
        writeSync(fd, JSON.stringify(me) + '\n');
        fsyncSync(fd);
        closeSync(fd);
        nested = liveNestedLock(stateDir, path, mountRoot, boot);
        if (!nested) return new Lock(path, previous, me, announced);
        rmSync(path, { force: true }); // ours, made a moment ago: another run's tree is inside ours or ours inside it
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = nested ? nested.owner : readOwner(path);
      if (nested) {
        if (Date.now() >= deadline) {
          const who = nested.owner ? `pid ${nested.owner.pid}, started ${nested.owner.started}` : 'unknown owner';
          throw new LockedError(`another run is using ${nested.mountRoot} (${who}), and mount roots that nest exclude each other: ${mountRoot} ${rootsInside(mountRoot, nested.mountRoot)}; use --wait to wait for it, or give the jobs mount roots side by side`);
        }
      }
      const age = Date.now() - safeMtime(path);
      if (!nested && ((owner && !ownerAlive(owner, boot)) || (!owner && age > 10_000))) {
        // Take over with a rename to a unique name: of two runs that both saw
        // the stale lock, only one rename succeeds on the file they saw.
        const aside = `${path}.stale.${process.pid}`;
        try {
          renameSync(path, aside);
        } catch {
          continue;
        }
        const moved = readOwner(aside);
        // What we moved may not be what we judged: a run may have made a new
        // lock meanwhile (and may not have written it yet).
        const live = moved ? ownerAlive(moved, boot) : Date.now() - safeMtime(aside) <= 10_000;
        if (live) {
          // We raced and moved a live lock: put it back (never over a lock
          // someone made meanwhile) and keep waiting.
          try {
            linkSync(aside, path);
          } catch {
            /* someone else holds `path` now; release() never removes a lock that is not its own */
          }
          rmSync(aside, { force: true });
        } else {
          rmSync(aside, { force: true });
          previous = moved ?? owner ?? { pid: 0, boot: '', mountRoot, started: 'an unknown time' };
          reporter.warn(
            previous.pid
              ? `took over a stale lock of pid ${previous.pid} (${previous.boot === boot ? 'process gone' : 'an earlier boot'}) from ${previous.started}: cleaning up after it`
              : 'took over an unreadable stale lock: cleaning up after it',
          );
          continue;
        }
      }
      if (Date.now() >= deadline) {
        const who = owner ? `pid ${owner.pid}, started ${owner.started}` : 'unknown owner';
        throw new LockedError(`another run is using ${mountRoot} (${who}); lock ${path}; use --wait to wait for it`);
      }
      if (!announced) {
        reporter.info(`waiting for the run that holds ${nested ? `${nested.mountRoot}, which nests with ${mountRoot}` : path}`);
        announced = true;
      }
      if (stop?.signal) throw new InterruptedError(stop.signal, `${stop.signal} while waiting for the lock on ${mountRoot}: nothing was changed`);
      await new Promise((r) => setTimeout(r, 250));
      if (stop?.signal) throw new InterruptedError(stop.signal, `${stop.signal} while waiting for the lock on ${mountRoot}: nothing was changed`);
    }
  }

  /** Removes the lock, but only while it is still ours: never another run's. */
  release(): void {
    const o = readOwner(this.path);
    if (o && (o.pid !== this.me.pid || o.boot !== this.me.boot || o.started !== this.me.started)) return;
    rmSync(this.path, { force: true });
  }
}

function rootsInside(mine: string, other: string): string {
  return mine.length < other.length ? `contains ${other}` : mine.length > other.length ? `is inside ${other}` : `is the same directory as ${other}`;
}

/**
 * A live run's lock (not `mine`) whose mount root nests with `mountRoot`.
 * The root comes from the lock's name (written before its content); a lock
 * still being written counts as live for 10 s.
 */
export function liveNestedLock(stateDir: string, mine: string, mountRoot: string, boot: string): { mountRoot: string; owner: LockOwner | null } | null {
  for (const name of readdirSync(stateDir)) {
    if (!name.endsWith('.lock')) continue;
    const path = `${stateDir}/${name}`;
    if (path === mine) continue;
    let root: string;
    try {
      root = decodeURIComponent(name.slice(0, -'.lock'.length));
    } catch {
      continue;
    }
    if (!root.startsWith('/') || !rootsNestApart(root, mountRoot)) continue;
    const owner = readOwner(path);
    if (owner ? ownerAlive(owner, boot) : Date.now() - safeMtime(path) <= 10_000) return { mountRoot: root, owner };
  }
  return null;
}

function safeMtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Date.now();
  }
}
