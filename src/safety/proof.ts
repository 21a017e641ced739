// Proof that a snapshot found only by its properties (the scan of every
// pool: recovery while the journals are not a complete record, and
// `cleanup`) was made by kopiatomic on this host. Anyone to whom the admin
// delegated `zfs allow USER snapshot,userprop` can make a snapshot named like
// ours and set our run and owner properties; only root can read this host's
// key, so only we can make the proof property:
//
//   kopiatomic:proof = HMAC-SHA256(key, "POOL@SNAPSHOT\0RUN\0OWNER")
//
// `zfs snapshot -o` gives every snapshot of its one command (one pool) the
// same value, so the proof names the pool and not the dataset. Values can be
// read by everyone, so a proof can be copied: it is accepted only on a
// snapshot made while its run could still be making it (its `creation`,
// which zfs sets and a rename keeps, close to the time in the run id). A
// copied proof thus only ever vouches for a snapshot made in that hour under
// that run's exact name, never for an older one renamed to it.
import { constants, mkdirSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { quoteArgv } from '../core/errors.js';
import { proofFor } from '../plan/proof-value.js';
import { poolOf } from '../zfs/list.js';
import { HOLD_TAG } from '../zfs/naming.js';
import { randomHex } from '../core/random.js';
import { readRootFile, writeRootFile } from './root-file.js';

export const PROOF_KEY_FILE = 'proof.key';
/** How long after the run id's time its snapshots may have been made, and how much earlier (a clock step). */
export const PROOF_WINDOW_S = { before: 300, after: 3600 };

export function proofKeyPath(journalDir: string): string {
  return posix.join(journalDir, PROOF_KEY_FILE);
}

/** The key as written (64 hex digits), or null when there is none we trust: absent, not ours, or readable by others. */
export function readProofKey(journalDir: string): { key: Buffer | null; problem: string | null } {
  const path = proofKeyPath(journalDir);
  let text: string | null;
  try {
    text = readRootFile(path);
  } catch (e) {
    return { key: null, problem: `${path} cannot be read: ${(e as Error).message}` };
  }
  if (text === null) return { key: null, problem: null };
  try {
    if (statSync(path).mode & 0o077) return { key: null, problem: `${path} can be read by other accounts, so its proofs can be forged` };
  } catch {
    return { key: null, problem: null };
  }
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) return { key: null, problem: `${path} is not a key of ours (64 hex digits)` };
  return { key: Buffer.from(hex, 'hex'), problem: null };
}

/**
 * This host's key, made (random, 0600) when there is none yet or the one
 * there is not trusted (then `warn` says so: proofs made with it no longer
 * verify, and the scan reports those snapshots instead of destroying them).
 */
export function proofKey(journalDir: string, warn: (m: string) => void): Buffer {
  const found = readProofKey(journalDir);
  if (found.key) return found.key;
  if (found.problem) warn(`${found.problem}: a new key is made`);
  mkdirSync(journalDir, { recursive: true, mode: 0o700 });
  const hex = randomHex(32);
  writeRootFile(proofKeyPath(journalDir), `${hex}\n`, constants.S_IRUSR | constants.S_IWUSR, { what: 'proof key' });
  return Buffer.from(hex, 'hex');
}

/** The time in a run id (YYYYMMDDTHHMMSSZ-...), in seconds, or null. */
export function runTime(run: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-/.exec(run);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) / 1000;
}

export interface ProofFacts {
  /** Full snapshot name. */
  name: string;
  run: string;
  owner: string;
  /** The local value of the proof property, or null. */
  proof: string | null;
  /** zfs's `creation` (seconds), or null when it could not be read. */
  creation: number | null;
}

/** Why this snapshot is not proven made by us; null when it is. */
export function proofProblem(key: Uint8Array | null, s: ProofFacts): string | null {
  if (s.proof === null) return 'it carries no kopiatomic:proof (made before proofs, or by someone else)';
  if (!key) return 'this host has no proof key to check its kopiatomic:proof against';
  const want = proofFor(key, poolOf(s.name), s.name.slice(s.name.indexOf('@') + 1), s.run, s.owner);
  if (!timingSafeEqualHex(s.proof, want)) return 'its kopiatomic:proof does not verify (forged, copied from another pool, or made with another key)';
  const t = runTime(s.run);
  if (t === null || s.creation === null) return 'its creation time could not be compared with its run';
  if (s.creation < t - PROOF_WINDOW_S.before || s.creation > t + PROOF_WINDOW_S.after) return `it was made at ${new Date(s.creation * 1000).toISOString()}, not while its run was (a copied proof, or a renamed snapshot)`;
  return null;
}

function timingSafeEqualHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** What an admin runs to remove such a snapshot after checking it is a leftover of ours. */
export function manualRemoval(name: string): string {
  return `${quoteArgv(['zfs', 'release', HOLD_TAG, name])}; ${quoteArgv(['zfs', 'destroy', name])}`;
}
