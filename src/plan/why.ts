// Why each dataset is or is not in a job, for `kopiatomic jobs`. Pure: the
// inventory, the job's selection and the property's sources in, lines out.
import { isBelow } from '../core/paths.js';
import type { Inventory } from '../discover/inventory.js';
import { PROP_BACKUP } from '../zfs/naming.js';
import { propertySelects, type Selection } from './select.js';

/** `zfs get -H -p -o name,value,source -t filesystem kopiatomic:backup`. */
export function zfsGetBackupArgv(): string[] {
  return ['zfs', 'get', '-H', '-p', '-t', 'filesystem', '-o', 'name,value,source', PROP_BACKUP];
}

export interface PropertySource {
  value: string | null;
  /** "local", "inherited from tank/x", "received", or null when unset. */
  source: string | null;
}

/** name -> value and source. The value may hold tabs: the name is first and the source last. */
export function parseBackupSources(stdout: string): Map<string, PropertySource> {
  const out = new Map<string, PropertySource>();
  for (const line of stdout.split('\n')) {
    const cols = line.split('\t');
    if (cols.length < 3) continue;
    const name = cols[0]!;
    const source = cols.at(-1)!;
    const value = cols.slice(1, -1).join('\t');
    out.set(name, { value: value === '-' && source === '-' ? null : value, source: source === '-' ? null : source });
  }
  return out;
}

export interface DatasetWhy {
  dataset: string;
  selected: boolean;
  why: string;
}

function propertyWhy(p: PropertySource | undefined, value: string | null | undefined): string {
  const v = p?.value ?? value ?? null;
  if (v === null) return `${PROP_BACKUP} is not set`;
  const src = p?.source;
  const from = !src ? '' : src === 'local' ? ' set locally' : src.startsWith('inherited from ') ? ` ${src}` : ` (${src})`;
  return `${PROP_BACKUP}=${v}${from}`;
}

/** Every dataset the job backs up, skips, or (for property jobs) leaves out on purpose, with why. */
export function explain(job: { job: string; property: boolean; all: boolean; recursive: boolean; targets: string[] }, inv: Inventory, sel: Selection, sources: Map<string, PropertySource>): DatasetWhy[] {
  const out: DatasetWhy[] = [];
  const listed = new Set(job.targets);
  for (const d of sel.selected) {
    let why: string;
    if (job.property) why = propertyWhy(sources.get(d.name), d.backup);
    else if (job.all) why = 'select = "all"';
    else if (listed.has(d.name) || (d.mountedAt !== null && listed.has(d.mountedAt))) why = 'listed in datasets';
    else {
      const parent = job.targets.find((t) => isBelow(d.name, t));
      why = parent ? `below ${parent} (recursive)` : 'listed in datasets';
    }
    out.push({ dataset: d.name, selected: true, why });
  }
  for (const s of sel.skipped) out.push({ dataset: s.dataset, selected: false, why: s.reason });
  if (job.property) {
    const seen = new Set(out.map((o) => o.dataset));
    for (const d of inv.datasets) {
      if (seen.has(d.name)) continue;
      const p = sources.get(d.name);
      if ((p?.value ?? d.backup ?? null) === null) continue;
      if (!propertySelects(p?.value ?? d.backup, job.job)) out.push({ dataset: d.name, selected: false, why: propertyWhy(p, d.backup) });
    }
  }
  return out;
}
