// The run, start to end: parse, lock, recover, discover, plan, then either
// print the plan (-n) or apply it, and always report one exit status.
import { lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { SystemRunner } from '../core/exec.js';
import { CommandError, LockedError, SetupError, UsageError } from '../core/errors.js';
import { EXIT, interruptedCode, type Status } from '../core/exit-codes.js';
import { Reporter } from '../core/report.js';
import { discover } from '../discover/inventory.js';
import { toTarget } from '../discover/targets.js';
import { applyPlan } from '../execute/apply.js';
import { runHook } from '../execute/hooks.js';
import { Interrupt } from '../execute/interrupt.js';
import { prepareNamespace } from '../execute/namespace.js';
import { runStatus } from '../execute/status.js';
import { platformFor } from '../platform/detect.js';
import type { Platform } from '../platform/platform.js';
import { newRunId, ownerOf, snapshotNameFor } from '../plan/naming.js';
import { buildPlan, type Plan } from '../plan/plan.js';
import { select } from '../plan/select.js';
import { Journal, journalPath } from '../safety/journal.js';
import { Lock } from '../safety/lock.js';
import { recover } from '../safety/recover.js';
import { parseCommandLine, type Flavour, type Options } from './args.js';
import { printPlan } from './print-plan.js';
import { helpText, usageLine } from './usage.js';
import { which } from './which.js';
import { verifyStep } from '../verify/step.js'; // verify (issue 13)
import { withVerify } from '../verify/outcome.js'; // verify (issue 13)
import { verifyPlanLines } from '../verify/plan.js'; // verify (issue 13)

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[], flavour: Flavour): Promise<number> {
  let opts: Options;
  try {
    opts = parseCommandLine(argv, flavour);
  } catch (e) {
    process.stderr.write(`${flavour.name}: ${(e as Error).message}\n${usageLine(flavour)}\nTry '${flavour.name} -h' for help.\n`);
    return EXIT.usage;
  }
  if (opts.mode === 'help') {
    process.stdout.write(helpText(flavour) + '\n');
    return EXIT.ok;
  }
  if (opts.mode === 'version') {
    process.stdout.write(`${flavour.name} ${version()}\n`);
    return EXIT.ok;
  }
  const reporter = new Reporter({ json: opts.json, verbosity: opts.verbosity, name: flavour.name });
  const interrupt = new Interrupt(reporter);
  interrupt.install();
  try {
    const platform = platformFor();
    const runner = new SystemRunner(reporter, opts.dryRun);
    const code = opts.mode === 'cleanup' ? await cleanupCommand(opts, platform, runner, reporter) : await backup(opts, flavour, platform, runner, reporter, interrupt);
    // For the benchmark: processes started per program, and our peak RSS.
    if (process.env['KOPIATOMIC_COUNT_PROCESSES']) reporter.event('process-counts', { counts: runner.counts, maxRssKiB: process.resourceUsage().maxRSS });
    return code;
  } catch (e) {
    return fail(e, flavour, reporter);
  } finally {
    interrupt.uninstall();
  }
}

function fail(e: unknown, flavour: Flavour, reporter: Reporter, override?: { status: Status; code: number }): number {
  const err = e as Error & { exitCode?: number };
  const code = override?.code ?? (e instanceof UsageError || e instanceof SetupError || e instanceof LockedError ? err.exitCode! : e instanceof CommandError ? EXIT.setupFailed : EXIT.internal);
  const status: Status = override?.status ?? (code === EXIT.usage ? 'usage' : code === EXIT.locked ? 'locked' : code === EXIT.setupFailed ? 'setup-failed' : 'internal-error');
  reporter.error(err.message);
  if (e instanceof UsageError && !reporter.json) process.stderr.write(`${usageLine(flavour)}\nTry '${flavour.name} -h' for help.\n`);
  if (code === EXIT.internal && err.stack) reporter.verbose(err.stack);
  reporter.event('summary', { status, exitCode: code, error: err.message });
  return code;
}

