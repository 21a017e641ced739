// A persistent record of our own runs, outside /run (issue 10 item 3): a run
// writes (and fsyncs) its record BEFORE its `zfs snapshot`, and removes it
// once its snapshots are destroyed. After a reboot, recovery then needs no
// scan of every snapshot on every pool: it looks only at the runs still
// recorded (normally none). A run that died before writing its record made no
// snapshot, so nothing is missed. `kopiatomic cleanup` still scans everything
// (snapshots from before this record existed, or a record lost with /var).
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';

export interface RunRecord {
  runId: string;
  snapshot: string;
  owner: string;
  /** `zfs destroy -r ROOT@SNAP` per pool removes exactly this run's snapshots. */
  pools: { pool: string; destroyRoot: string }[];
}

/** Where records live: persistent across reboots, root only. */
export function recordDir(platform: 'linux' | 'freebsd'): string {
  return platform === 'freebsd' ? '/var/db/kopiatomic/runs' : '/var/lib/kopiatomic/runs';
}

const fileOf = (dir: string, runId: string) => `${dir}/${encodeURIComponent(runId)}.json`;

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Durable before it returns: the file and its folder entry are on disk. Throws if it cannot be written (then do not snapshot). */
export function writeRunRecord(dir: string, r: RunRecord): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fd = openSync(fileOf(dir, r.runId), 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(r) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncPath(dir);
}

/** The run's snapshots are gone: forget it. */
export function removeRunRecord(dir: string, runId: string): void {
  rmSync(fileOf(dir, runId), { force: true });
}

/** Runs still recorded (died, or could not destroy); unreadable files are skipped and named. */
export function readRunRecords(dir: string): { records: RunRecord[]; unreadable: string[] } {
  const out: { records: RunRecord[]; unreadable: string[] } = { records: [], unreadable: [] };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out; // no folder: no run was ever recorded
  }
  for (const n of names.filter((x) => x.endsWith('.json'))) {
    try {
      const r = JSON.parse(readFileSync(`${dir}/${n}`, 'utf8')) as RunRecord;
      if (typeof r.runId === 'string' && typeof r.snapshot === 'string' && Array.isArray(r.pools)) out.records.push(r);
      else out.unreadable.push(n);
    } catch {
      out.unreadable.push(n); // cut short by a crash while being written: its run made no snapshot yet
    }
  }
  return out;
}
