// One run per mount root. The lock is a file created with O_EXCL under the
// runtime state folder (/run, cleared at boot), holding the owner's pid and
// boot id, so a lock left by a dead process or an earlier boot is recognised.
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync, fsyncSync } from 'node:fs';
import { LockedError } from '../core/errors.js';
import type { Reporter } from '../core/report.js';

export interface LockOwner {
  pid: number;
  boot: string;
  mountRoot: string;
  started: string;
}

export function stateKey(mountRoot: string): string {
  return encodeURIComponent(mountRoot);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function ownerAlive(o: { pid: number; boot: string }, boot: string): boolean {
  return o.boot === boot && pidAlive(o.pid);
}

function readOwner(path: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    return null; // vanished, or half written by a process killed mid-write
  }
}

export class Lock {
  private constructor(readonly path: string, readonly previous: LockOwner | null) {}

  /** The owner of a lock that was taken over, if any: recovery must look for its leftovers. */
  get tookOver(): LockOwner | null {
    return this.previous;
  }

  static async acquire(stateDir: string, mountRoot: string, boot: string, waitSeconds: number, reporter: Reporter): Promise<Lock> {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const path = `${stateDir}/${stateKey(mountRoot)}.lock`;
    const me: LockOwner = { pid: process.pid, boot, mountRoot, started: new Date().toISOString() };
    const deadline = Date.now() + waitSeconds * 1000;
    let announced = false;
    let previous: LockOwner | null = null;
    for (;;) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        writeSync(fd, JSON.stringify(me) + '\n');
        fsyncSync(fd);
        closeSync(fd);
        return new Lock(path, previous);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = readOwner(path);
      const age = Date.now() - safeMtime(path);
      if ((owner && !ownerAlive(owner, boot)) || (!owner && age > 10_000)) {
        // Take over with a rename to a unique name: of two runs that both saw
        // the stale lock, only one rename succeeds on the file they saw.
        const aside = `${path}.stale.${process.pid}`;
        try {
          renameSync(path, aside);
        } catch {
          continue;
        }
        const moved = readOwner(aside);
        if (moved && ownerAlive(moved, boot)) {
          // We raced and moved a live lock: put it back and keep waiting.
          try { renameSync(aside, path); } catch { /* it is theirs to recreate */ }
        } else {
          rmSync(aside, { force: true });
          previous = owner;
          reporter.warn(
            owner
              ? `took over a stale lock of pid ${owner.pid} (${owner.boot === boot ? 'process gone' : 'an earlier boot'}) from ${owner.started}`
              : 'took over an unreadable stale lock',
          );
          continue;
        }
      }
      if (Date.now() >= deadline) {
        const who = owner ? `pid ${owner.pid}, started ${owner.started}` : 'unknown owner';
        throw new LockedError(`another run is using ${mountRoot} (${who}); lock ${path}; use --wait to wait for it`);
      }
      if (!announced) {
        reporter.info(`waiting for the run that holds ${path}`);
        announced = true;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  release(): void {
    rmSync(this.path, { force: true });
  }
}

function safeMtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Date.now();
  }
}
