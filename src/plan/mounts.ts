// Mounting the tree from a constant number of processes: the snapshots are
// grouped in depth levels (a mount's level is one more than that of the
// nearest mount that contains it), and each level is mounted by one process
// over a mount table written for it. A level's targets lie inside the
// previous level's read-only snapshots (or in our own root-only folders), so
// they can be checked once that level is mounted, before mounting the next.
// On Linux that process calls mount(2) per snapshot (platform/syscall-batch.ts),
// and for a large level forks once: two halves side by side.
// Unmounting is one process with every target (two side by side for a large
// batch), children first: the platform's batch (umount2(2) per target on
// Linux, umount(8) -v on FreeBSD).
import type { ExactDestroy } from '../zfs/destroy-program.js';
import { posix } from 'node:path';
import type { Platform } from '../platform/platform.js';
import type { Action, Step, TreeMount } from './types.js';

/** Mounts (parents first, as from mountOrder) grouped by nesting level. */
export function mountLevels<T extends { target: string }>(mounts: T[]): T[][] {
  const level = new Map<string, number>();
  const out: T[][] = [];
  for (const m of mounts) {
    let l = 0;
    for (let d = m.target; d !== posix.dirname(d); ) {
      d = posix.dirname(d);
      const above = level.get(d);
      if (above !== undefined) {
        l = above + 1;
        break;
      }
    }
    level.set(m.target, l);
    (out[l] ??= []).push(m);
  }
  return out;
}

/** Where a level's mount table is written: the state folder, next to the journal. */
export function tablePath(stateDir: string, key: string): string {
  return `${stateDir}/${key}.mounts`;
}

/**
 * The steps that mount one level: write its table (mode 0600), then one
 * mount process: mount(8) over the table, or on Linux perl calling mount(2)
 * with mount(8) over the table as its fallback. The batch step carries each
 * mount's undo; the executor checks the targets, journals the undos, then
 * runs it.
 */
export function levelSteps(level: TreeMount[], snapshot: string, table: string, platform: Platform, mountRoot: string): Step[] {
  const snaps = level.map((m) => ({ dataset: m.dataset, snapshot, mountpoint: m.mountpoint, target: m.target }));
  const content = snaps.map((m) => platform.mountTableLine(m)).join('');
  return [
    { phase: 'mount-table', do: { kind: 'write', path: table, mode: 0o600, content } },
    {
      phase: 'mount',
      do: { kind: 'exec', mutates: true, argv: platform.mountBatchArgv(table, snaps) },
      batch: {
        root: mountRoot,
        fallback: platform.mountBatchFallbackArgv(table),
        mounts: snaps.map((m) => {
          const argv = platform.mountArgv(m);
          return {
            target: m.target,
            dataset: m.dataset,
            // what the mount table shows as its source, so an undo unmounts only this mount
            source: argv[argv.length - 2]!,
            undo: { kind: 'exec', mutates: true, argv: platform.umountArgv(m.target) },
          };
        }),
      },
    },
  ];
}

/** The target of a per-target unmount (the last word of its argv). */
function unmountTarget(a: Action): string {
  if (a.kind !== 'exec') throw new Error('an unmount runs a command');
  return a.argv.at(-1)!;
}

/**
 * From this many mounts on, a batch is unmounted by two processes side by
 * side: each unmount costs CPU (the kernel's, and with umount(8) its reading
 * of the mount table per target), so two halve the time on a machine with
 * two cores. Below it, one process is as fast.
 */
export const PARALLEL_UNMOUNT_MIN = 64;

/**
 * How a batch's targets (children first) are split among the
 * processes that run side by side: one group, or for a large batch two. The
 * first takes a third of the leaves (targets with no other target of the batch
 * below them); the second the other two thirds, then every parent, children
 * first. With twice the leaves to do, the second reaches the parents long
 * after the first has finished; should it not (a parent is busy while a child
 * is still mounted), that parent stays mounted and the executor unmounts what
 * is left one by one, as after any failed batch.
 */
export function unmountGroups(targets: string[]): string[][] {
  if (targets.length < PARALLEL_UNMOUNT_MIN) return [targets];
  const all = new Set(targets);
  const parents = new Set<string>();
  for (const t of all) for (let d = posix.dirname(t); d !== '/' && d !== '.'; d = posix.dirname(d)) if (all.has(d)) parents.add(d);
  const leaves = targets.filter((t) => !parents.has(t));
  const first = new Set(leaves.slice(0, Math.floor(leaves.length / 3)));
  if (!first.size) return [targets];
  return [[...first], targets.filter((t) => !first.has(t))];
}

/**
 * Consecutive unmounts become the platform's batch command (umountBatchArgv),
 * one per group of unmountGroups, order kept: children first. It reports each
 * target as it is unmounted: the watchdog follows that progress
 * (core/exec.ts), so a batch of thousands is limited per unmount, not as a
 * whole.
 */
export function unmountCommands(actions: Action[], platform: Platform): Action[] {
  return unmountGroups(actions.map(unmountTarget)).map((g) => ({ kind: 'exec', mutates: true, argv: platform.umountBatchArgv(g) }));
}

/** Cleanup with consecutive unmounts joined as the executor runs them: `beside` marks commands that run side by side with the next. */
export function joinCleanup<U extends { phase: string; action: Action; exact?: ExactDestroy }>(undos: U[], platform: Platform): { phase: U['phase']; action: Action; exact?: ExactDestroy; beside?: true }[] {
  const out: { phase: U['phase']; action: Action; exact?: ExactDestroy; beside?: true }[] = [];
  for (let i = 0; i < undos.length; ) {
    if (undos[i]!.phase !== 'umount') {
      out.push(undos[i++]!);
      continue;
    }
    let j = i;
    while (j < undos.length && undos[j]!.phase === 'umount') j++;
    const commands = unmountCommands(undos.slice(i, j).map((u) => u.action), platform);
    commands.forEach((action, k) => out.push(k < commands.length - 1 ? { phase: 'umount', action, beside: true } : { phase: 'umount', action }));
    i = j;
  }
  return out;
}
