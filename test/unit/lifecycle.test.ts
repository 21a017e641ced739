// The lifecycle and the main flow, driven with a fake runner: one status
// for the summary, the post hook and the exit code; the lock released
// whatever the post hook does; recovery leftovers warned about, not fatal;
// a whole backup job from zfs list to destroy.
import type { MountEntry } from '../../src/zfs/mount-table.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { isWithin } from '../../src/core/paths.js';
import { join } from 'node:path';
import { parseCommandLine } from '../../src/cli/args.js';
import { KOPIATOMIC, type JobOptions } from '../../src/config/job.js';
import { backupJob, checkEngineInstalled, requireZfs } from '../../src/cli/backup.js';
import { lifecycle, type CommandContext, type LifecycleSpec } from '../../src/cli/lifecycle.js';
import { CommandError, SetupError, UsageError } from '../../src/core/errors.js';
import { EXIT, finalStatus } from '../../src/core/exit-status.js';
import type { ExecResult, SystemRunner } from '../../src/core/exec.js';
import { Reporter } from '../../src/core/report.js';
import { ENGINES } from '../../src/engine/index.js';
import { Interrupt } from '../../src/execute/interrupt.js';
import { linux } from '../../src/platform/linux.js';
import type { Platform } from '../../src/platform/platform.js';
import { journalPath } from '../../src/safety/journal.js';
import { commandText, FakeRunner, identityAnswer, identityNames, mountPairs, unmountTargets, zfsRows, type LiveAnswer } from './helpers.js';
import { ROOT_DIR } from './paths.js';

/** The fake system of helpers.ts; every live() command (engine, hook) exits 0 unless `live` says otherwise. */
const fakeSystem = (answer: (argv: readonly string[]) => ExecResult | Error, live: LiveAnswer = () => 0) => new FakeRunner(answer, live);

const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });

function setup(t: { after: (f: () => void) => void }, runner: FakeRunner, mounts: MountEntry[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-life-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir);
  const journalDir = join(dir, 'journal');
  mkdirSync(journalDir);
  const platform: Platform = { ...linux, stateDir, journalDir, bootId: async () => 'boot-1', hostId: async () => 'host-1', readMounts: async () => [...mounts, ...runner.mounted] };
  const events: Record<string, unknown>[] = [];
  const reporter = new Reporter({ json: true, verbosity: 1, name: 't', out: (l) => events.push(JSON.parse(l) as Record<string, unknown>) });
  const ctx: CommandContext = { flavour: KOPIATOMIC, reporter, runner: runner as unknown as SystemRunner, platform, interrupt: new Interrupt(reporter) };
  const spec = (o: Partial<LifecycleSpec> = {}): LifecycleSpec => ({
    job: 'default',
    mountRoot: join(dir, 'root'),
    wait: 0,
    dryRun: false,
    scan: 'auto',
    leftoversFail: false,
    post: null,
    hookEnv: {},
    ...o,
  });
  const of = (name: string) => events.filter((e) => e['event'] === name);
  return { dir, stateDir, journalDir, ctx, spec, events, of };
}

test('the post hook sees the status the summary reports and the process exits with', async (t) => {
  const cases: [string, () => Promise<never | object>, { status: string; code: number }][] = [
    ['ok', async () => ({}), { status: 'ok', code: 0 }],
    ['bad input', async () => Promise.reject(new UsageError('nothing to back up')), { status: 'usage', code: 2 }],
    ['a setup error', async () => Promise.reject(new SetupError('pre hook failed')), { status: 'setup-failed', code: 4 }],
    ['a failed command', async () => Promise.reject(new CommandError(['zfs', 'snapshot'], 1, null, 'out of space')), { status: 'setup-failed', code: 4 }],
    ['a bug', async () => Promise.reject(new TypeError('x is undefined')), { status: 'internal-error', code: 70 }],
  ];
  for (const [what, body, want] of cases) {
    const runner = fakeSystem(() => ok());
    const s = setup(t, runner);
    const got = await lifecycle(s.ctx, s.spec({ post: 'true' }), body as never);
    assert.deepEqual(got, want, what);
    const env = runner.liveEnv[0]!;
    assert.equal(env['KOPIATOMIC_STATUS'], want.status, `${what}: the post hook's status`);
    assert.equal(env['KOPIATOMIC_EXIT_CODE'], String(want.code), `${what}: the post hook's exit code`);
    const [summary] = s.of('summary');
    assert.equal(summary!['status'], want.status, `${what}: summary`);
    assert.equal(summary!['exitCode'], want.code, `${what}: summary`);
    assert.equal(summary!['postHookExitCode'], 0);
  }
});

