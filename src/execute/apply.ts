// The executor: applies the plan step by step, pushing the undo of every step
// that happened onto a stack, runs the engine, and always unwinds the stack,
// whatever happened. A step that failed is undone only as far as a check shows
// it happened (a failed `zfs snapshot` made nothing; a mkdir that failed,
// e.g. EEXIST because someone else made the folder, made nothing of ours).
import { chmodSync, closeSync, constants, fchmodSync, mkdirSync, openSync, rmdirSync, writeSync } from 'node:fs';
import type { Runner } from '../core/exec.js';
import { CommandError, CommandTimeoutError, errorMessage } from '../core/errors.js';
import { isWithin } from '../core/paths.js';
import { retryWhileBusy } from '../core/retry.js';
import { fillTime, type Outcome } from '../engine/engine.js';
import { besideUnmounts } from '../plan/plan.js';
import type { Action, BackupCall, Plan, Step } from '../plan/types.js';
import { display } from '../plan/display.js';
import { existingSnapshots, heldByUs } from '../discover/snapshots.js';
import { destroyedAll, fillIdentity, type ExactDestroy } from '../zfs/destroy-program.js';
import { destroyExact } from '../safety/destroy-exact.js';
import { HOLD_TAG } from '../zfs/naming.js';
import { platformFor } from '../platform/detect.js';
import { fault } from './fault.js';
import { lostMounts, sameSnapshotMount } from './mount-check.js';
import { worseOutcome, type ApplyContext, type ApplyResult, type RepositoryOutcome, type UndoEntry } from './context.js';
import { mountBatch, unmountBatch } from './mount-phase.js';
import { engineArgv, writeNamespaceJob } from './namespace.js';
import { zfsRelease } from '../zfs/zfs.js';
import { IDENTITY_PROGRAM_CAREFUL, parseIdentities } from '../zfs/identity-program.js';
import { poolOf } from '../zfs/list.js';


type Undo = NonNullable<Step['undo']>;


async function perform(a: Action, runner: Runner): Promise<{ stdout: string }> {
  switch (a.kind) {
    case 'exec':
      return runner.run(a.argv, a.input === undefined ? { mutates: a.mutates } : { mutates: a.mutates, input: a.input });
    case 'mkdir':
      mkdirSync(a.path, { mode: a.mode });
      chmodSync(a.path, a.mode); // the umask must not loosen it
      return { stdout: '' };
    case 'rmdir':
      rmdirSync(a.path);
      return { stdout: '' };
    case 'write': {
      // A mount table in our state folder (proven by the lock): created or
      // truncated, ours only, never written through a symlink.
      const fd = openSync(a.path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, a.mode);
      try {
        fchmodSync(fd, a.mode);
        writeSync(fd, a.content);
      } finally {
        closeSync(fd);
      }
      return { stdout: '' };
    }
  }
}

