// The executor's side of batch mounting (plan/mounts.ts): check a level's
// targets, journal every mount's undo in one write, mount the level with one
// process (mount(8) where perl is missing), and learn from the mount table
// what a failed batch did mount.
// Unmounting is one process for every target (two side by side for a large
// batch), children first; when it fails (a busy mount), the rest is unmounted
// one by one, so the busy one is named.
import { lstatSync, realpathSync, rmSync } from 'node:fs';
import { posix } from 'node:path';
import { CommandError, errorMessage, SetupError } from '../core/errors.js';
import { isWithin } from '../core/paths.js';
import { retryWhileBusy } from '../core/retry.js';
import { platformFor } from '../platform/detect.js';
import { CARRIER_REFUSED } from '../platform/syscall-batch.js';
import { display, displayBrief } from '../plan/display.js';
import { unmountGroups } from '../plan/mounts.js';
import type { Plan, Step } from '../plan/types.js';
import { requireRootPath } from '../safety/root-path.js';
import type { ApplyContext, UndoEntry } from './context.js';
import { fault } from './fault.js';
import { mountsAt, sameSnapshotMount } from './mount-check.js';

/**
 * A mount target must be a real folder at exactly this path: every component
 * from the mount root down is a folder, not a symlink, and is either inside a
 * snapshot mounted by this run (read-only) or ours alone (owned by us, not
 * writable by group or others). Checked after the enclosing level is mounted,
 * so nobody can change it between the check and the mount.
 *
 * `checked` carries the folders already proven within one level: nothing is
 * mounted between two checks of a level, and a proven folder is one no other
 * user can change, so its verdict holds for the level's other targets (100
 * targets below one folder cost 100 lstat calls, not 400).
 */
export function checkTarget(root: string, target: string, mounted: ReadonlySet<string>, checked: Set<string> = new Set()): void {
  const refuse = (why: string) => new SetupError(`refusing to mount a snapshot at ${target}: ${why}`);
  if (!isWithin(target, root)) throw refuse(`it is not inside the mount root ${root}`);
  if (posix.normalize(target) !== target) throw refuse('it is not a plain absolute path');
  const inSnapshot = (p: string): boolean => {
    for (let d = p; ; d = posix.dirname(d)) {
      if (mounted.has(d)) return true;
      if (d === root || d === '/') return false;
    }
  };
  const uid = process.getuid?.() ?? 0;
  const chain: string[] = [];
  for (let d = target; !checked.has(d); d = posix.dirname(d)) {
    chain.unshift(d);
    if (d === root || d === '/') break;
  }
  // The root itself may be reached through a symlink above it: the first time, the whole path is resolved.
  if (chain[0] === root || chain[0] === '/') {
    const real = realpathSync.native(root);
    if (real !== root) throw refuse(`it resolves to ${real}${target.slice(root.length)}`);
  }
  for (const c of chain) {
    let st;
    try {
      st = lstatSync(c);
    } catch (e) {
      throw refuse(`${c} is missing (${(e as NodeJS.ErrnoException).code ?? errorMessage(e)})`);
    }
    if (st.isSymbolicLink()) throw refuse(`${c} is a symbolic link (the tree must not lead elsewhere)`);
    if (!st.isDirectory()) throw refuse(`${c} is not a directory`);
    if (!inSnapshot(c) && (st.uid !== uid || (st.mode & 0o022) !== 0)) throw refuse(`${c} could be changed by another user (uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)})`);
    checked.add(c);
  }
}

/** Targets of the mounts this run has made so far. */
function mountedTargets(undo: UndoEntry[]): Set<string> {
  return new Set(undo.filter((u) => u.undo.phase === 'umount').map((u) => String(u.step.detail?.['target'])));
}

/**
 * Which of `entries` are still mounted as this run mounted them: the target
 * in the mount table with this run's snapshot as its source. A target where
 * only something else is mounted now is not ours to unmount. null when the
 * table cannot be read (then every entry is treated as still mounted).
 */
async function stillMounted(entries: UndoEntry[], plan: Plan, ctx: ApplyContext): Promise<Set<UndoEntry> | null> {
  let table;
  try {
    table = await (ctx.platform ?? platformFor(plan.engineContext.platform)).readMounts(ctx.runner);
  } catch {
    return null; // unknown: every undo is kept
  }
  const at = mountsAt(table);
  const detail = (e: UndoEntry, k: string) => String(e.step.detail?.[k]);
  return new Set(entries.filter((e) => (at.get(detail(e, 'target')) ?? []).some((m) => sameSnapshotMount(m, detail(e, 'source'), plan.snapshot))));
}