test('a failing post hook: an ok run exits 7 and the summary says so; any other status is kept', async (t) => {
  for (const [body, want] of [
    [async () => ({}), { status: 'post-hook-failed', code: EXIT.postHookFailed }],
    [async () => Promise.reject(new SetupError('x')), { status: 'setup-failed', code: EXIT.setupFailed }],
  ] as const) {
    const runner = fakeSystem(() => ok(), () => 3);
    const s = setup(t, runner);
    const got = await lifecycle(s.ctx, s.spec({ post: 'exit 3' }), body as never);
    assert.deepEqual(got, want);
    assert.deepEqual([s.of('summary')[0]!['status'], s.of('summary')[0]!['exitCode'], s.of('summary')[0]!['postHookExitCode']], [want.status, want.code, 3]);
  }
});

test('the lock is released even when the post hook throws', async (t) => {
  const runner = fakeSystem(() => ok(), (argv) => (argv[0] === '/bin/sh' ? new Error('spawn E2BIG') : 0));
  const s = setup(t, runner);
  const got = await lifecycle(s.ctx, s.spec({ post: 'true' }), async () => ({}));
  assert.deepEqual(got, { status: 'post-hook-failed', code: 7 });
  assert.deepEqual(readdirSync(s.stateDir).filter((f) => f.endsWith('.lock')), [], 'no lock file left');
  // And the next run gets the lock at once.
  assert.deepEqual(await lifecycle(s.ctx, s.spec(), async () => ({})), { status: 'ok', code: 0 });
});

test('recovery leftovers do not stop a backup: warned, reported as leftover events, the command runs', async (t) => {
  const busy = new CommandError(['zfs', 'destroy', '-r', 'tank@kopiatomic-OLD'], 1, null, "cannot destroy snapshot tank@kopiatomic-OLD: dataset is busy");
  const runner = fakeSystem((argv) => (argv[1] === 'destroy' ? busy : ok()));
  const s = setup(t, runner);
  const spec = s.spec();
  const jpath = journalPath(s.journalDir, spec.mountRoot);
  writeFileSync(jpath, JSON.stringify({ op: 'undo', seq: 1, phase: 'destroy', action: { kind: 'exec', mutates: true, argv: ['zfs', 'destroy', '-r', 'tank@kopiatomic-OLD'] }, runId: 'OLD' }) + '\n');
  let ran = false;
  const got = await lifecycle(s.ctx, spec, async (rec) => {
    ran = true;
    assert.equal(rec.leftovers.length, 1);
    return {};
  });
  assert.equal(ran, true);
  assert.deepEqual(got, { status: 'ok', code: 0 });
  assert.equal(s.of('leftover').length, 1);
  assert.match(String(s.of('leftover')[0]!['reason']), /dataset is busy/);
  // The undo moved from the journal to the known leftovers, which cleanup retries.
  assert.ok(readdirSync(s.journalDir).some((f) => f.endsWith('.leftovers')), 'the undo still to do is remembered, on disk beside the journal');
  assert.match(s.of('log').map((e) => e['message']).join('\n'), /cannot be removed now/);
  // kopiatomic cleanup: the same leftover is its failure (exit 5).
  const c = await lifecycle(s.ctx, s.spec({ scan: 'always', leftoversFail: true }), async () => ({}));
  assert.deepEqual(c, { status: 'cleanup-incomplete', code: 5 });
});