export async function applyPlan(plan: Plan, ctx: ApplyContext): Promise<ApplyResult> {
  const { runner, reporter, interrupt, journal } = ctx;
  const undo: UndoEntry[] = [];
  const result: ApplyResult = { setupError: null, backup: null, cleanupFailures: [], createtxg: {}, creation: null, durations: {}, ids: {} };
  const ids = result.ids!;
  const durations = result.durations!;
  let mark = Date.now();
  const took = (phase: keyof typeof durations) => {
    durations[phase] = (Date.now() - mark) / 1000;
    mark = Date.now();
  };

  // Setup
  const doStep = async (step: Step): Promise<void> => {
    // Journal first: if we die between the two, recovery finds the entry
    // and checks whether there is anything to undo.
    const seq = step.undo && journal ? journal.willDo(step.undo.phase, step.undo.action, step.detail) : 0;
    reporter.event('step', { phase: step.phase, command: display(step.do) });
    if (step.do.kind !== 'exec') reporter.verbose(`${step.phase}: ${display(step.do)}`); // the runner logs commands
    let out: { stdout: string };
    try {
      out = step.phase === 'inspect' ? await inspect(step.do, runner) : await perform(step.do, runner);
    } catch (e) {
      const happened = step.undo ? await whatHappened(step, e, plan, ctx) : null;
      if (happened) undo.push({ step, seq, undo: happened });
      else if (seq) journal?.undone(seq); // nothing to undo: not a leftover
      throw e;
    }
    if (step.undo) undo.push({ step, seq, undo: step.undo });
    if (step.phase === 'inspect') {
      const read = readSnapshotFacts(out.stdout, snapshotsOf(step), result);
      // The journal learns each snapshot's identity, so that recovery after a
      // crash follows them (and leaves alone a copy received under our name).
      for (const e of undo) {
        if (e.undo.phase !== 'destroy' || !e.seq) continue;
        const mine = Object.fromEntries(snapshotsOf(e.step).flatMap((n) => (read.has(n) ? [[n, ids[n]]] : [])));
        if (Object.keys(mine).length) journal?.addDetail(e.seq, { ids: mine });
      }
      // As `zfs list` of a name that is not there fails, so does this step.
      const missing = snapshotsOf(step).filter((n) => !read.has(n));
      if (missing.length) throw new Error(`snapshot ${missing[0]} is not there right after it was made${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`);
    }
    if (step.phase === 'snapshot') {
      const pool = String(step.detail?.['pool']);
      reporter.info(`snapshot of ${pool}: ${plan.pools.find((p) => p.pool === pool)?.datasets.length ?? 0} datasets in one transaction`);
    }
    fault(step.phase, reporter);
  };
  // Steps that run beside the rest of setup (the hold, the identity
  // program): started in turn, waited for before the backup, and always
  // settled before cleanup, so their undo is on the stack.
  const besideSteps: Promise<void>[] = [];
  const besideErrors: unknown[] = []; // setup stops at the next step once one has failed
  try {
    for (const step of plan.steps) {
      if (interrupt.signal) throw new Error(`interrupted by ${interrupt.signal} during setup`);
      if (besideErrors.length) throw besideErrors[0];
      // Batch mount (execute/mount-phase.ts): checks, journals and pushes its own undos
      if (step.batch) {
        await mountBatch(step, plan, ctx, undo);
        fault(step.phase, reporter);
        continue;
      }
      if (step.beside) {
        const p = doStep(step);
        p.catch((e: unknown) => besideErrors.push(e)); // and awaited below
        besideSteps.push(p);
        continue;
      }
      await doStep(step);
    }
    for (const p of besideSteps) await p;
  } catch (e) {
    await Promise.allSettled(besideSteps);
    result.setupError = e as Error;
    reporter.error(`setup failed: ${errorMessage(e)}`);
  }

  took('setup');
  // Backup: each repository in turn, on the same frozen tree with the same time.
  if (!result.setupError && !interrupt.signal) {
    const time = result.creation ?? new Date();
    const repositories: RepositoryOutcome[] = [];
    let lostAll: string[] = [];
    for (const repo of plan.repositories) {
      const r: RepositoryOutcome = { name: repo.name, outcome: 'ok', exitCodes: [], stdouts: [] };
      repositories.push(r);
      if (interrupt.signal || lostAll.length) {
        // Not started: after a signal, or once the tree is known to be broken.
        r.outcome = 'failed';
        r.error = interrupt.signal ? `not started: interrupted by ${interrupt.signal}` : 'not started: a mount of this run disappeared';
        continue;
      }
      if (plan.repositories.length > 1 || repo.configured) reporter.info(`repository ${repo.name}`);
      reporter.event('repository-start', { repository: repo.name });
      for (const c of repo.calls) {
        if (interrupt.signal) break;
        const o = await runEngine({ ...c, argv: fillTime(c.argv, time), env: { ...repo.env, ...c.env } }, plan, ctx);
        r.exitCodes.push(o.code);
        r.stdouts.push(o.stdout);
        r.outcome = worseOutcome(r.outcome, o.outcome);
      }
      if (interrupt.signal) r.outcome = 'failed';
      // The engine saw the frozen tree only if every mount was there all along.
      const lost = await lostMounts(undo, plan, ctx);
      if (lost.length) {
        r.outcome = 'failed';
        lostAll = lost;
        for (const l of lost) reporter.error(`a mount of this run disappeared during the backup: ${l}; the backup failed`);
      }
      reporter.event('repository-end', { repository: repo.name, outcome: r.outcome, exitCodes: r.exitCodes });
    }
    if (lostAll.length) result.lostMounts = lostAll;
    // The run's backup is as good as its worst repository's; the verification reads the first one's.
    const outcome = repositories.reduce<Outcome>((w, r) => worseOutcome(w, r.outcome), 'ok');
    result.backup = { outcome, exitCodes: repositories.flatMap((r) => r.exitCodes), stdouts: repositories[0]?.stdouts ?? [], repositories };
  }

  if (result.backup) took('backup');
  // Verify: before cleanup, so the frozen tree is still there
  if (ctx.afterBackup && result.backup) {
    try {
      await ctx.afterBackup(result);
    } catch (e) {
      reporter.error(`verification: ${errorMessage(e)}`);
    }
  }

  if (ctx.afterBackup && result.backup) took('verify');
  mark = Date.now();
  // Cleanup: always, newest first
  const blocked: string[] = []; // mount points whose unmount failed
  const releaseFailed: { seq: number; message: string }[] = []; // moot once every destroy is proven
  let destroysProven = true;
  const undoOne = async ({ step, seq, undo: u }: UndoEntry): Promise<void> => {
    const a = u.phase === 'destroy' && u.action.kind === 'exec' ? { ...u.action, argv: fillIdentity(u.action.argv, ids) } : u.action;
    if (a.kind === 'rmdir' && blocked.some((b) => isWithin(b, a.path))) {
      result.cleanupFailures.push(`left ${a.path} in place: something below it is still mounted`);
      reporter.warn(`leaving ${a.path} in place: something below it is still mounted`);
      return;
    }
    reporter.event('step', { phase: u.phase, command: display(a) });
    if (a.kind !== 'exec') reporter.verbose(`${u.phase}: ${display(a)}`);
    try {
      if (u.exact) {
        // The channel program first (one transaction); whatever stops it, the
        // exact destroy follows each snapshot by its identity.
        const count = u.exact.snapshots.length;
        const ok = await perform(a, runner).then(
          (out) => destroyedAll(out.stdout, count) || exactly(u.exact!, seq, new Error(`the destroy program exited 0 without saying it destroyed all ${count}: ${JSON.stringify(out.stdout.slice(0, 200))}`)),
          (e: unknown) => exactly(u.exact!, seq, e),
        );
        if (ok) journal?.undone(seq); // the program saw each name gone and said so (zfs/destroy-program.ts)
      } else {
        // A snapshot can stay busy for a moment after its unmount. (Every
        // unmount goes through unmountBatch below, never through here.)
        await (u.phase === 'destroy' ? retryWhileBusy(() => perform(a, runner), 5, 200) : perform(a, runner));
        journal?.undone(seq);
      }
    } catch (e) {
      if (a.kind === 'rmdir' && (e as NodeJS.ErrnoException).code === 'ENOENT') {
        journal?.undone(seq); // already gone
      } else if (u.phase === 'release') {
        releaseFailed.push({ seq, message: `${u.phase}: ${errorMessage(e)}` });
        reporter.warn(`cleanup: ${u.phase} failed: ${errorMessage(e)} (the destroy releases each snapshot it finds by its exact name)`);
      } else {
        if (u.phase === 'destroy') destroysProven = false;
        result.cleanupFailures.push(`${u.phase}: ${errorMessage(e)}`);
        reporter.error(`cleanup: ${u.phase} failed: ${errorMessage(e)}`);
      }
    }
    fault(u.phase, reporter);
  };
  /** The exact destroy after the program failed; false when something is left (a leftover: reported, kept in the journal). */
  const exactly = async (x: ExactDestroy, seq: number, e: unknown): Promise<false> => {
    reporter.verbose(`destroy: ${errorMessage(e)}; destroying each snapshot found by its identity, by its exact name`);
    reporter.event('step', { phase: 'destroy', command: `exact destroy of ${x.snapshots.length} snapshot(s) in ${x.pool}` });
    const r = await destroyExact(runner, x.snapshots.map((name) => ({ name, id: ids[name] ?? null })), { run: x.run, owner: x.owner });
    if (!r.leftovers.length) journal?.undone(seq);
    else destroysProven = false;
    for (const l of r.leftovers) {
      result.cleanupFailures.push(`${l.what}: ${l.reason}`);
      reporter.error(`cleanup: could not destroy ${l.what}: ${l.reason}`);
    }
    return false;
  };
  // The releases run beside the first unmounts (plan.ts besideUnmounts) and
  // are awaited before anything after those unmounts runs. They start just
  // before the unmount processes: at a few hundred snapshots the release is
  // the longer of the two (each spawn costs its successor some 20 ms under
  // emulation), at thousands the unmounts are, and one spawn is nothing there.
  const besideUndos = besideUnmounts([...undo].reverse(), (e) => e.undo.phase);
  for (const e of besideUndos) undo.splice(undo.indexOf(e), 1);
  // Started once; awaiting them again later is harmless (undoOne never rejects).
  const besideUndoing: Promise<void>[] = [];
  const startBeside = () => {
    if (!besideUndoing.length) besideUndoing.push(...besideUndos.map(undoOne));
  };
  while (undo.length) {
    // Batch unmount (execute/mount-phase.ts): every consecutive unmount in one process
    if (undo.at(-1)!.undo.phase === 'umount') {
      const batch: typeof undo = [];
      while (undo.length && undo.at(-1)!.undo.phase === 'umount') batch.push(undo.pop()!);
      startBeside();
      const unmounting = unmountBatch(batch, plan, ctx);
      fault('umount-batch', reporter); // test only: dies while the batch and the release run
      const r = await unmounting;
      blocked.push(...r.blocked);
      result.cleanupFailures.push(...r.failures);
      await Promise.all(besideUndoing);
      continue;
    }
    await undoOne(undo.pop()!);
  }
  startBeside();
  await Promise.all(besideUndoing);
  // Every destroy proven by identity: no snapshot of ours is left, so no hold either.
  for (const f of releaseFailed) {
    if (destroysProven && plan.steps.some((s) => s.undo?.exact)) journal?.undone(f.seq);
    else result.cleanupFailures.push(f.message);
  }
  took('teardown');
  return result;
}

