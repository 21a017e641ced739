// Several repositories, the job tag and retention: the plan holds each
// repository's calls (same argv, same time slot, its own env) and its
// retention's argv; the executor runs every repository even after one
// failed, and the run's status is the worst; a retention failure exits 10;
// the metrics label each repository; `forget` runs the retention alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT, finalStatus, withRetention } from '../../src/core/exit-status.js';
import { UsageError } from '../../src/core/errors.js';
import { commandEngine } from '../../src/engine/command.js';
import { jobTag, type Engine, type Retention } from '../../src/engine/engine.js';
import { kopiaEngine, kopiaRetention } from '../../src/engine/kopia.js';
import { resticEngine, resticHost, resticRetention } from '../../src/engine/restic.js';
import { applyPlan } from '../../src/execute/apply.js';
import { applyRetention } from '../../src/execute/retention-phase.js';
import { Interrupt } from '../../src/execute/interrupt.js';
import { linux } from '../../src/platform/linux.js';
import { buildPlan } from '../../src/plan/plan.js';
import type { PlanInput } from '../../src/plan/types.js';
import { planCommands } from '../../src/cli/print-plan.js';
import { retentionProblem } from '../../src/cli/backup.js';
import { forgetCommand } from '../../src/cli/forget.js';
import { parseCommandLine } from '../../src/cli/args.js';
import { KOPIATOMIC, type JobOptions } from '../../src/config/job.js';
import { parse, samplesFor } from '../../src/ops/metrics.js';
import { repositoryRecords } from '../../src/ops/run-record.js';
import { ds, FakeRunner, quietReporter } from './helpers.js';
import { record } from './ops-helpers.js';

const REPOS: { name: string; configured: boolean; env: Record<string, string> }[] = [
  { name: 'local', configured: true, env: { RESTIC_REPOSITORY: '/backup/restic' } },
  { name: 'offsite', configured: true, env: { RESTIC_REPOSITORY: 'sftp:nas:/restic', RESTIC_PASSWORD: 'offsite-secret' } },
];
const KEEP: Retention = { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12, prune: true };

function plan(over: Partial<PlanInput> = {}) {
  return buildPlan({
    selection: { selected: [ds('tank/home', '/tank/home')], skipped: [] },
    runId: 'R1',
    snapshot: 'kopiatomic-R1',
    owner: 'h:b:1',
    mountRoot: '/restic',
    mountRootExists: true,
    platform: linux,
    engine: resticEngine as Engine,
    probe: { version: '0.17.3', env: {} },
    stateDir: '/nonexistent-state',
    layout: 'tree',
    command: ['restic', 'backup'],
    options: [],
    job: 'home',
    repositories: REPOS,
    retention: KEEP,
    hostname: 'nas1',
    ...over,
  });
}

test('the plan: one set of calls per repository, in order, the same argv and time slot, each with its env and the job tag', () => {
  const p = plan();
  assert.deepEqual(p.repositories.map((r) => r.name), ['local', 'offsite']);
  const [a, b] = p.repositories.map((r) => r.calls);
  assert.deepEqual(a!.map((c) => c.argv), b!.map((c) => c.argv), 'the same frozen tree and the same time in both');
  assert.deepEqual(a![0]!.argv.slice(0, 8), ['restic', 'backup', '--time', a![0]!.argv[3], '--tag', 'kopiatomic-R1', '--tag', 'kopiatomic-job:home']);
  assert.equal(p.repositories[1]!.env['RESTIC_PASSWORD'], 'offsite-secret');
  assert.ok(!p.repositories.flatMap((r) => [...r.calls.flatMap((c) => c.argv), ...r.retention.flat()]).includes('offsite-secret'), 'no secret in any argv');
  // The flag form: one implicit repository, job "default".
  const flag = plan({ job: undefined, repositories: undefined, retention: null });
  assert.deepEqual(flag.repositories.map((r) => [r.name, r.configured, r.retention.length]), [['default', false, 0]]);
  assert.ok(flag.repositories[0]!.calls[0]!.argv.includes(jobTag('default')));
});