test('finalStatus: one function, each status with its own code', () => {
  assert.deepEqual(finalStatus({ signal: null, error: new TypeError('bug') }), { status: 'internal-error', code: 70 });
  assert.deepEqual(finalStatus({ signal: 'SIGINT', error: new SetupError('stopped') }), { status: 'interrupted', code: 130 });
  assert.deepEqual(finalStatus({ signal: null, leftovers: ['x'] }), { status: 'cleanup-incomplete', code: 5 });
  assert.deepEqual(finalStatus({ signal: null, postHook: 1 }), { status: 'post-hook-failed', code: 7 });
  const r = { setupError: null, backup: { outcome: 'partial' as const, exitCodes: [3] }, cleanupFailures: [], createtxg: {}, creation: null };
  assert.deepEqual(finalStatus({ signal: null, result: r, postHook: 1 }), { status: 'partial', code: 3 });
});

test('zfs missing: a clear usage error (exit 2), not a failed setup', () => {
  assert.throws(() => requireZfs('/nonexistent-bin'), (e: unknown) => e instanceof UsageError && /zfs is not installed, or not in this PATH/.test(e.message));
});

test('the main flow: one job from zfs list to destroy, the job env for the engine only, the time filled in', async (t) => {
  const LIST = zfsRows('tank\ton\tyes\t-\t/tank\ntank/a\ton\tyes\t-\t/tank/a\n');
  let snapshotHolds = ''; // the folder that tank's snapshot holds for tank/a's mount point
  const runner = fakeSystem((argv) => {
    if (argv[0] === 'zfs' && argv[1] === 'list' && argv.includes('filesystem')) return ok(LIST);
    if (identityNames(argv)) return ok(identityAnswer(identityNames(argv)!.map((n, i) => [n, String(123 + i), '77', 1795000000])));
    if (mountPairs(argv) && snapshotHolds) mkdirSync(snapshotHolds, { recursive: true });
    if (unmountTargets(argv) && snapshotHolds) rmSync(snapshotHolds, { recursive: true, force: true });
    return ok();
  });
  const s = setup(t, runner, [
    { source: 'tank', target: '/tank', fstype: 'zfs', root: '/' },
    { source: 'tank/a', target: '/tank/a', fstype: 'zfs', root: '/' },
  ]);
  snapshotHolds = join(s.dir, 'root', 'tank', 'a');
  const flags = parseCommandLine(['-r', 'tank', '--post', 'true'], KOPIATOMIC);
  const job: JobOptions = { ...flags, job: 'nightly', engine: ENGINES['command']!, command: ['backup-tool'], mountRoot: join(s.dir, 'root'), env: { SECRET_TOKEN: 'x' }, statusFile: join(s.dir, 'status.json') };
  const got = await backupJob(job, { dryRun: false, wait: 0 }, s.ctx);
  assert.deepEqual(got, { status: 'ok', code: 0 });
  const verbs = runner.argvs.map((c) => commandText(c).split(' ').slice(0, mountPairs(c) ? 1 : 2).join(' '));
  assert.deepEqual(
    verbs.filter((v) => !v.startsWith('zfs list') && !v.startsWith('zfs get') && v !== 'zpool list'), // reads: discovery (and the pools' states), the recovery scan
    // the second program is the identity read (zfs program -n), beside the mounts; the release starts just before the unmount it runs beside
    ['zfs snapshot', 'zfs hold', 'zfs program', 'mount2', 'mount2', 'backup-tool ' + join(s.dir, 'root'), 'zfs release', `umount2 ${join(s.dir, 'root', 'tank', 'a')}`, 'zfs program', '/bin/sh -c'],
  );
  const engineEnv = runner.liveEnv[0]!;
  assert.equal(engineEnv['SECRET_TOKEN'], 'x', 'the engine gets the job env');
  assert.equal(engineEnv['KOPIATOMIC_JOB'], 'nightly');
  assert.equal(runner.liveEnv[1]!['SECRET_TOKEN'], undefined, 'the post hook does not');
  assert.equal(runner.liveEnv[1]!['KOPIATOMIC_STATUS'], 'ok');
  const [summary] = s.of('summary');
  assert.equal(summary!['job'], 'nightly');
  assert.deepEqual(summary!['createtxg'], { tank: ['77'] });
  assert.ok(!existsSync(join(s.dir, 'root')), 'the mount root it created is gone');
  assert.ok(!runner.argvs.flat().some((w) => w.includes('\0')), 'no time slot reaches a command');
});

