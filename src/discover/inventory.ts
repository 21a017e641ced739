// Discovery: one `zfs list` call for every filesystem, plus the mount table
// and, beside them, one `zpool list` of the pools' states.
import type { ExecResult, Runner } from '../core/exec.js';
import type { Platform } from '../platform/platform.js';
import type { MountEntry } from '../zfs/mount-table.js';
import { readPools, type PoolState } from './pools.js';
import { parseDatasetList, zfsListDatasetsArgv, type DatasetRow } from '../zfs/list.js';

export interface Dataset extends DatasetRow {
  /** Where the mount table says it is mounted, or null. */
  mountedAt: string | null;
}

export interface Inventory {
  datasets: Dataset[];
  mounts: MountEntry[];
  /** Each pool's health and readonly property; a pool missing here is of unknown state. */
  pools?: Map<string, PoolState>;
}

export async function discover(runner: Runner, platform: Platform, started?: Listings): Promise<Inventory> {
  const [[list, pools], mounts] = await Promise.all([started ?? startListings(runner), platform.readMounts(runner)]);
  return buildInventory(parseDatasetList(list.stdout), mounts, pools);
}

/** The filesystems and the pools' states, as two zfs commands report them. */
export type Listings = Promise<[ExecResult, Map<string, PoolState>]>;

/**
 * Starts discovery's two listings. A run starts them before it takes its
 * lock and recovers (cli/backup.ts): they read filesystems and pools, which
 * neither of those changes, and the start-up no longer waits for them.
 * Unused (then discover() lists again), a failure is not reported twice.
 */
export function startListings(runner: Runner): Listings {
  const p = Promise.all([runner.run(zfsListDatasetsArgv()), readPools(runner)]);
  p.catch(() => {});
  return p;
}

export function buildInventory(rows: DatasetRow[], mounts: MountEntry[], pools?: Map<string, PoolState>): Inventory {
  const where = new Map<string, string>();
  for (const m of mounts) {
    // The first entry wins: later ones with the same source are mounts over it.
    // A bind mount of a sub-folder (root other than "/") is not where the dataset itself is mounted.
    if (m.fstype === 'zfs' && m.root === '/' && !m.source.includes('@') && !where.has(m.source)) where.set(m.source, m.target);
  }
  const datasets = rows.map((r) => ({ ...r, mountedAt: where.get(r.name) ?? null }));
  return { datasets, mounts, ...(pools ? { pools } : {}) };
}
