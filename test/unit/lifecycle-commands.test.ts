// check, exec and restore: each engine's repository verbs (argv), where a real
// path is inside the backup for either layout, the refusals, the engine's
// priority prefix, and what a check records (status file, metrics).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine } from '../../src/cli/args.js';
import { checkCommand } from '../../src/cli/check.js';
import { execCommand } from '../../src/cli/exec.js';
import type { CommandContext } from '../../src/cli/lifecycle.js';
import { checkTarget, restoreCommand } from '../../src/cli/restore.js';
import { withChecks, type JobState } from '../../src/cli/status.js';
import { KOPIATOMIC, RESTOMIC } from '../../src/config/job.js';
import { UsageError } from '../../src/core/errors.js';
import type { SystemRunner } from '../../src/core/exec.js';
import { Reporter } from '../../src/core/report.js';
import type { JobSnapshot } from '../../src/engine/engine.js';
import { kopiaEngine } from '../../src/engine/kopia.js';
import { priorityPrefix } from '../../src/engine/priority.js';
import { checkRestorePath, chooseRestore, insidePath } from '../../src/engine/restore-paths.js';
import { resticEngine } from '../../src/engine/restic.js';
import { Interrupt } from '../../src/execute/interrupt.js';
import { merge, mergeCheck, parse } from '../../src/ops/metrics.js';
import { readStatus, type CheckRecord } from '../../src/ops/status-file.js';
import { linux } from '../../src/platform/linux.js';
import { FakeRunner } from './helpers.js';
import { record } from './ops-helpers.js';

const restic = resticEngine.repository!;
const kopia = kopiaEngine.repository!;
const ID = 'a'.repeat(64);

test('restic: check, the job snapshots and restore as argv, with the global options of -o', () => {
  const base = restic.base(['restic', 'backup'], ['-r', '/backup/repo', '--exclude', '*.tmp', '--password-file=/root/pw']);
  assert.deepEqual(base, ['restic', '-r', '/backup/repo', '--password-file=/root/pw']);
  assert.deepEqual(restic.check(['restic'], null), ['restic', 'check']);
  assert.deepEqual(restic.check(['restic'], 5), ['restic', 'check', '--read-data-subset=5%']);
  assert.deepEqual(restic.check(['restic'], 2.5), ['restic', 'check', '--read-data-subset=2.5%']);
  assert.deepEqual(restic.check(['restic'], 100), ['restic', 'check', '--read-data']);
  assert.deepEqual(restic.snapshots(['restic'], 'home', 'h1'), ['restic', 'snapshots', '--json', '--tag', 'kopiatomic-job:home', '--host', 'h1']);
  const snap = { id: ID, time: '2026-01-01T00:00:00.000Z', paths: ['/restic'] };
  assert.deepEqual(restic.restore(['restic'], snap, '/srv/r', ['/restic/tank/home/alice/docs', '/restic/tank/home/bob']), [
    ['restic', 'restore', ID, '--target', '/srv/r', '--include', '/restic/tank/home/alice/docs', '--include', '/restic/tank/home/bob'],
  ]);
  assert.deepEqual(restic.restore(['restic'], snap, '/srv/r', []), [['restic', 'restore', ID, '--target', '/srv/r']]);
  const parsed = restic.parseSnapshots(JSON.stringify([{ id: ID, time: '2026-12-06T10:00:00.123456789+01:00', paths: ['/restic'], tags: ['x'] }, { id: 'b', time: 'not a time' }]));
  assert.deepEqual(parsed, [{ id: ID, time: '2026-12-06T09:00:00.123Z', paths: ['/restic'] }]);
});

