// Parsing `zfs list -H -p`: tab-separated, no header, `-` for unset values.
// Dataset names cannot hold a tab, mount points can: the mount point is asked
// for last so a tab inside it stays part of it.

export const DATASET_COLUMNS = ['name', 'canmount', 'mounted', 'keystatus', 'mountpoint'] as const;

export interface DatasetRow {
  name: string;
  pool: string;
  canmount: 'on' | 'off' | 'noauto';
  mounted: boolean;
  /** `available`, `unavailable`, or null for an unencrypted dataset. */
  keystatus: string | null;
  /** The property: a path, `none` or `legacy`. */
  mountpoint: string;
}

export function poolOf(dataset: string): string {
  const slash = dataset.indexOf('/');
  const at = dataset.indexOf('@');
  const ends = [slash, at].filter((i) => i >= 0);
  return ends.length ? dataset.slice(0, Math.min(...ends)) : dataset;
}

export function zfsListDatasetsArgv(): string[] {
  return ['zfs', 'list', '-H', '-p', '-t', 'filesystem', '-o', DATASET_COLUMNS.join(',')];
}

export function parseDatasetList(stdout: string): DatasetRow[] {
  const rows: DatasetRow[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const cols = line.split('\t');
    if (cols.length < DATASET_COLUMNS.length) throw new Error(`cannot parse zfs list line: ${JSON.stringify(line)}`);
    const [name, canmount, mounted, keystatus] = cols as [string, string, string, string];
    const mountpoint = cols.slice(4).join('\t');
    rows.push({
      name,
      pool: poolOf(name),
      canmount: canmount === 'off' || canmount === 'noauto' ? canmount : 'on',
      mounted: mounted === 'yes',
      keystatus: keystatus === '-' || keystatus === '' ? null : keystatus,
      mountpoint,
    });
  }
  return rows;
}

/** Our snapshots, found by the user property each run sets on them. */
export const SNAPSHOT_COLUMNS = ['name', 'userrefs', 'kopiatomic:run', 'kopiatomic:owner'] as const;

export interface SnapshotRow {
  name: string;
  dataset: string;
  snapshot: string;
  userrefs: number;
  run: string | null;
  owner: string | null;
}

export function zfsListSnapshotsArgv(): string[] {
  return ['zfs', 'list', '-H', '-p', '-t', 'snapshot', '-o', SNAPSHOT_COLUMNS.join(',')];
}

export function parseSnapshotList(stdout: string): SnapshotRow[] {
  const rows: SnapshotRow[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const [name = '', userrefs = '0', run = '-', owner = '-'] = line.split('\t');
    const at = name.indexOf('@');
    if (at < 0) continue;
    rows.push({
      name,
      dataset: name.slice(0, at),
      snapshot: name.slice(at + 1),
      userrefs: Number(userrefs) || 0,
      run: run === '-' ? null : run,
      owner: owner === '-' ? null : owner,
    });
  }
  return rows;
}
