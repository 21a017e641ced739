// A run's identity: its snapshot name is unique to the run and starts with
// our prefix; the run id and owner also go into user properties.
import { randomHex } from '../core/random.js';

export const PREFIX = 'kopiatomic';
export const PROP_RUN = 'kopiatomic:run';
export const PROP_OWNER = 'kopiatomic:owner';
/** HMAC of the snapshot's pool, name, run and owner with this host's key (safety/proof.ts). */
export const PROP_PROOF = 'kopiatomic:proof';
export const HOLD_TAG = 'kopiatomic';
/** Selects datasets for jobs with select = "property": on/true, off/false, or job names. */
export const PROP_BACKUP = 'kopiatomic:backup';

export function newRunId(now: Date = new Date(), pid: number = process.pid): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${pid}-${randomHex(3)}`;
}

export function snapshotNameFor(runId: string): string {
  return `${PREFIX}-${runId}`;
}

/**
 * "hostid:bootid:pid": which host made the snapshot, and lets recovery tell a
 * live run's snapshots from a dead one's. The host id never holds ':' (it is
 * cleaned here) and the pid is digits, so the boot id is everything between
 * the first and the last ':' and may itself hold ':'.
 */
export function ownerOf(hostId: string, bootId: string, pid: number = process.pid): string {
  return `${cleanHostId(hostId)}:${bootId}:${pid}`;
}

export function cleanHostId(hostId: string): string {
  return hostId.trim().replace(/[:\s]/g, '_') || 'unknown';
}

export interface Owner {
  host: string;
  boot: string;
  pid: number;
}

/** The owner property's parts, or null when it is not in our format. */
export function parseOwner(value: string): Owner | null {
  const first = value.indexOf(':');
  const last = value.lastIndexOf(':');
  if (first <= 0 || last <= first + 1) return null;
  const pid = value.slice(last + 1);
  if (!/^[1-9]\d*$/.test(pid)) return null;
  return { host: value.slice(0, first), boot: value.slice(first + 1, last), pid: Number(pid) };
}
