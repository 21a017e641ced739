// Destroying exactly the snapshots a run recorded, followed by identity and
// not by name: a dataset renamed during the backup takes our snapshot with
// it, and a snapshot received under our name (`zfs send | zfs recv`) is a
// copy with the same guid but a later createtxg and no local property of
// ours. Each recorded snapshot is found where it is now (its guid and
// createtxg; before they were recorded, its name), proven ours (this run's
// run and owner properties set locally on it), released and destroyed by its
// exact name, and then looked for again by identity: whatever is still there
// (or could not be found or proven) is a leftover.
import type { Runner } from '../core/exec.js';
import { retryWhileBusy } from '../core/retry.js';
import { heldByUs, heldByUsArgv, parseOwned, zfsGetOwnedArgv } from '../discover/snapshots.js';
import { quoteArgv } from '../core/errors.js';
import { destroyUndo, fillIdentity, type SnapshotId } from '../zfs/destroy-program.js';
import { HOLD_TAG, PROP_RUN } from '../zfs/naming.js';
import type { Action } from '../plan/types.js';
import { errorReason, type Leftover } from './drop-snapshots.js';
import { zfsDestroy, zfsList, zfsProgram, zfsRelease } from '../zfs/zfs.js';

export interface Recorded {
  /** The name it was made with. */
  name: string;
  /** Recorded by the identity program after the snapshot; null when the run died before it. */
  id: SnapshotId | null;
}

export interface RunIdentity {
  run: string;
  /** null: any owner set locally (a snapshot found by a scan, already judged ours). */
  owner: string | null;
}

/** `zfs list` of these snapshots (or, with `-r POOL`, of every snapshot in a pool) with their identity. */
export function identityListArgv(names: readonly string[], pool?: string): string[] {
  return zfsList({ type: 'snapshot', columns: ['name', 'guid', 'createtxg'], ...(pool ? { recursiveFrom: pool } : { names }) });
}

interface Row {
  name: string;
  guid: string;
  txg: string;
}

function parseRows(stdout: string): Row[] {
  const rows: Row[] = [];
  for (const line of stdout.split('\n')) {
    const f = line.split('\t');
    if (f.length >= 3 && f[0]) rows.push({ name: f.slice(0, -2).join('\t'), guid: f.at(-2)!, txg: f.at(-1)! });
  }
  return rows;
}

const poolOf = (name: string) => name.split(/[/@]/)[0]!;
const same = (r: Row, id: SnapshotId) => r.guid === id.guid && r.txg === id.txg;

/** Which of these snapshots are at their name with their identity (any snapshot there, when none was recorded): one `zfs list` of the names. */
async function atTheirNames(runner: Runner, snaps: readonly Recorded[]): Promise<Set<Recorded>> {
  const rows = new Map(parseRows((await runner.run(identityListArgv(snaps.map((s) => s.name)), { okCodes: [1] })).stdout).map((r) => [r.name, r]));
  return new Set(snaps.filter((s) => rows.has(s.name) && (!s.id || same(rows.get(s.name)!, s.id))));
}

/** Which of these snapshots are still at their name with their identity (any snapshot there, when none was recorded): one `zfs list`. */
export async function stillThere(runner: Runner, snaps: readonly Recorded[]): Promise<string[]> {
  if (!snaps.length) return [];
  const at = await atTheirNames(runner, snaps);
  return snaps.filter((s) => at.has(s)).map((s) => s.name);
}

export type Where = { at: string } | { gone: true } | { problem: string };

/**
 * Where each recorded snapshot is now: one listing of the recorded names;
 * only when some is not at its name any more, one listing of that pool's
 * snapshots to find its guid and createtxg under a new name. Then one
 * `zfs get` proves each found snapshot ours; one that is not stays untouched.
 */
export async function locate(runner: Runner, recs: readonly Recorded[], me: RunIdentity): Promise<Map<Recorded, Where>> {
  const where = new Map<Recorded, Where>();
  if (!recs.length) return where;
  const atName = await atTheirNames(runner, recs);
  const lost: Recorded[] = [];
  for (const r of recs) {
    if (atName.has(r)) where.set(r, { at: r.name });
    else if (r.id) lost.push(r);
    else where.set(r, { gone: true }); // never identified: only its name (and the properties) could say it is ours
  }
  for (const pool of new Set(lost.map((r) => poolOf(r.name)))) {
    const mine = lost.filter((x) => poolOf(x.name) === pool);
    let rows: Row[];
    try {
      rows = parseRows((await runner.run(identityListArgv([], pool))).stdout);
    } catch (e) {
      // A pool that cannot be listed (exported, faulted) may still hold it.
      for (const r of mine) where.set(r, { problem: `could not look for it in pool ${pool}: ${errorReason(e)}` });
      continue;
    }
    for (const r of mine) {
      const found = rows.filter((row) => same(row, r.id!));
      // guid and createtxg name one snapshot in a pool (a received copy has a later createtxg).
      where.set(r, found.length === 1 ? { at: found[0]!.name } : found.length ? { problem: `${found.length} snapshots have its guid and createtxg` } : { gone: true });
    }
  }
  const names = [...where.values()].flatMap((w) => ('at' in w ? [w.at] : []));
  if (!names.length) return where;
  const props = new Map(parseOwned((await runner.run(zfsGetOwnedArgv(names), { okCodes: [1] })).stdout).map((s) => [s.name, s]));
  for (const [r, w] of where) {
    if (!('at' in w)) continue;
    const s = props.get(w.at);
    const proven = s && s.run === me.run && s.owner !== null && (me.owner === null || s.owner === me.owner);
    if (proven) continue;
    // Our identity recorded, but not our properties: never destroyed. Without an
    // identity, a snapshot that bears our name but not our properties is someone else's.
    where.set(r, r.id ? { problem: `${w.at} is not proven ours: its ${PROP_RUN} and owner properties are not this run's, set on it` } : { gone: true });
  }
  return where;
}

