// Reading our snapshots' facts with as few zfs processes as possible:
// one `zfs get` for the ownership properties of every snapshot (only local
// values: received and inherited ones are never ours), and exact-name
// queries for what still exists and which of it we hold.
import type { Runner } from '../core/exec.js';
import { HOLD_TAG, PROP_OWNER, PROP_PROOF, PROP_RUN } from '../zfs/naming.js';
import { zfsHolds } from '../zfs/zfs.js';

export interface OwnedSnapshot {
  name: string;
  dataset: string;
  snapshot: string;
  /** Local values only; null when the property is missing or not set locally. */
  run: string | null;
  owner: string | null;
  /** The proof property's local value (asked for by the scan only), or null. */
  proof?: string | null;
}

/**
 * The snapshots (these, or with none given every snapshot on every pool)
 * whose run or owner property is set locally on them. With no dataset
 * operand `zfs get` visits all datasets; `-t snapshot` keeps snapshots, `-s
 * local` drops the unset, inherited and received values in zfs itself, so
 * the output holds only candidates (2 lines each).
 */
export function zfsGetOwnedArgv(names: readonly string[] = [], withProof = false): string[] {
  return ['zfs', 'get', '-H', '-p', '-o', 'name,property,value,source', '-s', 'local', '-t', 'snapshot', `${PROP_RUN},${PROP_OWNER}${withProof ? `,${PROP_PROOF}` : ''}`, ...names];
}

export function parseOwned(stdout: string): OwnedSnapshot[] {
  const byName = new Map<string, OwnedSnapshot>();
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const f = line.split('\t');
    if (f.length < 4) continue;
    const [name, prop] = f as [string, string];
    const source = f[f.length - 1]!;
    const value = f.slice(2, -1).join('\t');
    const at = name.indexOf('@');
    // Only a value set on the snapshot itself counts (never "received", "inherited from ...", "default").
    if (at < 0 || source !== 'local') continue;
    let s = byName.get(name);
    if (!s) byName.set(name, (s = { name, dataset: name.slice(0, at), snapshot: name.slice(at + 1), run: null, owner: null }));
    if (prop === PROP_RUN) s.run = value;
    if (prop === PROP_OWNER) s.owner = value;
    if (prop === PROP_PROOF) s.proof = value;
  }
  return [...byName.values()];
}

/** `zfs list` of exactly these snapshots: those that exist are printed (exit 1 when some do not). */
export function existingSnapshotsArgv(names: readonly string[]): string[] {
  return ['zfs', 'list', '-H', '-o', 'name', '-t', 'snapshot', ...names];
}

/** Which of these snapshots exist now: one `zfs list`; a name that is gone makes it exit 1, which is expected here. */
export async function existingSnapshots(runner: Runner, names: readonly string[]): Promise<string[]> {
  if (!names.length) return [];
  const r = await runner.run(existingSnapshotsArgv(names), { okCodes: [1] });
  const wanted = new Set(names);
  return r.stdout.split('\n').filter((n) => wanted.has(n));
}

export function heldByUsArgv(names: readonly string[]): string[] {
  return zfsHolds(names);
}

/** Which of these (existing) snapshots carry our hold tag: one `zfs holds`. */
export async function heldByUs(runner: Runner, names: readonly string[]): Promise<string[]> {
  if (!names.length) return [];
  const r = await runner.run(heldByUsArgv(names), { okCodes: [1] });
  const out = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const [name, tag] = line.split('\t');
    if (name && tag === HOLD_TAG) out.add(name);
  }
  return names.filter((n) => out.has(n));
}

/** `zfs list` of these snapshots' creation times (seconds). */
export function creationArgv(names: readonly string[]): string[] {
  return ['zfs', 'list', '-H', '-p', '-o', 'name,creation', '-t', 'snapshot', ...names];
}

/** When each of these snapshots was made (zfs's `creation`, which a rename keeps): one `zfs list`; gone ones are absent. */
export async function creationTimes(runner: Runner, names: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (!names.length) return out;
  const r = await runner.run(creationArgv(names), { okCodes: [1] });
  for (const line of r.stdout.split('\n')) {
    const f = line.split('\t');
    if (f.length >= 2 && /^\d+$/.test(f.at(-1)!)) out.set(f.slice(0, -1).join('\t'), Number(f.at(-1)));
  }
  return out;
}