test('kopia: snapshot verify, snapshot list --tags and snapshot restore ID/path into the path under the target', () => {
  const base = kopia.base(['kopia', '--config-file=/etc/k.config', 'snapshot', 'create'], []);
  assert.deepEqual(base, ['kopia', '--config-file=/etc/k.config']);
  assert.deepEqual(kopia.check(['kopia'], null), ['kopia', 'snapshot', 'verify', '--verify-files-percent=0']);
  assert.deepEqual(kopia.check(['kopia'], 10), ['kopia', 'snapshot', 'verify', '--verify-files-percent=10']);
  assert.deepEqual(kopia.snapshots(['kopia'], 'home', 'h1'), ['kopia', 'snapshot', 'list', '--json', '--tags', 'kopiatomic-job:home']);
  // tree: the source is the mount root
  const tree = { id: 'k1', time: 't', paths: ['/kopia'] };
  assert.deepEqual(kopia.restore(['kopia'], tree, '/srv/r', ['/kopia/tank/home/alice']), [['kopia', 'snapshot', 'restore', 'k1/tank/home/alice', '/srv/r/kopia/tank/home/alice']]);
  assert.deepEqual(kopia.restore(['kopia'], tree, '/srv/r', []), [['kopia', 'snapshot', 'restore', 'k1', '/srv/r/kopia']]);
  // paths: the source is the dataset's real mount point
  const paths = { id: 'k2', time: 't', paths: ['/tank/home'] };
  assert.deepEqual(kopia.restore(['kopia'], paths, '/srv/r', ['/tank/home/alice', '/tank/home']), [
    ['kopia', 'snapshot', 'restore', 'k2/alice', '/srv/r/tank/home/alice'],
    ['kopia', 'snapshot', 'restore', 'k2', '/srv/r/tank/home'],
  ]);
  assert.deepEqual(kopia.parseSnapshots(JSON.stringify([{ id: 'm1', startTime: '2026-12-06T10:00:00Z', source: { host: 'h', userName: 'root', path: '/kopia' } }])), [
    { id: 'm1', time: '2026-12-06T10:00:00.000Z', paths: ['/kopia'] },
  ]);
});

test('the command engine has no repository verbs', async () => {
  const { ENGINES } = await import('../../src/engine/index.js');
  assert.equal(ENGINES['command']!.repository, undefined);
});

test('a real path inside the backup: under the mount root in the tree layout, itself in the paths layout', () => {
  assert.equal(insidePath('/tank/home/alice/docs', true, '/restic'), '/restic/tank/home/alice/docs');
  assert.equal(insidePath('/', true, '/restic'), '/restic');
  assert.equal(insidePath('/tank/home/alice/docs', false, '/restic'), '/tank/home/alice/docs');
  assert.equal(checkRestorePath('/tank/home//alice/docs/'), '/tank/home/alice/docs');
  for (const bad of ['tank/home', '/tank/*', '/tank/a?b', '/tank/[x]', '/tank/a\\b']) assert.throws(() => checkRestorePath(bad), UsageError, bad);
});

test('the snapshot restored: the newest of the job (every one of that time), or the one named; a path it does not hold is refused', () => {
  const s = (id: string, time: string, paths: string[]): JobSnapshot => ({ id, time, paths });
  const snaps = [s('aaaa1111', '2026-01-01T00:00:00.000Z', ['/restic']), s('bbbb2222', '2026-01-02T00:00:00.000Z', ['/restic']), s('cccc3333', '2025-12-31T00:00:00.000Z', ['/restic'])];
  const tree = { snapshotId: null, paths: ['/tank/home/alice'], tree: true, mountRoot: '/restic' };
  assert.deepEqual(chooseRestore(snaps, tree, 'job'), [{ snap: snaps[1], inside: ['/restic/tank/home/alice'] }]);
  assert.deepEqual(chooseRestore(snaps, { ...tree, snapshotId: 'aaaa' }, 'job')[0]!.snap.id, 'aaaa1111');
  assert.throws(() => chooseRestore(snaps, { ...tree, snapshotId: 'dddd' }, 'job home'), /no snapshot dddd of job home/);
  assert.throws(() => chooseRestore(snaps, { ...tree, snapshotId: 'a' }, 'job'), UsageError); // too short to name one
  assert.throws(() => chooseRestore([], tree, 'job home'), /job home has no snapshot/);
  // paths layout, kopia: one snapshot per source, all of the run's time
  const run = [s('k1', '2026-01-02T00:00:00.000Z', ['/tank/home']), s('k2', '2026-01-02T00:00:00.000Z', ['/tank/data']), s('k0', '2026-01-01T00:00:00.000Z', ['/tank/home'])];
  const paths = { snapshotId: null, paths: [] as string[], tree: false, mountRoot: '/kopia' };
  assert.deepEqual(chooseRestore(run, paths, 'job').map((c) => c.snap.id), ['k1', 'k2']);
  assert.deepEqual(chooseRestore(run, { ...paths, paths: ['/tank/data/x'] }, 'job'), [{ snap: run[1], inside: ['/tank/data/x'] }]);
  assert.throws(() => chooseRestore(run, { ...paths, paths: ['/etc/passwd'] }, 'job'), /\/etc\/passwd is not in the backup/);
  // tree layout: /restic/... is not inside a snapshot of the paths layout
  assert.throws(() => chooseRestore(run, { ...paths, tree: true, paths: ['/tank/home/a'] }, 'job'), /not in the backup/);
});

