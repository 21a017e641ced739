// The executor: applies the plan step by step, pushing the undo of every step
// onto a stack, runs the engine, and always unwinds the stack, whatever happened.
import { chmodSync, mkdirSync, rmdirSync } from 'node:fs';
import type { Runner } from '../core/exec.js';
import { CommandError } from '../core/errors.js';
import { retryWhileBusy } from '../core/retry.js';
import type { Reporter } from '../core/report.js';
import type { EngineCall, Outcome } from '../engine/engine.js';
import type { Action, Plan, Step } from '../plan/plan.js';
import type { Journal } from '../safety/journal.js';
import { display } from '../plan/display.js';
import { fault } from './fault.js';
import type { Interrupt } from './interrupt.js';
import { engineArgv } from './namespace.js';

export interface ApplyContext {
  runner: Runner;
  reporter: Reporter;
  interrupt: Interrupt;
  journal: Journal | null;
  /** KOPIATOMIC_* variables for the engine. */
  env: Record<string, string>;
  // ---- verify (issue 13)
  /** Runs after the engine and before cleanup, while the snapshots are still mounted and held. */
  afterBackup?: (result: ApplyResult) => Promise<void>;
  // ---- end verify
}

export interface ApplyResult {
  setupError: Error | null;
  /** null when the engine never ran. */
  backup: { outcome: Outcome; exitCodes: (number | null)[]; /* verify (issue 13): */ stdouts?: string[] } | null;
  cleanupFailures: string[];
  createtxg: Record<string, string[]>;
  creation: Date | null;
}

async function perform(a: Action, runner: Runner): Promise<{ stdout: string }> {
  switch (a.kind) {
    case 'exec':
      return runner.run(a.argv, { mutates: a.mutates });
    case 'mkdir':
      mkdirSync(a.path, { mode: a.mode });
      chmodSync(a.path, a.mode); // the umask must not loosen it
      return { stdout: '' };
    case 'rmdir':
      rmdirSync(a.path);
      return { stdout: '' };
  }
}

function describeError(e: unknown): string {
  if (e instanceof CommandError) return e.message;
  return (e as Error).message;
}