test('restic retention: forget scoped to the job tag and this host, grouped by host, keep_* and --prune', () => {
  const p = plan();
  assert.deepEqual(p.repositories[0]!.retention, [
    ['restic', 'forget', '--tag', 'kopiatomic-job:home', '--host', 'nas1', '--group-by', 'host', '--keep-last', '3', '--keep-daily', '7', '--keep-weekly', '4', '--keep-monthly', '12', '--prune'],
  ]);
  // The host as restic records it: its --host option, else RESTIC_HOST, else the host name.
  assert.equal(resticHost(['--host', 'h1'], { RESTIC_HOST: 'h2' }, 'h3'), 'h1');
  assert.equal(resticHost(['-H=h1'], {}, 'h3'), 'h1');
  assert.equal(resticHost(['--host=h1', '-H', 'h4'], {}, 'h3'), 'h4');
  assert.equal(resticHost([], { RESTIC_HOST: 'h2' }, 'h3'), 'h2');
  assert.equal(resticHost([], { RESTIC_HOST: '' }, 'h3'), 'h3');
  const input = { command: ['restic', '-r', '/r', 'backup'], options: ['--password-file', '/pw', '--exclude', 'x'], job: 'j', retention: { keepLast: 1, prune: false }, sources: ['/restic'], env: {}, hostname: 'h', dryRun: true };
  assert.deepEqual(resticRetention(input), {
    calls: [['restic', '-r', '/r', '--password-file', '/pw', 'forget', '--tag', 'kopiatomic-job:j', '--host', 'h', '--group-by', 'host', '--keep-last', '1', '--dry-run']],
    readOnly: true,
  });
});

test("kopia retention: the source's policy (flag names of cli/command_policy_set_retention.go), then expire; no prune", () => {
  const input = { command: ['kopia', '--config-file=/c', 'snapshot', 'create'], options: [], job: 'home', retention: { keepLast: 3, keepHourly: 1, keepYearly: 2, prune: true }, sources: ['/kopia'], env: {}, hostname: 'h', dryRun: false };
  assert.deepEqual(kopiaRetention(input), {
    calls: [
      ['kopia', '--config-file=/c', 'policy', 'set', '/kopia', '--keep-latest=3', '--keep-hourly=1', '--keep-annual=2'],
      ['kopia', '--config-file=/c', 'snapshot', 'expire', '/kopia', '--delete'],
    ],
  });
  // The paths layout: each top source's real path.
  const p = plan({ engine: kopiaEngine as Engine, command: ['kopia', 'snapshot', 'create'], layout: 'paths', probe: { version: '0.17.0' }, mountRoot: '/kopia', selection: { selected: [ds('tank/home', '/home'), ds('tank/srv', '/srv')], skipped: [] } });
  assert.deepEqual(p.repositories[0]!.retention.filter((a) => a[1] === 'policy').map((a) => a[3]), ['/home', '/srv']);
  assert.ok(p.repositories[0]!.calls.every((c) => c.argv.includes('--tags') && c.argv.includes('kopiatomic-job:home')));
});

test('the command engine cannot apply a retention: bad input before anything happens', () => {
  const job = { job: 'x', engine: commandEngine, command: ['my-backup'], options: [], mountRoot: '/k', retention: KEEP } as unknown as JobOptions;
  assert.throws(() => retentionProblem(job), (e: unknown) => e instanceof UsageError && /job x: the command engine cannot apply a retention/.test(e.message));
  assert.doesNotThrow(() => retentionProblem({ ...job, retention: null }));
});

test('the dry run names each repository and shows the retention after cleanup', () => {
  const cmds = planCommands(plan(), null, null);
  const backups = cmds.filter((c) => c.phase === 'backup');
  assert.deepEqual(backups.map((c) => c.repository), ['local', 'offsite']);
  const ret = cmds.filter((c) => c.phase === 'retention');
  assert.deepEqual(ret.map((c) => c.repository), ['local', 'offsite']);
  assert.ok(cmds.findIndex((c) => c.phase === 'retention') > cmds.findIndex((c) => c.phase === 'backup'));
  assert.ok(!cmds.some((c) => c.command.includes('offsite-secret')));
});

