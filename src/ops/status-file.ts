// The status file: the last RunRecord of every job, read by `kopiatomic status`
// (and by people). Mode 0644 in a directory anyone may search (not list):
// it holds no secret (never a ping URL, every string masked), so a monitoring
// agent that is not root can run `kopiatomic status`, while the journals
// beside it (mode 0600) stay root's.
import { chmodSync, lstatSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { maskDeep } from '../core/secrets.js';
import { readRootFile, withFileLock, writeRootFile, type RootFileOptions } from '../safety/root-file.js';
import { succeeded, type RunRecord } from './run-record.js';

export interface StatusFile {
  version: 1;
  jobs: Record<string, RunRecord>;
  /** The last `kopiatomic check` of each job's repositories: job -> repository -> record. */
  checks?: Record<string, Record<string, CheckRecord>>;
}

/** One repository check (`kopiatomic check`), kept beside the job's last run. */
export interface CheckRecord {
  job: string;
  repository: string;
  host: string;
  /** ISO 8601 times. */
  start: string;
  end: string;
  ok: boolean;
  /** The engine's exit code (null: ended by a signal). */
  exitCode: number | null;
  /** The share of the data read back; absent: the structure only. */
  readPercent?: number;
  error?: string;
}

export function defaultStatusFile(platform: string = process.platform): string {
  return platform === 'freebsd' ? '/var/db/kopiatomic/status.json' : '/var/lib/kopiatomic/status.json';
}

/** The file's content; an absent file is an empty one. A corrupt file throws. */
export function readStatus(file: string): StatusFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, jobs: {} };
    throw e;
  }
  return parseStatus(file, text);
}

function parseStatus(file: string, text: string | null): StatusFile {
  if (text === null) return { version: 1, jobs: {} };
  const data = JSON.parse(text) as StatusFile;
  if (!data || typeof data !== 'object' || typeof data.jobs !== 'object') throw new Error(`${file} is not a kopiatomic status file`);
  return data;
}

// Its directory may be one a monitoring account owns: written as root-file.ts
// writes there, following no name in it.
const STATUS: RootFileOptions = { what: 'status file', sharedParent: true };

/**
 * Records this run as its job's last; carries the last success time over from
 * the previous record when this run did not succeed. Returns the record as stored.
 */
export async function recordRun(file: string, r: RunRecord): Promise<RunRecord> {
  return withFileLock(file, STATUS, () => {
    let data: StatusFile;
    try {
      data = parseStatus(file, readRootFile(file));
    } catch {
      // A damaged file must not stop the record of this run: start again.
      data = { version: 1, jobs: {} };
    }
    const prev = data.jobs[r.job];
    // An error message may quote a command or a repository: masked like everything we print.
    const stored: RunRecord = maskDeep({ ...r, lastSuccess: succeeded(r.status) ? r.end : r.lastSuccess ?? prev?.lastSuccess });
    data.jobs[r.job] = stored;
    writeRootFile(file, JSON.stringify(data, null, 2) + '\n', 0o644, STATUS);
    letReadersIn(dirname(file));
    return stored;
  });
}

/** Records a repository check as that job's and repository's last; the rest of the file is kept. */
export async function recordCheck(file: string, c: CheckRecord): Promise<void> {
  await withFileLock(file, STATUS, () => {
    let data: StatusFile;
    try {
      data = parseStatus(file, readRootFile(file));
    } catch {
      data = { version: 1, jobs: {} };
    }
    ((data.checks ??= {})[c.job] ??= {})[c.repository] = maskDeep(c);
    writeRootFile(file, JSON.stringify(data, null, 2) + '\n', 0o644, STATUS);
    letReadersIn(dirname(file));
  });
}

/**
 * The status file's directory gets search permission (--x) for group and
 * others, never read or write: they can open status.json by its name, not
 * list or read the journals there. Only a real directory that is ours.
 */
export function letReadersIn(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? 0)) return false;
    if ((st.mode & 0o011) !== 0o011) chmodSync(dir, (st.mode & 0o7777) | 0o011);
    return true;
  } catch {
    // The record is written; `status` says what to change if it cannot read it.
    return false;
  }
}