/** A backup job over tank and tank/a on the fake system; `before` answers first (recovery's commands). */
async function listingsRun(t: { after: (f: () => void) => void }, before: (argv: readonly string[]) => ExecResult | Error | null, prepare: (s: ReturnType<typeof setup>) => void = () => {}) {
  const LIST = zfsRows('tank\ton\tyes\t-\t/tank\ntank/a\ton\tyes\t-\t/tank/a\n');
  let s: ReturnType<typeof setup> | null = null;
  /** For each filesystem listing: was our lock already taken when it started? */
  const lockedAtList: boolean[] = [];
  const runner = fakeSystem((argv) => {
    const first = before(argv);
    if (first) return first;
    if (argv[0] === 'zfs' && argv[1] === 'list' && argv.includes('filesystem')) {
      lockedAtList.push(readdirSync(s!.stateDir).some((f) => f.endsWith('.lock')));
      return ok(LIST);
    }
    if (identityNames(argv)) return ok(identityAnswer(identityNames(argv)!.map((n, i) => [n, String(123 + i), '77', 1795000000])));
    if (mountPairs(argv)) mkdirSync(join(s!.dir, 'root', 'tank', 'a'), { recursive: true });
    if (unmountTargets(argv)) rmSync(join(s!.dir, 'root', 'tank', 'a'), { recursive: true, force: true });
    return ok();
  });
  s = setup(t, runner, [
    { source: 'tank', target: '/tank', fstype: 'zfs', root: '/' },
    { source: 'tank/a', target: '/tank/a', fstype: 'zfs', root: '/' },
  ]);
  prepare(s);
  const flags = parseCommandLine(['-r', 'tank'], KOPIATOMIC);
  const job: JobOptions = { ...flags, engine: ENGINES['command']!, command: ['backup-tool'], mountRoot: join(s.dir, 'root'), statusFile: join(s.dir, 'status.json') };
  const got = await backupJob(job, { dryRun: false, wait: 0 }, s.ctx);
  const texts = runner.argvs.map((c) => commandText(c));
  return { got, texts, lockedAtList, s };
}

test('discovery\'s listings start before the lock is taken and recovery runs, and are taken as they are when recovery did nothing: one zfs list, one zpool list', async (t) => {
  const { got, texts, lockedAtList } = await listingsRun(t, () => null);
  assert.deepEqual(got, { status: 'ok', code: 0 });
  const lists = texts.filter((c) => c.startsWith('zfs list') && c.includes('filesystem'));
  assert.equal(lists.length, 1, 'the filesystems listed once');
  assert.equal(texts.filter((c) => c.startsWith('zpool list')).length, 1, 'the pools listed once');
  assert.deepEqual(lockedAtList, [false], 'it started before the lock');
  // This host's first run: recovery scans every pool; the listing was started before that scan.
  const scan = texts.findIndex((c) => c.startsWith('zfs get'));
  assert.ok(scan > texts.indexOf(lists[0]!), 'started before recovery\'s scan');
});

test('when recovery undid something, or the lock was taken over, discovery lists again after it: the early listing is not trusted', async (t) => {
  // A dead run's journal: one undo, which recovery carries out (an rmdir of a folder it made).
  const { got, texts, lockedAtList } = await listingsRun(t, () => null, (s) => {
    const jpath = journalPath(s.journalDir, join(s.dir, 'root'));
    mkdirSync(join(s.dir, 'root', 'old'), { recursive: true, mode: 0o700 });
    writeFileSync(jpath, JSON.stringify({ op: 'undo', seq: 1, phase: 'rmdir', action: { kind: 'rmdir', path: join(s.dir, 'root', 'old') }, runId: 'OLD' }) + '\n');
  });
  assert.deepEqual(got, { status: 'ok', code: 0 });
  assert.deepEqual(lockedAtList, [false, true], 'listed again once the lock was ours and recovery had run');
  assert.equal(texts.filter((c) => c.startsWith('zpool list')).length, 2);
});