test('a restore target must be absent or an empty directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-target-'));
  try {
    checkTarget(join(dir, 'new'));
    checkTarget(dir);
    writeFileSync(join(dir, 'f'), 'x');
    assert.throws(() => checkTarget(dir), /is not empty/);
    assert.throws(() => checkTarget(join(dir, 'f')), /is not a directory/);
    // A place another account can swap: a directory it owns, or one all can write.
    const user = join(dir, 'user');
    mkdirSync(user);
    chownSync(user, 65534, 65534);
    assert.throws(() => checkTarget(join(user, 'restore')), /restore target .*owned by uid 65534/);
    const open = join(dir, 'open');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    assert.throws(() => checkTarget(join(open, 'restore')), /restore target .*writable by others/);
    assert.deepEqual(readdirSync(user), []);
    assert.deepEqual(readdirSync(open), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('priority: nice(1) by the increment to the absolute value, ionice(1) on Linux only', () => {
  assert.deepEqual(priorityPrefix({ nice: null, ioClass: null }, 'linux', 0), { argv: [], note: null });
  assert.deepEqual(priorityPrefix({ nice: 10, ioClass: 'idle' }, 'linux', 0).argv, ['nice', '-n', '10', 'ionice', '-c', '3']);
  assert.deepEqual(priorityPrefix({ nice: 10, ioClass: 'best-effort' }, 'linux', 10).argv, ['nice', '-n', '0', 'ionice', '-c', '2']);
  assert.deepEqual(priorityPrefix({ nice: 5, ioClass: null }, 'linux', 10).argv, ['nice', '-n', '-5']);
  const bsd = priorityPrefix({ nice: 19, ioClass: 'idle' }, 'freebsd', 0);
  assert.deepEqual(bsd.argv, ['nice', '-n', '19']);
  assert.match(bsd.note!, /io_class idle is not applied/);
});

test('command lines: exec needs -- and one job; check --read-data; restore flags', () => {
  const e = parseCommandLine(['exec', 'home', '--repository', 'offsite', '--', 'snapshots', '--json'], KOPIATOMIC);
  assert.equal(e.mode, 'exec');
  assert.deepEqual(e.names, ['home', 'snapshots', '--json']);
  assert.equal(e.repository, 'offsite');
  assert.throws(() => parseCommandLine(['exec', 'home', 'snapshots'], KOPIATOMIC), /exec takes one job name/);
  assert.throws(() => parseCommandLine(['exec', 'home'], KOPIATOMIC), /after --/);
  assert.throws(() => parseCommandLine(['exec', '--', 'snapshots'], KOPIATOMIC), /exec takes one job name/);
  assert.equal(parseCommandLine(['check', '--read-data'], KOPIATOMIC).readData, 100);
  assert.equal(parseCommandLine(['check', '--read-data=2.5'], KOPIATOMIC).readData, 2.5);
  assert.equal(parseCommandLine(['check'], KOPIATOMIC).readData, null);
  assert.throws(() => parseCommandLine(['check', '--read-data=0'], KOPIATOMIC), /--read-data takes a percentage/);
  const r = parseCommandLine(['restore', 'home', '--target', '/srv/r', '--snapshot', 'abcd', '-n', '/tank/home/a'], RESTOMIC);
  assert.deepEqual([r.mode, r.names, r.target, r.snapshotId, r.dryRun], ['restore', ['home', '/tank/home/a'], '/srv/r', 'abcd', true]);
  assert.throws(() => parseCommandLine(['restore'], KOPIATOMIC), /restore needs a job name/);
});

test('a check is recorded beside the run: status file and metrics keep each other', () => {
  const c: CheckRecord = { job: 'home', repository: 'offsite', host: 'h', start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:01:00.000Z', ok: false, exitCode: 1, readPercent: 5 };
  const withRun = merge('', record({ job: 'home' }));
  const both = mergeCheck(withRun, c);
  const s = parse(both);
  assert.ok(s.some((x) => x.name === 'kopiatomic_last_run_success' && x.labels['job'] === 'home'));
  assert.deepEqual(s.find((x) => x.name === 'kopiatomic_check_success')?.labels, { job: 'home', repository: 'offsite', host: 'h' });
  assert.equal(s.find((x) => x.name === 'kopiatomic_check_last_time_seconds')?.value, Date.parse(c.end) / 1000);
  // the next run of the job keeps the check's series, the next check of another repository too
  const again = parse(mergeCheck(merge(both, record({ job: 'home' })), { ...c, repository: 'local', ok: true }));
  assert.deepEqual(again.filter((x) => x.name === 'kopiatomic_check_success').map((x) => [x.labels['repository'], x.value]).sort(), [['local', 1], ['offsite', 0]]);
  // status: a failed check makes the job critical
  const ok: JobState = { job: 'home', state: 'ok', reason: 'last run ok' };
  assert.equal(withChecks(ok, { local: { ...c, repository: 'local', ok: true } }).state, 'ok');
  const bad = withChecks(ok, { offsite: c, local: { ...c, repository: 'local', ok: true } });
  assert.deepEqual([bad.state, bad.reason, bad.checks?.map((x) => x.repository)], ['critical', 'last check of repository offsite failed', ['local', 'offsite']]);
});

/** A configuration with one restic job of two repositories, in its own directory. */
function setup(extra = '') {
  const dir = mkdtempSync(join(tmpdir(), 'kt-repo-cmd-'));
  mkdirSync(join(dir, 'state'));
  writeFileSync(join(dir, 'pw'), 'hunter2-secret\n', { mode: 0o600 });
  const config = join(dir, 'k.toml');
  writeFileSync(
    config,
    `status_file = "${dir}/state/status.json"
[jobs.home]
engine = "restic"
datasets = ["tank/home"]
metrics_file = "${dir}/state/metrics.prom"
nice = 7
io_class = "idle"
env_files = { RESTIC_PASSWORD = "${dir}/pw" }
${extra}
[[jobs.home.repositories]]
name = "local"
env = { RESTIC_REPOSITORY = "/backup/restic" }
[[jobs.home.repositories]]
name = "offsite"
env = { RESTIC_REPOSITORY = "sftp:backup@nas:/srv/restic" }
`,
  );
  return { dir, config, done: () => rmSync(dir, { recursive: true, force: true }) };
}

function context(runner: FakeRunner): CommandContext {
  const reporter = new Reporter({ json: false, verbosity: 0, name: 't', out: () => {}, err: () => {} });
  return { flavour: RESTOMIC, reporter, runner: runner as unknown as SystemRunner, platform: linux, interrupt: new Interrupt(reporter) };
}

test('check: every repository, with its env (the password there, not in argv), the priority prefix, each result recorded; exit 1 if one failed', async () => {
  const t = setup();
  try {
    const runner = new FakeRunner(() => new Error('no run() expected'), (argv, opts) => (opts.env?.['RESTIC_REPOSITORY']?.startsWith('sftp:') ? 1 : 0));
    const opts = parseCommandLine(['--config', t.config, 'check', '--read-data=5'], RESTOMIC);
    const code = await checkCommand(opts, context(runner));
    assert.equal(code, 1);
    const own = (await import('node:os')).getPriority();
    assert.deepEqual(runner.argvs, [0, 1].map(() => ['nice', '-n', String(7 - own), 'ionice', '-c', '3', 'restic', 'check', '--read-data-subset=5%']));
    assert.deepEqual(runner.liveEnv.map((e) => [e['RESTIC_REPOSITORY'], e['RESTIC_PASSWORD']]), [['/backup/restic', 'hunter2-secret'], ['sftp:backup@nas:/srv/restic', 'hunter2-secret']]);
    assert.ok(!runner.argvs.flat().some((w) => w.includes('hunter2')));
    const status = readStatus(join(t.dir, 'state/status.json'));
    assert.deepEqual(Object.values(status.checks!['home']!).map((c) => [c.repository, c.ok, c.readPercent]), [['local', true, 5], ['offsite', false, 5]]);
    const metrics = readFileSync(join(t.dir, 'state/metrics.prom'), 'utf8');
    assert.match(metrics, /kopiatomic_check_success\{job="home",repository="offsite",host="[^"]+"\} 0/);
  } finally {
    t.done();
  }
});

test('exec: the engine with the arguments, the chosen repository, its exit code; an unknown repository is refused', async () => {
  const t = setup();
  try {
    const runner = new FakeRunner(() => new Error('no run() expected'), () => 3);
    const ctx = context(runner);
    assert.equal(await execCommand(parseCommandLine(['--config', t.config, 'exec', 'home', '--repository', 'offsite', '--', 'snapshots', '--json'], RESTOMIC), ctx), 3);
    assert.deepEqual(runner.argvs, [['restic', 'snapshots', '--json']]);
    assert.equal(runner.liveEnv[0]!['RESTIC_REPOSITORY'], 'sftp:backup@nas:/srv/restic');
    assert.equal(runner.liveEnv[0]!['RESTIC_PASSWORD'], 'hunter2-secret');
    await assert.rejects(execCommand(parseCommandLine(['--config', t.config, 'exec', 'home', '--repository', 'nas', '--', 'snapshots'], RESTOMIC), ctx), /no repository named "nas"; its repositories: local, offsite/);
  } finally {
    t.done();
  }
});

test('restore: the newest snapshot of the job on this host, the real path under the mount root; -n runs no restore; a non-empty target is refused first', async () => {
  const t = setup();
  try {
    const listing = JSON.stringify([
      { id: 'a'.repeat(64), time: '2026-01-01T00:00:00Z', paths: ['/restic'] },
      { id: 'b'.repeat(64), time: '2026-01-02T00:00:00Z', paths: ['/restic'] },
    ]);
    const runner = new FakeRunner(() => ({ code: 0, stdout: listing, stderr: '' }), () => 0);
    const ctx = context(runner);
    const target = join(t.dir, 'out');
    const code = await restoreCommand(parseCommandLine(['--config', t.config, 'restore', 'home', '--target', target, '-n', '/tank/home/alice/docs'], RESTOMIC), ctx);
    assert.equal(code, 0);
    const { hostname } = await import('node:os');
    assert.deepEqual(runner.argvs, [['restic', 'snapshots', '--json', '--tag', 'kopiatomic-job:home', '--host', hostname()]]);
    // A target with something in it: refused before the repository is even read.
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'mine');
    await assert.rejects(restoreCommand(parseCommandLine(['--config', t.config, 'restore', 'home', '--target', target], RESTOMIC), ctx), /is not empty/);
    assert.equal(runner.calls.length, 1);
    assert.equal(readFileSync(join(target, 'keep'), 'utf8'), 'mine');
    // The restore itself (the fake engine writes nothing, so the path is reported missing: exit 1).
    rmSync(target, { recursive: true });
    const real = await restoreCommand(parseCommandLine(['--config', t.config, 'restore', 'home', '--target', target, '/tank/home/alice/docs'], RESTOMIC), ctx);
    assert.equal(real, 1);
    const own = (await import('node:os')).getPriority();
    assert.deepEqual(runner.argvs.at(-1), ['nice', '-n', String(7 - own), 'ionice', '-c', '3', 'restic', 'restore', 'b'.repeat(64), '--target', target, '--include', '/restic/tank/home/alice/docs']);
  } finally {
    t.done();
  }
});

test("the backup's engine command starts with the priority prefix, outside the namespace helper too", async () => {
  const { engineArgv } = await import('../../src/execute/namespace.js');
  const plan = { stateDir: '/run/kopiatomic', runId: 'r1', enginePrefix: ['nice', '-n', '5', 'ionice', '-c', '3'] };
  assert.deepEqual(engineArgv({ argv: ['restic', 'backup', '/restic'], env: {} }, plan), ['nice', '-n', '5', 'ionice', '-c', '3', 'restic', 'backup', '/restic']);
  const ns = engineArgv({ argv: ['restic', 'backup', '/tank/home'], env: {}, namespace: { mounts: [] } }, plan);
  assert.deepEqual(ns.slice(0, 7), ['nice', '-n', '5', 'ionice', '-c', '3', 'unshare']);
  assert.deepEqual(engineArgv({ argv: ['restic', 'backup', '/restic'], env: {} }, { stateDir: '/s', runId: 'r1' }), ['restic', 'backup', '/restic']);
});
