// Which datasets a run backs up, and which it skips and why. Pure: it reads
// only the inventory, so every case is unit-tested without ZFS.
import { UsageError } from '../core/errors.js';
import { isBelow, isWithin } from '../core/paths.js';
import type { Dataset, Inventory } from '../discover/inventory.js';
import type { Target } from '../discover/targets.js';
import { checkNestedReachable, unreachableNested } from './nested.js';
import { poolProblem } from '../discover/pools.js';


export interface SelectOptions {
  targets: Target[];
  all: boolean;
  recursive: boolean;
  excludes: Target[];
  /** Select by the kopiatomic:backup property for this job name (instead of targets). */
  property?: string | null;
}

/**
 * Whether a kopiatomic:backup value selects the job: on/true select it for
 * every property job, off/false for none, otherwise a comma-separated list of
 * job names. The value is the effective one, inherited as ZFS inherits it.
 */
export function propertySelects(value: string | null | undefined, job: string): boolean {
  if (value === null || value === undefined) return false;
  const v = value.trim().toLowerCase();
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false' || v === '') return false;
  return value.split(',').some((n) => n.trim() === job);
}

export interface Skipped {
  dataset: string;
  reason: string;
  /** Its pool cannot take a snapshot (read-only, suspended, faulted): a backup without it is incomplete. */
  pool?: string;
}

export interface Selection {
  selected: Dataset[];
  skipped: Skipped[];
}


/** The dataset a target names: by name, or by the path it is mounted at. */
export function resolveTarget(inv: Inventory, t: Target): Dataset {
  if (t.kind === 'dataset') {
    const ds = inv.datasets.find((d) => d.name === t.name);
    if (!ds) throw new UsageError(`no such ZFS filesystem: ${t.name}`);
    return ds;
  }
  const exact =
    inv.datasets.find((d) => d.mountedAt === t.path) ??
    inv.datasets.find((d) => d.mountedAt === null && d.mountpoint === t.path);
  if (exact) return exact;
  let holder: Dataset | undefined;
  for (const d of inv.datasets) {
    if (d.mountedAt && isWithin(t.path, d.mountedAt) && (!holder || d.mountedAt.length > holder.mountedAt!.length)) {
      holder = d;
    }
  }
  if (holder) {
    throw new UsageError(
      `${t.path} is not the mount point of a dataset: it is inside ${holder.name} (mounted at ${holder.mountedAt}); name that dataset instead`,
    );
  }
  throw new UsageError(`${t.path} is not on a ZFS filesystem`);
}

export function skipReason(d: Dataset): string | null {
  if (d.problem) return d.problem;
  if (d.keystatus === 'unavailable') return 'encrypted and its key is not loaded (keystatus=unavailable)';
  if (d.canmount === 'off') return 'canmount=off';
  if (d.mountpoint === 'none') return 'mountpoint=none';
  if (d.mountedAt === null) return d.mountpoint === 'legacy' ? 'mountpoint=legacy and not in the mount table' : 'not mounted';
  return null;
}


export function select(inv: Inventory, o: SelectOptions): Selection {
  const byProperty = o.property !== undefined && o.property !== null;
  if (!o.all && !byProperty && o.targets.length === 0) throw new UsageError('no datasets or paths given (use -a for all)');
  const roots = o.all
    ? inv.datasets
    : byProperty
      ? inv.datasets.filter((d) => propertySelects(d.backup, o.property!))
      : o.targets.map((t) => resolveTarget(inv, t));
  const excluded = o.excludes.map((t) => resolveTarget(inv, t).name);
  const poolWhy = (d: Dataset) => poolProblem(d.pool, inv.pools?.get(d.pool));
  // A dataset named on such a pool is an error before anything changes; -a and the property skip it.
  if (!o.all && !byProperty) {
    for (const r of roots) {
      const why = poolWhy(r);
      if (why) throw new UsageError(`cannot back up ${r.name}: ${why}`);
    }
  }

  const chosen = new Map<string, Dataset>();
  for (const root of roots) {
    chosen.set(root.name, root);
    if (o.recursive && !byProperty) for (const d of inv.datasets) if (isBelow(d.name, root.name)) chosen.set(d.name, d);
  }
  const selected: Dataset[] = [];
  const skipped: Skipped[] = [];
  for (const d of chosen.values()) {
    const ex = excluded.find((e) => isWithin(d.name, e));
    if (ex) {
      skipped.push({ dataset: d.name, reason: ex === d.name ? 'excluded' : `excluded with ${ex}` });
      continue;
    }
    const poolIs = poolWhy(d);
    if (poolIs) {
      skipped.push({ dataset: d.name, reason: poolIs, pool: d.pool });
      continue;
    }
    const why = skipReason(d);
    if (why) skipped.push({ dataset: d.name, reason: why });
    else selected.push(d);
  }
  const seen = new Map<string, string>();
  for (const d of selected) {
    const other = seen.get(d.mountedAt!);
    if (other) throw new UsageError(`${other} and ${d.name} are both mounted at ${d.mountedAt}`);
    seen.set(d.mountedAt!, d.name);
  }
  if (!byProperty) checkNestedReachable(selected, inv.mounts);
  else {
    // Marked by the property, but mounted below an unselected mount (off on a
    // dataset in between): skipped with the reason, never silently; repeated
    // because a skipped one can cut off what is mounted below it.
    for (let cut = unreachableNested(selected, inv.mounts); cut.length; cut = unreachableNested(selected, inv.mounts)) {
      for (const u of cut) {
        selected.splice(selected.indexOf(u.dataset), 1);
        skipped.push({ dataset: u.dataset.name, reason: u.message });
      }
    }
  }
  return { selected, skipped };
}