test('a mount root below a directory a user owns: exit 4 with what to change, before any snapshot or mount', { skip: process.getuid?.() === 0 ? false : 'needs root (chown)' }, async (t) => {
  const { chownSync } = await import('node:fs');
  const LIST = zfsRows('tank\ton\tyes\t-\t/tank\ntank/a\ton\tyes\t-\t/tank/a\n');
  const runner = fakeSystem((argv) => (argv[0] === 'zfs' && argv[1] === 'list' && argv.includes('filesystem') ? ok(LIST) : ok()));
  const s = setup(t, runner, [{ source: 'tank/a', target: '/tank/a', fstype: 'zfs', root: '/' }]);
  const home = join(s.dir, 'home');
  mkdirSync(join(home, 'tree'), { recursive: true, mode: 0o755 });
  chownSync(home, 65534, 65534); // a user's directory; the tree in it is root's
  const job: JobOptions = { ...parseCommandLine(['tank/a'], KOPIATOMIC), engine: ENGINES['command']!, command: ['backup-tool'], mountRoot: join(home, 'tree'), statusFile: join(s.dir, 'status.json') };
  assert.deepEqual(await backupJob(job, { dryRun: false, wait: 0 }, s.ctx), { status: 'setup-failed', code: EXIT.setupFailed });
  assert.deepEqual(runner.argvs.filter((c) => !((c[0] === 'zfs' || c[0] === 'zpool') && (c[1] === 'list' || c[1] === 'get'))), [], 'nothing but reads ran');
  const message = s.of('log').map((e) => String(e['message'])).join('\n');
  assert.match(message, new RegExp(`mount root ${home}/tree: ${home} is owned by uid 65534.*chown root`));
});

test('a missing backup program: exit 2 for a real run; a dry run warns and goes on to print its plan', (t) => {
  const s = setup(t, fakeSystem(() => ok()));
  const job = { ...parseCommandLine(['-a'], KOPIATOMIC), command: ['kopiatomic-no-such-program', 'backup'] };
  assert.throws(() => checkEngineInstalled(job, false, s.ctx), (e: unknown) => e instanceof UsageError && /kopia is not installed: kopiatomic-no-such-program not found in PATH/.test(e.message));
  assert.doesNotThrow(() => checkEngineInstalled(job, true, s.ctx));
  assert.match(String(s.of('log')[0]?.['message']), /not installed.*the plan is printed anyway/);
});

