// The planner: inventory + options in, the whole run out, as data. It is pure,
// so `-n` prints exactly what a real run executes, and tests read it directly.
import { posix } from 'node:path';
import type { Dataset } from '../discover/inventory.js';
import { isBelow, mountOrder, stateKey } from '../core/paths.js';
import { SNAPSHOT_TIME, topSources, type EngineContext } from '../engine/engine.js';
import { destroyUndo } from '../zfs/destroy-program.js';
import { platformFor } from '../platform/detect.js';
import type { Platform } from '../platform/platform.js';
import { joinCleanup, levelSteps, mountLevels, tablePath } from './mounts.js';
import { HOLD_TAG, PROP_OWNER, PROP_PROOF, PROP_RUN } from '../zfs/naming.js';
import { proofFor } from './proof-value.js';
import type { BackupCall, Plan, PlanInput, PoolSnapshots, RepositoryRun, Step, TreeMount } from './types.js';
import { zfsHold, zfsRelease, zfsSnapshot } from '../zfs/zfs.js';
import { identityProgram } from '../zfs/identity-program.js';



/** Deepest dataset that is an ancestor-or-self of every name (all in one pool). */
export function commonAncestor(names: string[]): string {
  let parts = names[0]!.split('/');
  for (const n of names.slice(1)) {
    const p = n.split('/');
    let i = 0;
    while (i < parts.length && i < p.length && parts[i] === p[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join('/');
}

export function groupByPool(datasets: Dataset[]): { pool: string; datasets: string[] }[] {
  const pools = new Map<string, string[]>();
  for (const d of datasets) {
    const list = pools.get(d.pool) ?? [];
    list.push(d.name);
    pools.set(d.pool, list);
  }
  return [...pools].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([pool, ds]) => ({ pool, datasets: ds }));
}

export function treeTarget(mountRoot: string, mountpoint: string): string {
  return mountpoint === '/' ? mountRoot : posix.join(mountRoot, mountpoint);
}

export function buildPlan(i: PlanInput): Plan {
  const { selection, snapshot, platform } = i;
  const pools: PoolSnapshots[] = groupByPool(selection.selected).map((p) => ({
    ...p,
    destroyRoot: commonAncestor(p.datasets),
  }));
  const all = pools.flatMap((p) => p.datasets.map((d) => `${d}@${snapshot}`));
  const steps: Step[] = [];

  // One `zfs snapshot` per pool: every snapshot in the call shares one transaction.
  for (const p of pools) {
    const names = p.datasets.map((d) => `${d}@${snapshot}`);
    steps.push({
      phase: 'snapshot',
      do: { kind: 'exec', mutates: true, argv: zfsSnapshot(names, { [PROP_RUN]: i.runId, [PROP_OWNER]: i.owner, ...proofProp(i, p.pool, snapshot) }) },
      // Destroyed by exact names, each checked against the identity recorded
      // after it was made (guid, createtxg: the identity program below) and our local properties.
      undo: destroyUndo({ pool: p.pool, run: i.runId, owner: i.owner, snapshots: names }),
      detail: { pool: p.pool, snapshot, snapshots: names, run: i.runId, owner: i.owner },
    });
  }
  // A hold keeps pruning tools (sanoid, znapzend) from destroying them mid-backup.
  // `-r` on each pool's destroy root makes it one transaction per pool (one
  // per snapshot name otherwise, which grows with the number of snapshots).
  // It touches only snapshots of our unique name below that root: libzfs's
  // zfs_hold_one/zfs_release_one add a child's ROOT/..@SNAP only if it exists
  // (release: only if it carries our tag), and skip the rest without failing.
  // So `release -r` never fails because of a foreign snapshot of our name, and
  // releases a hold only where our tag is (a copy made with `zfs send -h`
  // carries it: that hold is ours). A snapshot renamed out from under the
  // root keeps its hold; the destroy then finds it by its identity and
  // releases it by its exact name (safety/destroy-exact.ts).
  // It and the identity programs run beside the mounts, which do not need
  // them (a hold has nothing to do with a mount); both are done before the backup.
  if (all.length) {
    const roots = pools.map((p) => `${p.destroyRoot}@${snapshot}`);
    steps.push({
      phase: 'hold',
      beside: true,
      do: { kind: 'exec', mutates: true, argv: zfsHold(HOLD_TAG, roots, { recursive: true }) },
      undo: { phase: 'release', action: { kind: 'exec', mutates: true, argv: zfsRelease(HOLD_TAG, roots, { recursive: true }) } },
      detail: { snapshots: all },
    });
    // Every snapshot's identity (guid, createtxg: the destroy follows it,
    // and the journal keeps it) and the creation time recorded as the
    // backup's time, read in the kernel by a read-only program, one per pool.
    for (const p of pools) {
      const names = p.datasets.map((d) => `${d}@${snapshot}`);
      steps.push({ phase: 'inspect', beside: true, do: identityProgram(p.pool, names), detail: { pool: p.pool, snapshots: names } });
    }
  }

  const mounts: TreeMount[] = mountOrder(
    selection.selected.map((d) => ({ dataset: d.name, mountpoint: d.mountedAt!, target: treeTarget(i.mountRoot, d.mountedAt!) })),
  );
  const tree = i.engine.needsTree(i.layout, platform);
  if (tree && mounts.length) {
    if (!i.mountRootExists) {
      steps.push({
        phase: 'mkdir',
        do: { kind: 'mkdir', path: i.mountRoot, mode: 0o700 },
        undo: { phase: 'rmdir', action: { kind: 'rmdir', path: i.mountRoot } },
      });
    }
    const made = new Set<string>([i.mountRoot]);
    // Mount targets so far; a folder is inside one if it or an ancestor is one
    // (a walk up its few ancestors, not a scan of every mount: O(N) overall).
    const mounted = new Set<string>();
    const insideMount = (dir: string): boolean => {
      for (let d = dir; ; d = posix.dirname(d)) {
        if (mounted.has(d)) return true;
        if (!isBelow(d, i.mountRoot)) return false;
      }
    };
    for (const m of mounts) {
      // Folders inside an earlier snapshot mount already exist there (and are
      // read-only); only folders outside every mount are ours to create.
      const chain: string[] = [];
      for (let d = m.target; isBelow(d, i.mountRoot); d = posix.dirname(d)) chain.unshift(d);
      for (const dir of chain) {
        if (made.has(dir) || insideMount(dir)) continue;
        made.add(dir);
        steps.push({
          phase: 'mkdir',
          do: { kind: 'mkdir', path: dir, mode: 0o700 },
          undo: { phase: 'rmdir', action: { kind: 'rmdir', path: dir } },
        });
      }
      mounted.add(m.target);
    }
    // Batch mounts (plan/mounts.ts): one mount process per depth level
    const table = tablePath(i.stateDir, stateKey(i.mountRoot));
    for (const level of mountLevels(mounts)) steps.push(...levelSteps(level, snapshot, table, platform, i.mountRoot));
  }

  const engineContext: Omit<EngineContext, 'time'> = {
    command: i.command,
    options: i.options,
    root: i.mountRoot,
    snapshot,
    runId: i.runId,
    layout: i.layout,
    platform: platform.name,
    sources: mounts.map((m) => ({ path: m.mountpoint, readFrom: m.target, dataset: m.dataset })),
    job: i.job ?? 'default',
  };
  const repositories = (i.repositories ?? [{ name: 'default', configured: false, env: {} }]).map((r): RepositoryRun => {
    // Every repository gets the same calls (the same tree, the same time
    // slot); only its environment differs, and with it where the engine writes.
    const env = { ...(i.engineEnv ?? {}), ...r.env };
    const calls: BackupCall[] = i.engine.calls({ ...engineContext, time: SNAPSHOT_TIME, probe: i.probe }).map((c) =>
      c.namespace && i.engine.writablePaths ? { ...c, writable: i.engine.writablePaths(c.argv, { ...env, ...c.env }) } : c,
    );
    return { name: r.name, configured: r.configured, env: r.env, calls, retention: i.retention ? retentionCalls(i, engineContext, env) : [] };
  });

  return {
    runId: i.runId,
    snapshot,
    owner: i.owner,
    mountRoot: i.mountRoot,
    layout: i.layout,
    engine: i.engine,
    probe: i.probe,
    stateDir: i.stateDir,
    selection,
    pools,
    mounts,
    steps,
    repositories,
    engineContext,
    ...(i.enginePrefix?.length ? { enginePrefix: i.enginePrefix } : {}),
  };
}

/**
 * Releasing the holds does not wait for the unmounts: a hold has nothing to do
 * with a mount, and a release only has to be done before the destroy. When
 * cleanup begins with unmounts (newest first), every release runs beside them,
 * which hides its transaction behind the unmount processes.
 */
export function besideUnmounts<U>(newestFirst: readonly U[], phaseOf: (u: U) => string): U[] {
  const first = newestFirst[0];
  return first && phaseOf(first) === 'umount' ? newestFirst.filter((u) => phaseOf(u) === 'release') : [];
}

/** Cleanup in the order it will run: the undo of every step, last first; `beside` marks a command that runs beside the next. */
export function cleanupSteps(plan: Plan, platform: Platform = platformFor(plan.engineContext.platform)): (NonNullable<Step['undo']> & { beside?: true })[] {
  // Batch mounts' undos, consecutive unmounts joined into one command (plan/mounts.ts).
  const undos = plan.steps
    .flatMap((s): NonNullable<Step['undo']>[] => (s.batch ? s.batch.mounts.map((m) => ({ phase: 'umount', action: m.undo })) : s.undo ? [s.undo] : []))
    .reverse();
  const beside = besideUnmounts(undos, (u) => u.phase);
  return [...beside.map((u) => ({ ...u, beside: true as const })), ...joinCleanup(undos.filter((u) => !beside.includes(u)), platform)];
}

/**
 * The retention's commands for one repository (after its backup). An engine
 * that cannot apply a retention was refused before planning (preflight).
 */
function retentionCalls(i: PlanInput, ctx: Omit<EngineContext, 'time'>, env: Record<string, string | undefined>): string[][] {
  const r = i.engine.retention({
    command: ctx.command,
    options: ctx.options,
    job: ctx.job ?? 'default',
    retention: i.retention!,
    sources: retentionSources(ctx),
    env,
    hostname: i.hostname ?? '',
    dryRun: false,
  });
  return 'calls' in r ? r.calls : [];
}

/** The sources a job's backups record: the mount root (tree), or each top source's real path (paths layout). */
export function retentionSources(ctx: Pick<EngineContext, 'layout' | 'root' | 'sources'>): string[] {
  return ctx.layout === 'paths' ? topSources(ctx.sources).map((s) => s.path) : [ctx.root];
}

/** The proof property for one pool's snapshot command (none without a key: a dry run before the host's first run). */
function proofProp(i: PlanInput, pool: string, snapshot: string): Record<string, string> {
  return i.proofKey ? { [PROP_PROOF]: proofFor(i.proofKey, pool, snapshot, i.runId, i.owner) } : {};
}
