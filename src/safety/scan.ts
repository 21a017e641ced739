// The recovery scan's listing (issue 10 item 3), for recover.ts to use: only
// snapshots whose kopiatomic properties are set locally, in one `zfs get`.
// With 20,000 other snapshots on a pool the full `zfs list -t snapshot` prints
// a line for each; this prints two lines per snapshot of ours and nothing for
// the rest, and leaves out received (replicated) copies, whose properties are
// not local. userrefs is not asked (its source is never local): a stale
// snapshot's hold is released with `zfs release`, whose "no such tag" means
// there was none.
import { poolOf } from '../discover/zfs-list.js';
import { PROP_OWNER, PROP_RUN } from '../plan/naming.js';

export interface LocalSnapshotProps {
  name: string;
  dataset: string;
  snapshot: string;
  pool: string;
  run: string | null;
  owner: string | null;
}

export function zfsGetOursArgv(): string[] {
  return ['zfs', 'get', '-H', '-p', '-o', 'name,property,value,source', '-s', 'local', '-t', 'snapshot', `${PROP_RUN},${PROP_OWNER}`];
}

/** Rows of `zfs get -H -o name,property,value,source`, merged per snapshot; anything not local is ignored. */
export function parseZfsGetOurs(stdout: string): LocalSnapshotProps[] {
  const by = new Map<string, LocalSnapshotProps>();
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const f = line.split('\t');
    if (f.length !== 4) continue; // a value with a tab is not ours
    const [name, prop, value, source] = f as [string, string, string, string];
    const at = name.indexOf('@');
    if (at < 0 || source !== 'local') continue;
    let row = by.get(name);
    if (!row) {
      row = { name, dataset: name.slice(0, at), snapshot: name.slice(at + 1), pool: poolOf(name), run: null, owner: null };
      by.set(name, row);
    }
    if (prop === PROP_RUN) row.run = value;
    if (prop === PROP_OWNER) row.owner = value;
  }
  return [...by.values()];
}

// Two steps, for pools with many other snapshots: names only first (zfs can
// list snapshot names without reading each one's properties), then the
// properties of the few whose name is ours. Ownership is still proven by the
// local properties (parseZfsGetOurs) of those candidates.

export function zfsListSnapshotNamesArgv(): string[] {
  return ['zfs', 'list', '-H', '-t', 'snapshot', '-o', 'name'];
}

/** Names that look like ours (`DS@kopiatomic-...`): candidates, not proof. */
export function candidateNames(stdout: string, prefix = 'kopiatomic-'): string[] {
  return stdout.split('\n').filter((l) => l.includes(`@${prefix}`));
}

/** The local kopiatomic properties (and hold count) of the candidates, in calls of at most `per` names. */
export function zfsGetCandidatesArgv(names: string[], per = 500): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < names.length; i += per) {
    out.push(['zfs', 'get', '-H', '-p', '-o', 'name,property,value,source', `${PROP_RUN},${PROP_OWNER}`, ...names.slice(i, i + per)]);
  }
  return out;
}