function snapshotsOf(step: Step): string[] {
  const s = step.detail?.['snapshots'];
  return Array.isArray(s) ? (s as string[]) : [];
}

/** After a step failed: the part of it that really happened, as an undo, or null when nothing did. */
async function whatHappened(step: Step, e: unknown, plan: Plan, ctx: ApplyContext): Promise<Undo | null> {
  const full = step.undo!;
  try {
    switch (step.phase) {
      case 'mkdir':
        // mkdir failed (the parent is missing, or the folder exists: someone
        // else's, never removed); a failed chmod after it leaves our folder.
        return (e as NodeJS.ErrnoException).syscall === 'chmod' ? full : null;
      case 'snapshot':
        return (await existingSnapshots(ctx.runner, snapshotsOf(step))).length ? full : null;
      case 'hold': {
        const held = await heldByUs(ctx.runner, await existingSnapshots(ctx.runner, snapshotsOf(step)));
        return held.length ? { phase: 'release', action: { kind: 'exec', mutates: true, argv: zfsRelease(HOLD_TAG, held) } } : null;
      }
      case 'mount':
        return (await stillMounted(step, plan, ctx)) ? full : null;
      default:
        return full;
    }
  } catch {
    return full; // cannot tell: undo it, as if it happened
  }
}

/** Whether this mount step's snapshot is mounted at its target now. */
async function stillMounted(step: Step, plan: Plan, ctx: ApplyContext): Promise<boolean> {
  const target = step.detail?.['target'];
  const source = step.detail?.['source'];
  try {
    const table = await (ctx.platform ?? platformFor(plan.engineContext.platform)).readMounts(ctx.runner);
    return table.some((m) => m.target === target && (source === undefined || sameSnapshotMount(m, String(source), plan.snapshot)));
  } catch {
    return true; // cannot tell: treat it as still there
  }
}