export async function applyPlan(plan: Plan, ctx: ApplyContext): Promise<ApplyResult> {
  const { runner, reporter, interrupt, journal } = ctx;
  const undo: { step: Step; seq: number }[] = [];
  const result: ApplyResult = { setupError: null, backup: null, cleanupFailures: [], createtxg: {}, creation: null };

  // ---- setup
  try {
    for (const step of plan.steps) {
      if (interrupt.signal) throw new Error(`interrupted by ${interrupt.signal} during setup`);
      // Journal first: if we die between the two, recovery finds the entry
      // and checks whether there is anything to undo.
      const seq = step.undo && journal ? journal.willDo(step.undo.phase, step.undo.action) : 0;
      if (step.undo) undo.push({ step, seq });
      reporter.event('step', { phase: step.phase, command: display(step.do) });
      if (step.do.kind !== 'exec') reporter.verbose(`${step.phase}: ${display(step.do)}`); // the runner logs commands
      const out = await perform(step.do, runner);
      if (step.phase === 'inspect') readSnapshotFacts(out.stdout, result);
      if (step.phase === 'snapshot') {
        const pool = String(step.detail?.['pool']);
        reporter.info(`snapshot of ${pool}: ${plan.pools.find((p) => p.pool === pool)?.datasets.length ?? 0} datasets in one transaction`);
      }
      fault(step.phase, reporter);
    }
  } catch (e) {
    result.setupError = e as Error;
    reporter.error(`setup failed: ${describeError(e)}`);
  }

  // ---- backup
  if (!result.setupError && !interrupt.signal) {
    const time = result.creation ?? new Date();
    const calls = plan.engine.calls({ ...plan.engineContext, time, probe: plan.probe });
    const exitCodes: (number | null)[] = [];
    const stdouts: string[] = [];
    let outcome: Outcome = 'ok';
    for (const call of calls) {
      if (interrupt.signal) break;
      const o = await runEngine(call, plan, ctx);
      exitCodes.push(o.code);
      stdouts.push(o.stdout);
      if (o.outcome === 'failed' || (o.outcome === 'partial' && outcome === 'ok')) outcome = o.outcome;
    }
    if (interrupt.signal && outcome === 'ok') outcome = 'failed';
    result.backup = { outcome, exitCodes, stdouts };
  }

  // ---- verify (issue 13): before cleanup, so the frozen tree is still there
  if (ctx.afterBackup && result.backup) {
    try {
      await ctx.afterBackup(result);
    } catch (e) {
      reporter.error(`verification: ${describeError(e)}`);
    }
  }
  // ---- end verify

  // ---- cleanup: always, newest first
  const blocked: string[] = []; // mount points whose unmount failed
  while (undo.length) {
    const { step, seq } = undo.pop()!;
    const u = step.undo!;
    const a = u.action;
    if (a.kind === 'rmdir' && blocked.some((b) => b === a.path || b.startsWith(a.path + '/'))) {
      result.cleanupFailures.push(`left ${a.path} in place: something below it is still mounted`);
      reporter.warn(`leaving ${a.path} in place: something below it is still mounted`);
      continue;
    }
    reporter.event('step', { phase: u.phase, command: display(a) });
    if (a.kind !== 'exec') reporter.verbose(`${u.phase}: ${display(a)}`);
    try {
      // A mount can stay busy for a moment after the engine exits.
      const retry = u.phase === 'umount' || u.phase === 'destroy';
      await (retry ? retryWhileBusy(() => perform(a, runner), 5, 200) : perform(a, runner));
      journal?.undone(seq);
    } catch (e) {
      if (u.phase === 'umount') blocked.push(String(step.detail?.['target']));
      result.cleanupFailures.push(`${u.phase}: ${describeError(e)}`);
      reporter.error(`cleanup: ${u.phase} failed: ${describeError(e)}`);
    }
    fault(u.phase, reporter);
  }
  return result;
}

function readSnapshotFacts(stdout: string, result: ApplyResult): void {
  for (const line of stdout.split('\n')) {
    const [name, creation, txg] = line.split('\t');
    if (!name || !creation || !txg) continue;
    const pool = name.split(/[/@]/)[0]!;
    (result.createtxg[pool] ??= []).push(txg);
    const t = new Date(Number(creation) * 1000);
    if (!result.creation || t < result.creation) result.creation = t;
  }
}

async function runEngine(call: EngineCall, plan: Plan, ctx: ApplyContext): Promise<{ code: number | null; outcome: Outcome; stdout: string }> {
  const { runner, reporter, interrupt } = ctx;
  const argv = engineArgv(call, plan);
  reporter.event('step', { phase: 'backup', command: display({ kind: 'exec', argv, mutates: true }) });
  reporter.event('backup-start', { argv });
  reporter.info(`backing up with ${plan.engine.name}: ${display({ kind: 'exec', argv, mutates: true })}`);
  const started = Date.now();
  const p = runner.live(argv, {
    env: { ...process.env, ...ctx.env, ...call.env },
    stdoutToStderr: reporter.json,
    captureStdout: plan.engine.captureStdout,
  });
  interrupt.setChild(p.child);
  fault('backup', reporter);
  const { code, signal, stdout } = await p.done;
  interrupt.setChild(null);
  const outcome = signal ? 'failed' : plan.engine.outcome(code, stdout);
  reporter.event('backup-end', { exitCode: code, signal, outcome, ms: Date.now() - started });
  if (outcome !== 'ok') reporter.error(`${plan.engine.name} ${signal ? `was killed by ${signal}` : `exited with ${code}`}: backup ${outcome === 'partial' ? 'is incomplete' : 'failed'}`);
  else reporter.info(`backup finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { code, outcome, stdout };
}
