// A run's identity: its snapshot name is unique to the run and starts with
// our prefix; the run id and owner also go into user properties.
import { randomBytes } from 'node:crypto';

export const PREFIX = 'kopiatomic';
export const PROP_RUN = 'kopiatomic:run';
export const PROP_OWNER = 'kopiatomic:owner';
export const HOLD_TAG = 'kopiatomic';
/** Selects datasets for jobs with select = "property": on/true, off/false, or job names. */
export const PROP_BACKUP = 'kopiatomic:backup';

export function newRunId(now: Date = new Date(), pid: number = process.pid): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${pid}-${randomBytes(3).toString('hex')}`;
}

export function snapshotNameFor(runId: string): string {
  return `${PREFIX}-${runId}`;
}

/** "bootid:pid": lets recovery tell a live run's snapshots from a dead one's. */
export function ownerOf(bootId: string, pid: number = process.pid): string {
  return `${bootId}:${pid}`;
}