/**
 * The identity program; should it stop (a name that is not there: it read
 * nothing else and changed nothing), the careful one, which answers for the
 * names that are there. A command the watchdog killed is not run again.
 */
async function inspect(a: Action, runner: Runner): Promise<{ stdout: string }> {
  try {
    return await perform(a, runner);
  } catch (e) {
    if (a.kind !== 'exec' || !(e instanceof CommandError) || e instanceof CommandTimeoutError) throw e;
    return perform({ ...a, input: IDENTITY_PROGRAM_CAREFUL }, runner);
  }
}

/** Records what one pool's identity program read (apply.ts's result); returns the names it found. */
function readSnapshotFacts(stdout: string, asked: string[], result: ApplyResult): Set<string> {
  const facts = parseIdentities(stdout, asked);
  for (const [name, f] of facts) {
    (result.ids ??= {})[name] = { guid: f.guid, txg: f.txg };
    const pool = poolOf(name);
    (result.createtxg[pool] ??= []).push(f.txg);
    const t = new Date(f.creation * 1000);
    if (!result.creation || t < result.creation) result.creation = t;
  }
  return new Set(facts.keys());
}

async function runEngine(call: BackupCall, plan: Plan, ctx: ApplyContext): Promise<{ code: number | null; outcome: Outcome; stdout: string }> {
  const { runner, reporter, interrupt } = ctx;
  const argv = engineArgv(call, plan);
  reporter.event('step', { phase: 'backup', command: display({ kind: 'exec', argv, mutates: true }) });
  reporter.event('backup-start', { argv });
  reporter.info(`backing up with ${plan.engine.name}: ${display({ kind: 'exec', argv, mutates: true })}`);
  const started = Date.now();
  const env = { ...process.env, ...ctx.env, ...call.env };
  const dropJob = writeNamespaceJob(call, plan, reporter, env);
  const p = runner.live(argv, {
    env,
    stdoutToStderr: reporter.json,
    captureStdout: plan.engine.captureStdout,
  });
  interrupt.setChild(p.child);
  fault('backup', reporter);
  const { code, signal, stdout } = await p.done;
  interrupt.setChild(null);
  dropJob();
  const outcome = signal ? 'failed' : plan.engine.outcome(code, stdout);
  reporter.event('backup-end', { exitCode: code, signal, outcome, ms: Date.now() - started });
  if (outcome !== 'ok') reporter.error(`${plan.engine.name} ${signal ? `was killed by ${signal}` : `exited with ${code}`}: backup ${outcome === 'partial' ? 'is incomplete' : 'failed'}`);
  else reporter.info(`backup finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { code, outcome, stdout };
}
