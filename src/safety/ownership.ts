// Ownership is proven, not guessed: a snapshot is ours to destroy only when
//  - its run and owner properties are set locally on it (zfs recv marks the
//    copies on a replica "received"; a snapshot of a dataset that carries the
//    property only inherits it),
//  - its owner names this host (a pool imported elsewhere, or shared, keeps
//    its snapshots away from the other host's recovery),
//  - its name is the one derived from its run id,
//  - and the run that made it is not alive (another boot, or its pid is gone).
import type { OwnedSnapshot } from '../discover/snapshots.js';
import { cleanHostId, parseOwner, snapshotNameFor } from '../zfs/naming.js';
import { ownerAlive } from './lock.js';

export type Verdict = 'stale' | 'live' | 'foreign';

export interface Me {
  host: string;
  boot: string;
}

export function judge(s: OwnedSnapshot, me: Me, alive: typeof ownerAlive = ownerAlive): { verdict: Verdict; why: string } {
  if (!s.run || !s.owner) return { verdict: 'foreign', why: 'its run and owner properties are not both set on it locally' };
  if (s.snapshot !== snapshotNameFor(s.run)) return { verdict: 'foreign', why: `its name is not ${snapshotNameFor(s.run)}` };
  const o = parseOwner(s.owner);
  if (!o) return { verdict: 'foreign', why: `its owner ${JSON.stringify(s.owner)} is not in our format` };
  if (o.host !== cleanHostId(me.host)) return { verdict: 'foreign', why: `it was made on another host (${o.host})` };
  if (alive({ boot: o.boot, pid: o.pid }, me.boot)) return { verdict: 'live', why: `its run (pid ${o.pid}) is still running` };
  return { verdict: 'stale', why: 'its run is gone' };
}

/** The snapshots of dead runs of this host, grouped by snapshot name (one group per run). */
export function staleRuns(list: OwnedSnapshot[], me: Me, alive: typeof ownerAlive = ownerAlive): Map<string, string[]> {
  const runs = new Map<string, string[]>();
  for (const s of list) {
    if (judge(s, me, alive).verdict !== 'stale') continue;
    const names = runs.get(s.snapshot) ?? [];
    names.push(s.name);
    runs.set(s.snapshot, names);
  }
  return runs;
}
