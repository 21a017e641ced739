// Parsing `zfs list -H -p`: tab-separated, no header, `-` for unset values.
// Dataset names cannot hold a tab or a newline; mount points (and user
// property values) can hold both. The mount point comes last but one, and the
// name is asked for again as the last column, so a row is complete exactly
// when it ends with its own name: a newline inside a mount point then joins
// lines instead of breaking the parse, and that dataset is skipped with a
// reason (a newline-bearing mount point can also forge a row, see below).

import { PROP_BACKUP } from './naming.js';
import { zfsList } from './zfs.js';

export const DATASET_COLUMNS = ['name', 'canmount', 'mounted', 'keystatus', PROP_BACKUP, 'mountpoint', 'name'] as const;

export interface DatasetRow {
  name: string;
  pool: string;
  canmount: 'on' | 'off' | 'noauto';
  mounted: boolean;
  /** `available`, `unavailable`, or null for an unencrypted dataset. */
  keystatus: string | null;
  /** The property: a path, `none` or `legacy`. */
  mountpoint: string;
  /** The effective kopiatomic:backup value (inherited as ZFS does), or null when unset. */
  backup?: string | null;
  /** Why this row cannot be trusted (a newline in its mount point), or absent. */
  problem?: string;
}

export function poolOf(dataset: string): string {
  const slash = dataset.indexOf('/');
  const at = dataset.indexOf('@');
  const ends = [slash, at].filter((i) => i >= 0);
  return ends.length ? dataset.slice(0, Math.min(...ends)) : dataset;
}

export function zfsListDatasetsArgv(): string[] {
  return zfsList({ type: 'filesystem', columns: DATASET_COLUMNS });
}

const NEWLINE = 'mount point contains a newline';

export function parseDatasetList(stdout: string): DatasetRow[] {
  const lines = stdout.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const rows: DatasetRow[] = [];
  const broken: string[] = [];
  const n = DATASET_COLUMNS.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue; // between rows: nothing
    const name = line.split('\t')[0]!;
    if (name === '' || !line.includes('\t')) {
      broken.push(line);
      continue;
    }
    // Join lines until the record ends with its own name (and has every column).
    let rec = line;
    let j = i;
    while (!(rec.endsWith('\t' + name) && rec.split('\t').length >= n) && j + 1 < lines.length) rec += '\n' + lines[++j];
    if (!(rec.endsWith('\t' + name) && rec.split('\t').length >= n)) {
      broken.push(line);
      continue;
    }
    i = j;
    const cols = rec.split('\t');
    const [, canmount, mounted, keystatus, backup] = cols as [string, string, string, string, string];
    const row: DatasetRow = {
      name,
      pool: poolOf(name),
      canmount: canmount === 'off' || canmount === 'noauto' ? canmount : 'on',
      mounted: mounted === 'yes',
      keystatus: keystatus === '-' || keystatus === '' ? null : keystatus,
      mountpoint: cols.slice(5, -1).join('\t'),
      backup: backup === '-' || backup === '' ? null : backup,
    };
    if (rec.includes('\n')) row.problem = backup.includes('\n') ? `${PROP_BACKUP} contains a newline` : NEWLINE;
    rows.push(row);
  }
  // A line that starts no complete row is the tail of a mount point that
  // holds "<tab><its own name><newline>": it still ends with that dataset's
  // name (the real last column). What came before it may look like rows.
  for (const b of broken) {
    const owner = b.split('\t').at(-1)!;
    const victims = rows.filter((r) => r.name === owner);
    if (!victims.length) throw new Error(`cannot parse zfs list line: ${JSON.stringify(b)}`);
    for (const v of victims) v.problem = NEWLINE;
  }
  // A name listed twice: one of the rows was forged inside a mount point.
  const count = new Map<string, number>();
  for (const r of rows) count.set(r.name, (count.get(r.name) ?? 0) + 1);
  for (const r of rows) if (count.get(r.name)! > 1) r.problem = `listed more than once by zfs list (a ${NEWLINE})`;
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
  return zfsList({ type: 'snapshot', columns: SNAPSHOT_COLUMNS });
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