/**
 * Releases our hold on, and destroys, exactly the recorded snapshots of one
 * run that can be found and proven ours: per pool, the channel program with
 * the names they have now, and should it fail, `zfs destroy` of each exact
 * name (retried while busy). Then looks for them again by identity.
 */
export async function destroyExact(runner: Runner, recs: readonly Recorded[], me: RunIdentity): Promise<{ dropped: number; leftovers: Leftover[] }> {
  const why = new Map<Recorded, string>();
  const first = await locate(runner, recs, me);
  const found = recs.filter((r) => 'at' in first.get(r)!);
  const nameOf = (r: Recorded) => (first.get(r) as { at: string }).at;
  const held = await heldByUs(runner, found.map(nameOf));
  if (held.length) {
    try {
      await runner.run(zfsRelease(HOLD_TAG, held), { mutates: true });
    } catch (e) {
      for (const r of found) if (held.includes(nameOf(r))) why.set(r, `could not release our hold: ${errorReason(e)}`);
    }
  }
  const gone = new Set<Recorded>(); // destroyed by their exact name, as zfs reported
  for (const pool of new Set(found.map((r) => poolOf(nameOf(r))))) {
    const mine = found.filter((r) => poolOf(nameOf(r)) === pool);
    const program = programFor(pool, mine.map((r) => ({ name: nameOf(r), id: r.id })), me);
    if (program?.kind === 'exec') {
      try {
        await runner.run(program.argv, { mutates: true, input: program.input! });
        for (const r of mine) gone.add(r);
        continue;
      } catch {
        // one that cannot go (a clone, another tool's hold) stops them all: one by one
      }
    }
    for (const r of mine) {
      try {
        await retryWhileBusy(() => runner.run(zfsDestroy(nameOf(r)), { mutates: true }), 4, 250);
        gone.add(r);
      } catch (e) {
        if (!why.has(r)) why.set(r, errorReason(e));
      }
    }
  }
  // The check, by identity: what zfs reported destroyed is looked for at its
  // name (OpenZFS has reported success for a destroy that left a mounted
  // snapshot); what it did not is looked for again wherever it is now.
  const destroyed = found.filter((r) => gone.has(r));
  const left = new Set(await stillThere(runner, destroyed.map((r) => ({ name: nameOf(r), id: r.id }))));
  const again = await locate(runner, found.filter((r) => !gone.has(r)), me);
  const leftovers: Leftover[] = [];
  let dropped = 0;
  for (const r of recs) {
    const before = first.get(r)!;
    if ('problem' in before) leftovers.push({ what: `snapshot ${r.name}`, reason: before.problem });
    if (!('at' in before)) continue;
    const now: Where = gone.has(r) ? (left.has(nameOf(r)) ? { at: nameOf(r) } : { gone: true }) : again.get(r)!;
    if ('at' in now) leftovers.push({ what: `snapshot ${now.at}`, reason: why.get(r) ?? 'it is still there after zfs destroy reported success' });
    else if ('problem' in now) leftovers.push({ what: `snapshot ${r.name}`, reason: why.get(r) ?? now.problem });
    else dropped++;
  }
  return { dropped, leftovers };
}

/** The destroy program for these snapshots at the names they have now (none when the run's owner is not known: the program compares it). */
function programFor(pool: string, snaps: { name: string; id: SnapshotId | null }[], me: RunIdentity): Action | null {
  if (me.owner === null || !snaps.length) return null;
  const ids = Object.fromEntries(snaps.flatMap((s) => (s.id ? [[s.name, s.id]] : [])));
  const program = destroyUndo({ pool, run: me.run, owner: me.owner, snapshots: snaps.map((s) => s.name) }).action;
  return { ...program, argv: fillIdentity(program.argv, ids) };
}

/** The exact destroy as the commands it runs, for the dry run (cli/print-plan.ts). */
export function exactDestroyCommands(x: { pool: string; snapshots: string[] }): string[] {
  const names = x.snapshots;
  return [
    `${quoteArgv(identityListArgv(names))}    # where each is now; for one not at its name: ${quoteArgv(identityListArgv([], x.pool))}`,
    `${quoteArgv(zfsGetOwnedArgv(names))}    # each proven ours`,
    `${quoteArgv(heldByUsArgv(names))}`,
    `${quoteArgv(zfsRelease(HOLD_TAG, names))}    # those that carry our hold`,
    `${quoteArgv(zfsProgram(x.pool, ['...'], { json: true }))}    # the destroy program, at the names found; should it fail, one by one:`,
    ...names.map((n) => quoteArgv(zfsDestroy(n))),
    `${quoteArgv(identityListArgv(names))}    # the check: none of them is left (looked for by guid and createtxg)`,
  ];
}