async function cleanupCommand(opts: Options, platform: Platform, runner: SystemRunner, reporter: Reporter): Promise<number> {
  const boot = await platform.bootId(runner);
  const lock = opts.dryRun ? null : await Lock.acquire(platform.stateDir, opts.mountRoot, boot, opts.wait, reporter);
  try {
    const r = await recover({ runner, reporter, platform, mountRoot: opts.mountRoot, journal: journalPath(platform.stateDir, opts.mountRoot), boot, scanSnapshots: true });
    if (!opts.dryRun && r.failures.length === 0) removeJournal(platform, opts.mountRoot);
    reporter.info(r.actions ? `cleanup: ${r.actions} leftover(s) ${opts.dryRun ? 'would be ' : ''}handled` : 'cleanup: nothing left behind by earlier runs');
    const code = r.failures.length ? EXIT.cleanupIncomplete : EXIT.ok;
    reporter.event('summary', { status: code ? 'cleanup-incomplete' : 'ok', exitCode: code, recovered: r.actions, failures: r.failures });
    return code;
  } finally {
    lock?.release();
  }
}

function removeJournal(platform: Platform, mountRoot: string): void {
  new Journal(journalPath(platform.stateDir, mountRoot), 'cleanup').close(true);
}

/** The mount root must be ours to use: a real folder, owned by root, empty. */
function checkMountRoot(root: string): boolean {
  let st;
  try {
    st = lstatSync(root);
  } catch {
    return false;
  }
  if (!st.isDirectory()) throw new SetupError(`mount root ${root} exists and is not a folder`);
  if (st.uid !== (process.getuid?.() ?? 0)) throw new SetupError(`mount root ${root} is owned by uid ${st.uid}, not by us`);
  if (readdirSync(root).length) throw new SetupError(`mount root ${root} is not empty: kopiatomic assembles its tree in an empty folder`);
  return true;
}

function bootMarkerStale(platform: Platform, boot: string): boolean {
  try {
    return readFileSync(`${platform.stateDir}/boot-id`, 'utf8').trim() !== boot;
  } catch {
    return true;
  }
}