/** A plan of the command engine with no datasets (no setup, no cleanup): only the backup and the retention run. */
function bare(repos: { name: string; configured: boolean; env: Record<string, string> }[]) {
  return buildPlan({
    selection: { selected: [], skipped: [] },
    runId: 'R1',
    snapshot: 'kopiatomic-R1',
    owner: 'h:b:1',
    mountRoot: '/k',
    mountRootExists: true,
    platform: linux,
    engine: commandEngine,
    probe: {},
    stateDir: '/nonexistent-state',
    layout: 'tree',
    command: ['my-backup'],
    options: [],
    repositories: repos,
  });
}

test('the executor: a failing repository does not stop the next; the run is as bad as its worst repository', async () => {
  const { reporter } = quietReporter();
  const runner = new FakeRunner(() => ({ code: 0, stdout: '', stderr: '' }), (_argv, o) => (o.env?.['REPO'] === 'bad' ? 1 : 0));
  const p = bare([
    { name: 'first', configured: true, env: { REPO: 'bad' } },
    { name: 'second', configured: true, env: { REPO: 'good' } },
  ]);
  const r = await applyPlan(p, { runner, reporter, interrupt: new Interrupt(reporter), journal: null, env: {} });
  assert.deepEqual(runner.liveEnv.map((e) => e['REPO']), ['bad', 'good'], 'both ran, in order, each with its env');
  assert.equal(r.backup?.outcome, 'failed');
  assert.deepEqual(r.backup?.repositories?.map((x) => [x.name, x.outcome]), [['first', 'failed'], ['second', 'ok']]);
  assert.deepEqual(finalStatus({ result: r, signal: null }), { status: 'backup-failed', code: EXIT.backupFailed });
  const recs = repositoryRecords(p, r.backup!.repositories!, commandEngine);
  assert.deepEqual(recs.map((x) => [x.name, x.status]), [['first', 'backup-failed'], ['second', 'ok']]);
});

test('retention: after a successful backup only; its failure exits 10, unless something worse happened', async () => {
  const { reporter } = quietReporter();
  const retained: string[] = [];
  const runner = new FakeRunner(() => ({ code: 0, stdout: '', stderr: '' }), (argv, o) => {
    if (argv[1] === 'forget') {
      retained.push(String(o.env?.['REPO']));
      return o.env?.['REPO'] === 'c' ? 1 : 0;
    }
    return o.env?.['REPO'] === 'b' ? 1 : 0;
  });
  const p = bare(['a', 'b', 'c'].map((n) => ({ name: n, configured: true, env: { REPO: n } })));
  for (const r of p.repositories) r.retention = [['restic', 'forget', '--tag', 'kopiatomic-job:x']];
  const interrupt = new Interrupt(reporter);
  const r = await applyPlan(p, { runner, reporter, interrupt, journal: null, env: {} });
  r.retentionFailures = await applyRetention(p, r, { runner, reporter, interrupt, env: {}, hold: null });
  assert.deepEqual(retained, ['a', 'c'], 'no retention after the failed backup to b');
  assert.deepEqual(r.backup?.repositories?.map((x) => x.retention?.status), ['ok', 'skipped', 'failed']);
  assert.equal(r.retentionFailures.length, 1);
  // b's failed backup outranks c's failed retention.
  assert.equal(finalStatus({ result: r, signal: null }).status, 'backup-failed');
  assert.deepEqual(repositoryRecords(p, r.backup!.repositories!, commandEngine).map((x) => x.status), ['ok', 'backup-failed', 'retention-failed']);
  // Alone, a retention failure is exit 10; a verification mismatch or a post hook keep their own precedence.
  const okRun = { setupError: null, backup: { outcome: 'ok' as const }, cleanupFailures: [], retentionFailures: ['x'] };
  assert.deepEqual(finalStatus({ result: okRun, signal: null }), { status: 'retention-failed', code: 10 });
  assert.equal(finalStatus({ result: okRun, signal: null, verify: { status: 'failed' } }).status, 'verify-failed');
  assert.equal(finalStatus({ result: okRun, signal: null, postHook: 1 }).status, 'retention-failed');
  assert.deepEqual(withRetention({ status: 'partial', code: 3 }, okRun), { status: 'partial', code: 3 });
  // A verification that did not pass holds every retention back.
  const held = await applyPlan(p, { runner, reporter, interrupt, journal: null, env: {} });
  retained.length = 0;
  await applyRetention(p, held, { runner, reporter, interrupt, env: {}, hold: 'the verification did not pass (failed)' });
  assert.deepEqual(retained, []);
});

