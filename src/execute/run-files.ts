// The files a running kopiatomic process keeps in the runtime state directory
// (/run/kopiatomic) for its helpers: the namespace helper's job, the list of
// datasets for the engine and hooks, the verification's comparison job, the
// namespace's staging directory. They all live in one directory per process,
// named after the process itself (pid and start time), so that what a
// SIGKILLed run left there is provably ours and provably of a dead process:
// the next run removes it (sweepDeadRunFiles), and nothing else.
import { lstatSync, mkdirSync, readdirSync, rmdirSync, rmSync, unlinkSync, type Stats } from 'node:fs';
import type { Reporter } from '../core/report.js';
import { ensureRootDir } from '../safety/root-path.js';
import { ownerAlive, ownStartTicks, pidAlive } from '../safety/lock.js';

const PREFIX = 'proc-';
const NAME = /^proc-(\d+)-(\d+)$/;
/** What the versions before this directory left beside the locks. */
const OLD_FILES = [/^ns-job-(\d+)\.json$/, /^\d{8}T\d{6}Z-(\d+)-[0-9a-f]{6}\.datasets$/];

/** This process's directory (not created). */
export function runFilesDir(stateDir: string): string {
  return `${stateDir}/${PREFIX}${process.pid}-${ownStartTicks() ?? '0'}`;
}

/**
 * Creates this process's directory (mode 0700) if missing and checks that it
 * is a real directory of ours that no one else can write to; returns it.
 * Throws when it is not (a planted symlink or a foreign directory).
 */
export function ensureRunFilesDir(stateDir: string): string {
  ensureRootDir(stateDir, 'state directory');
  const dir = runFilesDir(stateDir);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const why = notOurs(lstatSync(dir));
  if (why) throw new Error(`${dir} ${why}: refusing to keep the run's files there`);
  return dir;
}

/** Removes this process's directory once it is empty (a later run of the same process makes it again). */
export function dropRunFilesDir(stateDir: string): void {
  try {
    rmdirSync(runFilesDir(stateDir));
  } catch {
    // not empty (another job of this process still uses it) or already gone
  }
}

function notOurs(st: Stats): string | null {
  const uid = process.getuid?.() ?? 0;
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (!st.isDirectory()) return 'is not a directory';
  if (st.uid !== uid) return `is owned by uid ${st.uid}`;
  if ((st.mode & 0o077) !== 0) return `has mode ${(st.mode & 0o7777).toString(8)}`;
  return null;
}

/**
 * Removes what dead kopiatomic processes left in the state directory: each
 * process directory whose process is gone (same pid and start time; /run is
 * emptied at boot), if it is a real directory of ours, and the loose files
 * older versions left there, if they are regular files of ours and their pid
 * is gone. Removal never leaves the directory's own file system. Returns the
 * paths removed.
 */
export function sweepDeadRunFiles(stateDir: string, boot: string, reporter: Reporter): string[] {
  let names: string[];
  try {
    names = readdirSync(stateDir);
  } catch {
    return [];
  }
  const uid = process.getuid?.() ?? 0;
  const removed: string[] = [];
  for (const name of names) {
    const path = `${stateDir}/${name}`;
    const m = NAME.exec(name);
    try {
      if (m) {
        const pid = Number(m[1]);
        const ticks = m[2] === '0' ? undefined : m[2];
        if (path === runFilesDir(stateDir) || ownerAlive({ pid, boot, ...(ticks ? { startTicks: ticks } : {}) }, boot)) continue;
        const st = lstatSync(path);
        const why = notOurs(st);
        if (why) {
          reporter.warn(`left ${path} alone: it ${why}, so it is not provably ours`);
          continue;
        }
        removeTree(path, st.dev);
        removed.push(path);
        continue;
      }
      const old = OLD_FILES.map((re) => re.exec(name)).find(Boolean);
      if (!old || pidAlive(Number(old[1]))) continue;
      const st = lstatSync(path);
      if (!st.isFile() || st.uid !== uid || (st.mode & 0o077) !== 0) continue;
      unlinkSync(path);
      removed.push(path);
    } catch (e) {
      reporter.warn(`could not remove ${path}, left by a dead run: ${(e as Error).message}`);
    }
  }
  for (const p of removed) reporter.verbose(`removed ${p}, left by a dead run`);
  return removed;
}

/** rm -r that never follows a symlink and never enters another file system (a mount left on it stays, and so does its directory). */
function removeTree(path: string, dev: number): void {
  const st = lstatSync(path);
  if (st.isDirectory()) {
    if (st.dev !== dev) throw new Error(`${path} is on another file system (something is mounted there)`);
    for (const n of readdirSync(path)) removeTree(`${path}/${n}`, dev);
    rmdirSync(path);
  } else rmSync(path, { force: true });
}
