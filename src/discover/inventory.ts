// Discovery: one `zfs list` call for every filesystem, plus the mount table.
import type { Runner } from '../core/exec.js';
import type { Platform } from '../platform/platform.js';
import type { MountEntry } from './mount-table.js';
import { parseDatasetList, zfsListDatasetsArgv, type DatasetRow } from './zfs-list.js';

export interface Dataset extends DatasetRow {
  /** Where the mount table says it is mounted, or null. */
  mountedAt: string | null;
}

export interface Inventory {
  datasets: Dataset[];
  mounts: MountEntry[];
}

export async function discover(runner: Runner, platform: Platform): Promise<Inventory> {
  const [list, mounts] = await Promise.all([runner.run(zfsListDatasetsArgv()), platform.readMounts(runner)]);
  return buildInventory(parseDatasetList(list.stdout), mounts);
}

export function buildInventory(rows: DatasetRow[], mounts: MountEntry[]): Inventory {
  const where = new Map<string, string>();
  for (const m of mounts) {
    // The first entry wins: later ones with the same source are mounts over it.
    // A bind mount of a sub-folder (root other than "/") is not where the dataset itself is mounted.
    if (m.fstype === 'zfs' && m.root === '/' && !m.source.includes('@') && !where.has(m.source)) where.set(m.source, m.target);
  }
  const datasets = rows.map((r) => ({ ...r, mountedAt: where.get(r.name) ?? null }));
  return { datasets, mounts };
}