test('run: jobs one after the other, each with its own snapshot; the worst exit code; bad input in any job stops all before anything changes', async (t) => {
  const { chmodSync } = await import('node:fs');
  const { runCommand } = await import('../../src/cli/run.js');
  const LIST = zfsRows('tank\ton\tyes\t-\t/tank\ntank/a\ton\tyes\t-\t/tank/a\ntank/b\ton\tyes\t-\t/tank/b\n');
  const runner = fakeSystem(
    (argv) => {
      if (argv[0] === 'zfs' && argv[1] === 'list' && argv.includes('filesystem')) return ok(LIST);
      if (identityNames(argv)) return ok(identityAnswer(identityNames(argv)!.map((n, i) => [n, String(123 + i), '77', 1795000000])));
      return ok();
    },
    (argv) => (argv[0] === 'tool-b' ? 1 : 0),
  );
  const s = setup(t, runner, ['tank', 'tank/a', 'tank/b'].map((d) => ({ source: d, target: '/' + d, fstype: 'zfs', root: '/' })));
  // which() must find zfs and the tools: stand-ins on PATH (never run: the runner is fake).
  const bin = join(s.dir, 'bin');
  mkdirSync(bin);
  for (const p of ['zfs', 'tool-a', 'tool-b']) {
    writeFileSync(join(bin, p), '#!/bin/sh\nexit 0\n');
    chmodSync(join(bin, p), 0o755);
  }
  const path = process.env['PATH'];
  process.env['PATH'] = bin;
  t.after(() => (process.env['PATH'] = path));
  // Mount roots under /tmp and /var/tmp are refused, and the executor's
  // mkdir/rmdir are real: use dist/ unless the checkout itself is under one.
  const base = [join(ROOT_DIR, 'dist'), '/run', '/dev/shm', homedir()].find((d) => {
    if (isWithin(d, '/tmp') || isWithin(d, '/var/tmp')) return false;
    try {
      accessSync(d, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  })!;
  const roots = mkdtempSync(join(base, 'kopiatomic-unit-roots-'));
  t.after(() => rmSync(roots, { recursive: true, force: true }));
  const cfg = (text: string) => {
    const f = join(s.dir, `k${Math.random()}.toml`);
    writeFileSync(f, text, { mode: 0o600 });
    return f;
  };
  const good = cfg(`[defaults]\nengine = "command"\nstatus_file = "${join(s.dir, 'status.json')}"\n[jobs.a]\ndatasets = ["tank/a"]\ncommand = "tool-a"\nmount_root = "${roots}/ra"\n[jobs.b]\ndatasets = ["tank/b"]\ncommand = "tool-b"\nmount_root = "${roots}/rb"\n`);
  const code = await runCommand(parseCommandLine(['--config', good, 'run'], KOPIATOMIC), s.ctx);
  assert.equal(code, EXIT.backupFailed, 'job b failed: the worst of ok and backup-failed');
  assert.deepEqual(s.of('summary').map((e) => [e['job'], e['status']]), [['a', 'ok'], ['b', 'backup-failed']]);
  assert.deepEqual(s.of('run-summary')[0]!['jobs'], [
    { job: 'a', status: 'ok', exitCode: 0 },
    { job: 'b', status: 'backup-failed', exitCode: 1 },
  ]);
  const snaps = runner.argvs.filter((c) => c[1] === 'snapshot');
  assert.equal(snaps.length, 2, 'one snapshot call per job');
  assert.notEqual(snaps[0]!.at(-1)!.split('@')[1], snaps[1]!.at(-1)!.split('@')[1], 'each job its own snapshot name');

  runner.calls.length = 0;
  const statusFile = join(s.dir, 'status.json');
  const metricsFile = join(s.dir, 'kt.prom');
  const bad = cfg(`[defaults]\nengine = "command"\ncommand = "tool-a"\nstatus_file = "${statusFile}"\nmetrics_file = "${metricsFile}"\nmax_age = "26h"\n[jobs.a]\ndatasets = ["tank/a"]\nmount_root = "${roots}/ra"\n[jobs.b]\ndatasets = ["tank/nope"]\nmount_root = "${roots}/rb"\n`);
  s.events.length = 0;
  const badCode = await runCommand(parseCommandLine(['--config', bad, 'run'], KOPIATOMIC), s.ctx);
  assert.equal(badCode, EXIT.usage);
  assert.match(String(s.of('log').find((e) => e['level'] === 'error')?.['message']), /:11:1: job b: no such ZFS filesystem: tank\/nope/);
  assert.deepEqual(runner.argvs.filter((c) => c[1] !== 'list'), [], 'nothing but zfs list ran: job a did not run either');
  // ... and the failure is recorded for every job it was to run: monitoring must not keep showing the last good run.
  assert.deepEqual(s.of('summary').map((e) => [e['job'], e['status'], e['exitCode']]), [['a', 'usage', 2], ['b', 'usage', 2]]);
  const recorded = JSON.parse(readFileSync(statusFile, 'utf8')) as { jobs: Record<string, { status: string; exitCode: number; error: string; maxAgeSeconds: number }> };
  assert.deepEqual(Object.entries(recorded.jobs).map(([k, r]) => [k, r.status, r.exitCode, r.maxAgeSeconds]), [['a', 'usage', 2, 93600], ['b', 'usage', 2, 93600]]);
  assert.match(recorded.jobs['a']!.error, /no such ZFS filesystem: tank\/nope/);
  const prom = readFileSync(metricsFile, 'utf8');
  assert.match(prom, /kopiatomic_last_run_success\{job="a"[^}]*\} 0/);
  assert.match(prom, /kopiatomic_last_run_success\{job="b"[^}]*\} 0/);
  // A dry run that fails so records nothing.
  rmSync(statusFile);
  assert.equal(await runCommand(parseCommandLine(['--config', bad, 'run', '-n'], KOPIATOMIC), s.ctx), EXIT.usage);
  assert.equal(existsSync(statusFile), false);
});