/** Mounts one level; pushes the undo of every mount that happened. Throws on failure. */
export async function mountBatch(step: Step, plan: Plan, ctx: ApplyContext, undo: UndoEntry[]): Promise<void> {
  const { reporter, journal } = ctx;
  const b = step.batch!;
  const a = step.do;
  if (a.kind !== 'exec') throw new Error('a batch mount runs a command');
  try {
    const mounted = mountedTargets(undo);
    // The mount root's ancestors once per level (no one else can change them
    // then); below it each target needs only its own chain of lstat calls.
    requireRootPath(b.root, { what: 'mount root', noFinalLink: true });
    const checked = new Set<string>();
    for (const m of b.mounts) checkTarget(b.root, m.target, mounted, checked);

    // source: what the mount table shows for it, so an undo (or recovery) unmounts only this mount.
    const entries: UndoEntry[] = b.mounts.map((m) => {
      const detail = { target: m.target, dataset: m.dataset, source: m.source };
      return { step: { phase: 'mount', do: a, undo: { phase: 'umount', action: m.undo }, detail }, seq: 0, undo: { phase: 'umount', action: m.undo } };
    });
    // Every undo is on disk (one fsync) before the mount process starts.
    const seqs = journal ? journal.willDoMany(entries.map((e) => ({ phase: 'umount', action: e.undo.action, detail: e.step.detail }))) : [];
    entries.forEach((e, i) => (e.seq = seqs[i] ?? 0));
    let failure: unknown = null;
    try {
      const p = runBatch(a.argv, b.fallback, ctx);
      // The events are written while the process runs, not before it starts
      // (shortened: the exec event has the command whole).
      const command = displayBrief(a);
      for (const m of b.mounts) reporter.event('step', { phase: 'mount', command, target: m.target, dataset: m.dataset });
      fault('mount-batch', reporter); // test only: dies while the batch runs
      await p;
    } catch (e) {
      failure = e;
    }
    if (!failure) {
      undo.push(...entries);
      return;
    }
    // What did the failed batch mount? Those are undone at cleanup; the rest never happened.
    const present = await stillMounted(entries, plan, ctx);
    const never: number[] = [];
    for (const e of entries) {
      if (!present || present.has(e)) undo.push(e);
      else never.push(e.seq);
    }
    if (journal) journal.undoneMany(never.filter((s) => s > 0));
    throw failure;
  } finally {
    const table = step.batch && plan.steps.find((s) => s.do.kind === 'write');
    if (table && table.do.kind === 'write') rmSync(table.do.path, { force: true });
  }
}

/**
 * One batch process: the platform's command, or `fallback` (mount(8),
 * umount(8)) where its program is not installed (perl, on a Linux without
 * it) or refused to run here before any call (CARRIER_REFUSED: another ABI's
 * perl, no /proc). Its time limit follows the targets it reports, not the
 * whole batch.
 */
async function runBatch(argv: string[], fallback: string[], ctx: ApplyContext): Promise<void> {
  try {
    await ctx.runner.run(argv, { mutates: true, progress: true });
  } catch (e) {
    const unusable = e instanceof CommandError && (e.reason === 'program-missing' || e.code === CARRIER_REFUSED);
    if (!unusable || fallback[0] === argv[0]) throw e;
    ctx.reporter.verbose(`${argv[0]} ${e.reason === 'program-missing' ? 'is not installed' : `cannot run here (${e.stderr.trim()})`}: running ${fallback[0]} instead`);
    await ctx.runner.run(fallback, { mutates: true, progress: true });
  }
}

export interface UnmountResult {
  /** Targets still mounted: their folders must stay. */
  blocked: string[];
  failures: string[];
}

/**
 * Unmounts `entries` (children first) with one process, two side by side for
 * a large batch; one by one after a failure.
 */
export async function unmountBatch(entries: UndoEntry[], plan: Plan, ctx: ApplyContext): Promise<UnmountResult> {
  const { runner, reporter, journal } = ctx;
  const out: UnmountResult = { blocked: [], failures: [] };
  const target = (e: UndoEntry) => String(e.step.detail?.['target']);
  const platform = ctx.platform ?? platformFor(plan.engineContext.platform);
  if (entries.some((e) => e.undo.action.kind !== 'exec')) return out;
  const groups = unmountGroups(entries.map(target));
  const argvs = groups.map((g) => platform.umountBatchArgv(g));
  const runs = groups.map((g, i) => runBatch(argvs[i]!, platform.umountBatchFallbackArgv(g), ctx));
  // One step event per unmount, naming its batch command (shortened: the exec
  // event has it whole), written while the processes run.
  const briefs = argvs.map((argv) => displayBrief({ kind: 'exec', mutates: true, argv }));
  const groupOf = new Map(groups.flatMap((g, i) => g.map((t) => [t, i] as const)));
  for (const e of entries) reporter.event('step', { phase: 'umount', command: briefs[groupOf.get(target(e)) ?? 0], target: target(e) });
  const failed = (await Promise.allSettled(runs)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  // A batch is believed by the mount table, not by its exit code: what is
  // still mounted is unmounted one by one below, and only what is gone is
  // marked undone in the journal.
  const present = runner.dryRun ? null : await stillMounted(entries, plan, ctx);
  const left = present ? entries.filter((e) => present.has(e)) : [];
  if (!failed && !left.length) {
    journal?.undoneMany(entries.map((e) => e.seq).filter((s) => s > 0));
    fault('umount', reporter);
    return out;
  }
  reporter.verbose(failed ? `batch unmount failed (${errorMessage(failed.reason)}); unmounting the rest one by one` : `batch unmount left ${left.length} mounted; unmounting them one by one`);
  const gone: number[] = [];
  for (const e of entries) {
    if (present && !present.has(e)) {
      gone.push(e.seq);
      continue;
    }
    const a = e.undo.action;
    reporter.event('step', { phase: 'umount', command: display(a), target: target(e) });
    try {
      // A mount can stay busy for a moment after the engine exits.
      await retryWhileBusy(() => (a.kind === 'exec' ? runner.run(a.argv, { mutates: true }) : Promise.resolve(null)), 5, 200);
      journal?.undone(e.seq);
    } catch (err) {
      out.blocked.push(target(e));
      const msg = errorMessage(err);
      out.failures.push(`umount: ${msg}`);
      reporter.error(`cleanup: umount failed: ${msg}`);
    }
  }
  journal?.undoneMany(gone.filter((s) => s > 0));
  fault('umount', reporter);
  return out;
}