async function backup(opts: Options, flavour: Flavour, platform: Platform, runner: SystemRunner, reporter: Reporter, interrupt: Interrupt): Promise<number> {
  const prog = opts.command[0]!;
  if (!which(prog)) throw new UsageError(`${opts.engine.name === 'command' ? 'backup command' : opts.engine.name} is not installed: ${prog} not found in PATH`);
  const targets = opts.targets.map(toTarget);
  const excludes = opts.excludes.map(toTarget);

  const boot = await platform.bootId(runner);
  const lock = opts.dryRun ? null : await Lock.acquire(platform.stateDir, opts.mountRoot, boot, opts.wait, reporter);
  let journal: Journal | null = null;
  let status: { status: Status; code: number } = { status: 'setup-failed', code: EXIT.setupFailed };
  const hookEnv: Record<string, string> = { KOPIATOMIC_MOUNT_ROOT: opts.mountRoot, KOPIATOMIC_ENGINE: opts.engine.name };
  // The post hook runs after every run that got the lock, whatever happened.
  const postAllowed = !opts.dryRun;
  try {
    // Whatever a dead run left: its journal always; every pool after a reboot
    // (the journal lived in /run) or when a stale lock was taken over.
    const jpath = journalPath(platform.stateDir, opts.mountRoot);
    const scan = Boolean(lock?.tookOver) || bootMarkerStale(platform, boot);
    const r = await recover({ runner, reporter, platform, mountRoot: opts.mountRoot, journal: jpath, boot, scanSnapshots: scan || opts.dryRun });
    if (r.failures.length) throw new SetupError(`could not clean up after an earlier run: ${r.failures.join('; ')}`);
    if (!opts.dryRun) {
      removeJournal(platform, opts.mountRoot);
      if (scan) writeFileSync(`${platform.stateDir}/boot-id`, boot + '\n', { mode: 0o600 });
    }

    const inventory = await discover(runner, platform);
    const selection = select(inventory, { targets, all: opts.all, recursive: opts.recursive, excludes });
    for (const s of selection.skipped) {
      reporter.info(`skipping ${s.dataset}: ${s.reason}`);
      reporter.event('skip', { dataset: s.dataset, reason: s.reason });
    }
    if (selection.selected.length === 0) throw new UsageError('nothing to back up: every selected dataset was skipped');

    const probe = await opts.engine.probe(runner, opts.command);
    const problem = opts.engine.layoutProblem(opts.layout, platform, probe);
    if (problem) throw new UsageError(problem);
    if (opts.layout === 'paths' && selection.selected.some((d) => d.mountedAt === '/') && !opts.engine.needsTree(opts.layout, platform)) {
      throw new UsageError('the paths layout cannot freeze the root filesystem (/) in a namespace; exclude it or use --layout tree');
    }
    const sourcesProblem = opts.engine.sourcesProblem?.(opts.layout, selection.selected.map((d) => d.mountedAt!));
    if (sourcesProblem) throw new UsageError(sourcesProblem);

    const runId = newRunId();
    const plan: Plan = buildPlan({
      selection,
      runId,
      snapshot: snapshotNameFor(runId),
      owner: ownerOf(boot),
      mountRoot: opts.mountRoot,
      mountRootExists: checkMountRoot(opts.mountRoot),
      platform,
      engine: opts.engine,
      probe,
      stateDir: platform.stateDir,
      layout: opts.layout,
      command: opts.command,
      options: opts.options,
    });
    Object.assign(hookEnv, {
      KOPIATOMIC_RUN_ID: plan.runId,
      KOPIATOMIC_SNAPSHOT: plan.snapshot,
      KOPIATOMIC_DATASETS: selection.selected.map((d) => d.name).join('\n'),
    });
    if (opts.dryRun) {
      printPlan(plan, opts.pre, opts.post, reporter);
      if (opts.verifyPercent !== null && !reporter.json) for (const l of verifyPlanLines(plan, opts.verifyPercent, opts.verifyCommand)) reporter.print(l); // verify (issue 13)
      reporter.event('summary', { status: 'ok', exitCode: 0, dryRun: true });
      return EXIT.ok;
    }

    if (opts.pre) {
      const rc = await runHook('pre', opts.pre, hookEnv, runner, reporter, interrupt);
      if (rc !== 0) throw new SetupError(`pre hook failed (exit ${rc}); nothing was snapshotted`);
    }
    if (interrupt.signal) throw new SetupError(`interrupted by ${interrupt.signal} before the snapshot`);
    reporter.event('plan', { dryRun: false, runId: plan.runId, snapshot: plan.snapshot, datasets: selection.selected.map((d) => d.name), skipped: selection.skipped, pools: plan.pools });
    reporter.info(`run ${plan.runId}: ${selection.selected.length} dataset(s) in ${plan.pools.length} pool(s) with ${opts.engine.name}`);

    prepareNamespace(plan, reporter);
    journal = new Journal(jpath, plan.runId);
    journal.begin(plan.snapshot, plan.owner, plan.mountRoot);
    // ---- verify (issue 13)
    const verify = opts.verifyPercent !== null ? verifyStep(opts.verifyPercent, opts.verifyCommand, plan, { runner, reporter, interrupt, env: hookEnv }) : null;
    const result = await applyPlan(plan, { runner, reporter, interrupt, journal, env: hookEnv, ...(verify ? { afterBackup: verify.afterBackup } : {}) });
    const backupStatus = runStatus(result, interrupt.signal);
    status = withVerify(backupStatus, verify?.result() ?? null);
    // ---- end verify
    journal.close(result.cleanupFailures.length === 0);
    journal = null;
    const txgs = Object.fromEntries(Object.entries(result.createtxg).map(([p, t]) => [p, [...new Set(t)]]));
    reporter.event('summary', {
      status: status.status,
      exitCode: status.code,
      runId: plan.runId,
      snapshot: plan.snapshot,
      datasets: selection.selected.length,
      createtxg: txgs,
      backupExitCodes: result.backup?.exitCodes ?? [],
      cleanupFailures: result.cleanupFailures,
      setupError: result.setupError?.message ?? null,
      ...(verify ? { backupStatus: backupStatus.status, verify: verify.result() } : {}), // verify (issue 13)
    });
    reporter.info(`finished: ${status.status} (exit ${status.code})`);
  } catch (e) {
    journal?.close(false);
    status = interrupt.signal
      ? { status: 'interrupted', code: interruptedCode(interrupt.signal) }
      : { status: e instanceof UsageError ? 'usage' : 'setup-failed', code: 0 };
    const code = fail(e, flavour, reporter, status.status === 'interrupted' ? status : undefined);
    if (status.status !== 'interrupted') status.code = code;
  } finally {
    if (opts.post && postAllowed) {
      const rc = await runHook('post', opts.post, { ...hookEnv, KOPIATOMIC_STATUS: status.status, KOPIATOMIC_EXIT_CODE: String(status.code) }, runner, reporter, interrupt);
      if (rc !== 0 && status.code === EXIT.ok) status = { status: 'post-hook-failed', code: EXIT.postHookFailed };
    }
    lock?.release();
  }
  return status.code;
}