test('metrics: a repository label on the backup series of configured repositories; a job without keeps its series as they were', () => {
  const figures = { engine: 'restic' as const, filesNew: 5, bytesAdded: 10 };
  const repos = [
    { name: 'local', configured: true, status: 'ok' as const, exitCodes: [0], engine: figures, retention: 'ok' as const },
    { name: 'offsite', configured: true, status: 'backup-failed' as const, exitCodes: [1], retention: 'skipped' as const },
  ];
  const s = samplesFor(record({ engine: figures, repositories: repos }));
  const of = (name: string) => s.filter((x) => x.name === name).map((x) => [x.labels['repository'], x.value]);
  assert.deepEqual(of('kopiatomic_last_run_engine_files_new'), [['local', 5]]);
  assert.deepEqual(of('kopiatomic_last_run_repository_success'), [['local', 1], ['offsite', 0]]);
  assert.deepEqual(of('kopiatomic_last_run_retention_success'), [['local', 1], ['offsite', 0]]);
  const plain = samplesFor(record({ engine: figures, repositories: [{ name: 'default', configured: false, status: 'ok', exitCodes: [0], engine: figures }] }));
  assert.deepEqual(plain.filter((x) => x.name === 'kopiatomic_last_run_engine_files_new').map((x) => x.labels), [{ job: 'home', host: 'nas' }]);
  assert.ok(!plain.some((x) => x.name === 'kopiatomic_last_run_repository_success'));
  assert.ok(parse(`kopiatomic_last_run_engine_files_new{job="home",host="nas",repository="local"} 5\n`).length === 1);
});

test('forget: each job and repository; -n runs restic forget --dry-run; a job without retention is skipped; a failure exits 10', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-forget-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'kopiatomic.toml');
  writeFileSync(
    cfg,
    `[defaults]\nengine = "restic"\n\n[jobs.home]\ndatasets = ["tank/home"]\n\n[[jobs.home.repositories]]\nname = "one"\nenv = { RESTIC_REPOSITORY = "/r1" }\n\n[[jobs.home.repositories]]\nname = "two"\nenv = { RESTIC_REPOSITORY = "/r2" }\n\n[jobs.home.retention]\nkeep_last = 2\n\n[jobs.plain]\ndatasets = ["tank/x"]\nmount_root = "/restic2"\n`,
  );
  chmodSync(cfg, 0o600);
  const go = async (argv: string[], code: (argv: readonly string[], env: NodeJS.ProcessEnv) => number) => {
    const { reporter, lines } = quietReporter();
    const runner = new FakeRunner(() => ({ code: 0, stdout: '', stderr: '' }), (a, o) => code(a, o.env ?? {}));
    // The engine must be installed: a stand-in restic first on PATH (the fake runner runs nothing).
    writeFileSync(join(dir, 'restic'), '#!/bin/sh\n', { mode: 0o755 });
    const opts = parseCommandLine(['--config', cfg, 'forget', ...argv], KOPIATOMIC);
    const ctx = { flavour: KOPIATOMIC, reporter, runner: runner as never, platform: linux, interrupt: new Interrupt(reporter) };
    const oldPath = process.env['PATH'];
    process.env['PATH'] = `${dir}:${oldPath}`;
    try {
      return { rc: await forgetCommand(opts, ctx), runner, lines };
    } finally {
      process.env['PATH'] = oldPath;
    }
  };
  const dry = await go(['-n'], () => 0);
  assert.equal(dry.rc, 0);
  assert.deepEqual(dry.runner.calls.map((c) => [c.argv[1], c.argv.at(-1), c.live?.env?.['RESTIC_REPOSITORY']]), [['forget', '--dry-run', '/r1'], ['forget', '--dry-run', '/r2']]);
  assert.ok(dry.lines.some((l) => /job plain: no retention configured/.test(l)));
  const real = await go(['home'], (_a, env) => (env['RESTIC_REPOSITORY'] === '/r1' ? 1 : 0));
  assert.equal(real.rc, EXIT.retentionFailed);
  assert.equal(real.runner.calls.length, 2, 'the second repository after the first failed');
  assert.ok(real.runner.calls.every((c) => !c.argv.includes('--dry-run')));
});
