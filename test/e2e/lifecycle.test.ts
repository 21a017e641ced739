// A backup's whole life, with the operator's configuration as the issue
// writes it: one job `home`, restic, two repositories (a local directory and
// one offsite in form: restic over SFTP to OpenSSH on the guest's loopback,
// with a key of its own, a non-root account and a password of its own), and
// retention. Asserted on what restic shows in each repository, the status
// file and the files restored, never on what kopiatomic printed:
// - four runs leave exactly 3 of home's snapshots in each repository, while a
//   snapshot made by hand, one of another job and one of another host survive;
// - both repositories' snapshots of one run carry the same frozen snapshot and
//   the same time;
// - with the offsite host unreachable the local repository still gets its
//   backup (and with the local one gone, the offsite one: a failure does not
//   stop the next), the run exits non-zero and the status file names the
//   repository that failed;
// - `exec home -- snapshots --json` lists the repository's snapshots, exit
//   code passed through, no secret in any argv;
// - `restore home --target DIR REAL_PATH` gives back exactly what the
//   snapshot held, not what the files are now;
// - `forget -n` changes nothing, `forget` applies the same retention;
// - `check` exits 0, and non-zero once a pack file is damaged.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { argvLogger, CLEAN, damagePack, KOPIATOMIC, leftovers, Pool, restic, run, SCRATCH, scratchDir, treeDigest, type ExecResult } from './lib.js';
import { SFTP_SKIP, SftpHost } from './sftp.js';

interface Snap {
  id: string;
  time: string;
  hostname: string;
  tags?: string[];
  paths: string[];
}

const JOB_TAG = 'kopiatomic-job:home';
const MOUNT_ROOT = '/restic'; // restic's default: the configuration names none
const CACHE = { RESTIC_CACHE_DIR: `${SCRATCH}/restic-cache` };

describe('lifecycle: two repositories, one local and one over SFTP, with retention', { skip: SFTP_SKIP }, () => {
  let pool: Pool;
  let offsite: SftpHost;
  let work: string;
  let cfg: string;
  let statusFile: string;
  const repos: Record<'local' | 'offsite', NodeJS.ProcessEnv> = { local: {}, offsite: {} };
  /** Snapshots not made by the job, in each repository: they must survive every retention. */
  const foreign: Record<'local' | 'offsite', string[]> = { local: [], offsite: [] };
  /** What the real path held at the last successful run's backup (before it changed). */
  let backedUp: Record<string, string>;

  const snaps = (repo: 'local' | 'offsite'): Snap[] => JSON.parse(restic(repos[repo], 'snapshots', '--json')) as Snap[];
  /** home's snapshots made on this host: the job's retention scope. */
  const homeOf = (list: Snap[]) => list.filter((s) => s.hostname === hostname() && s.tags?.includes(JOB_TAG));
  const homeSnaps = (repo: 'local' | 'offsite') => homeOf(snaps(repo));
  const ids = (ss: Snap[]) => ss.map((s) => s.id).sort();
  /** The run's own tag: the name of its ZFS snapshots. */
  const runTag = (s: Snap) => s.tags?.find((t) => t.startsWith('kopiatomic-') && !t.includes(':'));

  const kopiatomic = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<ExecResult> =>
    // No repository or password from the environment: the configuration names
    // them. (No --json: exec passes the engine's output through as it is.)
    run(KOPIATOMIC, ['--config', cfg, ...args], { env: { RESTIC_REPOSITORY: '', RESTIC_PASSWORD: '', ...CACHE, ...env }, timeoutMs: 300_000 });
  const runHome = () => kopiatomic(['run', 'home']);

  /** The repositories' results of home's last run, as the status file records them: name -> succeeded. */
  function recorded(): Record<string, boolean> {
    const job = (JSON.parse(readFileSync(statusFile, 'utf8')) as { jobs: Record<string, { repositories?: { name: string; status: string }[] }> }).jobs['home'];
    assert.ok(job?.repositories, `the status file records home's repositories: ${JSON.stringify(job)}`);
    return Object.fromEntries(job.repositories.map((r) => [r.name, r.status === 'ok']));
  }

  before(async () => {
    work = scratchDir('lifecycle');
    pool = Pool.create(['home', 'home/alice', 'home/alice/docs', 'home/bob']);
    offsite = await SftpHost.create(join(work, 'offsite'));
    statusFile = join(work, 'state', 'status.json');
    mkdirSync(join(work, 'state'), { mode: 0o700 });

    const secret = (name: string, value: string) => {
      const f = join(work, name);
      writeFileSync(f, `${value}\n`, { mode: 0o600 });
      chmodSync(f, 0o600);
      return f;
    };
    const pw = secret('restic-pw', 'local-secret-e2e');
    const offsitePw = secret('restic-offsite-pw', 'offsite-secret-e2e');
    repos.local = { RESTIC_REPOSITORY: join(work, 'backup', 'restic'), RESTIC_PASSWORD: 'local-secret-e2e', ...CACHE };
    repos.offsite = { RESTIC_REPOSITORY: offsite.url(`${offsite.dirFor('restic')}`), RESTIC_PASSWORD: 'offsite-secret-e2e', ...CACHE };
    for (const r of ['local', 'offsite'] as const) restic(repos[r], 'init');

    // In each repository, before any run: a snapshot made by hand, one of
    // another job, and one of this job made on another host.
    const other = join(work, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'note'), 'not the job\'s\n');
    for (const r of ['local', 'offsite'] as const) {
      restic(repos[r], 'backup', '-q', other);
      restic(repos[r], 'backup', '-q', '--tag', 'kopiatomic-job:other', other);
      restic(repos[r], 'backup', '-q', '--host', 'elsewhere', '--tag', JOB_TAG, other);
      foreign[r] = ids(snaps(r));
      assert.equal(foreign[r].length, 3);
    }

    cfg = join(work, 'kopiatomic.toml');
    writeFileSync(
      cfg,
      `[jobs.home]
engine = "restic"
datasets = ["${pool.ds('home')}"]
recursive = true
env_files = { RESTIC_PASSWORD = "${pw}" }

[[jobs.home.repositories]]
name = "local"
env = { RESTIC_REPOSITORY = "${repos.local['RESTIC_REPOSITORY']}" }

[[jobs.home.repositories]]
name = "offsite"
env = { RESTIC_REPOSITORY = "${repos.offsite['RESTIC_REPOSITORY']}" }
env_files = { RESTIC_PASSWORD = "${offsitePw}" }

[jobs.home.retention]            # applied after each successful backup, per repository
keep_last = 3
keep_daily = 7
keep_weekly = 4
keep_monthly = 12
prune = true
`,
      { mode: 0o600 },
    );
    // The test's own status file for every command (check records there too),
    // in a drop-in, so that the main file is the operator's as written.
    mkdirSync(join(work, 'conf.d'));
    writeFileSync(join(work, 'conf.d', '50-test.toml'), `[defaults]\nstatus_file = "${statusFile}"\n`, { mode: 0o600 });
  });

  after(async () => {
    offsite?.teardown();
    pool?.destroy();
  });

  it('four runs: 3 of home\'s snapshots in each repository, the same frozen instant in both; others\' snapshots survive', async () => {
    const seen = { local: new Set<string>(), offsite: new Set<string>() };
    for (let i = 1; i <= 4; i++) {
      writeFileSync(pool.path('home/alice/docs/report.txt'), `report, version ${i}\n`);
      writeFileSync(pool.path(`home/bob/run-${i}`), `${i}\n`);
      if (i === 4) {
        writeFileSync(pool.path('home/alice/docs/old.txt'), 'gone after the backup\n');
        backedUp = treeDigest(pool.path('home/alice'));
      }
      const r = await runHome();
      assert.equal(r.code, 0, `run ${i}: ${r.stderr}`);
      assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN, `run ${i}`);
      // Each repository got one new snapshot of home, with the same ZFS snapshot and time.
      // (One listing per repository: each restic command costs seconds under emulation.)
      const listed = { local: snaps('local'), offsite: snaps('offsite') };
      const fresh = (['local', 'offsite'] as const).map((repo) => {
        const home = homeOf(listed[repo]);
        const added = home.filter((s) => !seen[repo].has(s.id));
        for (const s of added) seen[repo].add(s.id);
        assert.equal(added.length, 1, `run ${i}, ${repo}: one new snapshot of home: ${JSON.stringify(added)}`);
        assert.equal(home.length, Math.min(i, 3), `run ${i}, ${repo}: keep_last 3 (and one a day, week, month: the newest)`);
        assert.ok(home.every((s) => Date.parse(s.time) <= Date.parse(added[0]!.time)), `run ${i}, ${repo}: the new one is the newest`);
        const all = ids(listed[repo]);
        for (const f of foreign[repo]) assert.ok(all.includes(f), `run ${i}, ${repo}: ${f} (not the job's, or another host's) survives`);
        assert.equal(all.length, foreign[repo].length + home.length, `run ${i}, ${repo}: nothing else`);
        return added[0]!;
      });
      const [l, o] = fresh as [Snap, Snap];
      assert.ok(runTag(l), `run ${i}: the run's tag on ${JSON.stringify(l.tags)}`);
      assert.equal(runTag(l), runTag(o), `run ${i}: one frozen snapshot for both repositories`);
      assert.equal(l.time, o.time, `run ${i}: one backup time for both repositories`);
      assert.deepEqual(l.paths, o.paths, `run ${i}`);
    }
    // After the backup: the real path changes.
    writeFileSync(pool.path('home/alice/docs/report.txt'), 'changed after the backup\n');
    rmSync(pool.path('home/alice/docs/old.txt'));
    writeFileSync(pool.path('home/alice/new.txt'), 'made after the backup\n');
    assert.notDeepEqual(treeDigest(pool.path('home/alice')), backedUp);
  });

  it('`restore home --target DIR REAL_PATH` gives back exactly what the newest snapshot held; a non-empty target is refused', async () => {
    const real = pool.path('home/alice');
    const target = join(work, 'restored');
    const logger = argvLogger(join(work, 'restore-argv'), ['restic']);
    const r = await kopiatomic(['restore', 'home', '--target', target, real], logger.env);
    assert.equal(r.code, 0, r.stderr);
    // The real path lands where it is inside the backup, as restic restores
    // it: the tree layout's mount root, then the real path.
    assert.deepEqual(treeDigest(join(target, MOUNT_ROOT, real)), backedUp);
    assert.deepEqual(readdirSync(target), [MOUNT_ROOT.slice(1)], 'nothing but the path asked for');
    assert.deepEqual(readdirSync(join(target, MOUNT_ROOT, pool.path('home'))), ['alice'], 'nothing but the path asked for');
    const argv = logger.logged().flat().join('\n');
    assert.ok(logger.logged().some((a) => a[1] === 'restore'), 'restic restore ran');
    for (const secret of ['local-secret-e2e', 'offsite-secret-e2e']) assert.ok(!argv.includes(secret), 'no password in any argv');

    // The offsite repository: the same content.
    const target2 = join(work, 'restored-offsite');
    const o = await kopiatomic(['restore', 'home', '--repository', 'offsite', '--target', target2, real]);
    assert.equal(o.code, 0, o.stderr);
    assert.deepEqual(treeDigest(join(target2, MOUNT_ROOT, real)), backedUp);

    // Not into a directory that holds something.
    const busy = join(work, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'keep'), 'mine\n');
    const before = treeDigest(busy);
    const refused = await kopiatomic(['restore', 'home', '--target', busy, real]);
    assert.notEqual(refused.code, 0, 'a non-empty target is refused');
    assert.deepEqual(treeDigest(busy), before);
  });

  it('`exec home -- snapshots --json` lists the repository\'s snapshots with the job\'s secrets; its exit code is passed through', async () => {
    const logger = argvLogger(join(work, 'exec-argv'), ['restic']);
    for (const [args, repo] of [[[], 'local'], [['--repository', 'offsite'], 'offsite']] as const) {
      const r = await kopiatomic(['exec', 'home', ...args, '--', 'snapshots', '--json'], logger.env);
      assert.equal(r.code, 0, r.stderr);
      const listed = JSON.parse(r.stdout) as Snap[];
      assert.deepEqual(ids(listed), ids(snaps(repo)), repo);
      assert.ok(homeSnaps(repo).every((s) => listed.some((x) => x.id === s.id)), `${repo}: the job's snapshots are listed`);
    }
    const argv = logger.logged().flat().join('\n');
    for (const secret of ['local-secret-e2e', 'offsite-secret-e2e']) assert.ok(!argv.includes(secret), 'no password in any argv');
    assert.ok(logger.logged().some((a) => a.slice(1).join(' ') === 'snapshots --json'), 'the words after -- reach restic as they are');

    // restic's own exit code for a command it does not know, passed through.
    let want = 0;
    try {
      restic(repos.local, 'no-such-command');
    } catch (e) {
      want = (e as { status: number }).status;
    }
    assert.notEqual(want, 0);
    const bad = await kopiatomic(['exec', 'home', '--', 'no-such-command']);
    assert.equal(bad.code, want, bad.stderr);
  });

  it('`forget -n home` changes nothing; `forget home` applies the retention, only to the job\'s snapshots of this host', async () => {
    // One more of home's snapshots, older than the three kept, the same day
    // (keep_daily and the rest keep the newest of a day, a week, a month).
    const pad = (n: number) => String(n).padStart(2, '0');
    for (const repo of ['local', 'offsite'] as const) {
      const oldest = new Date(Math.min(...homeSnaps(repo).map((s) => Date.parse(s.time))) - 1000);
      const t = `${oldest.getFullYear()}-${pad(oldest.getMonth() + 1)}-${pad(oldest.getDate())} ${pad(oldest.getHours())}:${pad(oldest.getMinutes())}:${pad(oldest.getSeconds())}`;
      restic(repos[repo], 'backup', '-q', '--tag', JOB_TAG, '--time', t, join(work, 'other'));
      assert.equal(homeSnaps(repo).length, 4, repo);
    }
    const before = { local: snaps('local'), offsite: snaps('offsite') };
    const n = await kopiatomic(['forget', '-n', 'home']);
    assert.equal(n.code, 0, n.stderr);
    assert.deepEqual({ local: snaps('local'), offsite: snaps('offsite') }, before, 'forget -n changed nothing');

    const f = await kopiatomic(['forget', 'home']);
    assert.equal(f.code, 0, f.stderr);
    for (const repo of ['local', 'offsite'] as const) {
      const kept = homeSnaps(repo);
      assert.equal(kept.length, 3, repo);
      const newest3 = before[repo].filter((s) => s.hostname === hostname() && s.tags?.includes(JOB_TAG)).sort((a, b) => Date.parse(b.time) - Date.parse(a.time)).slice(0, 3);
      assert.deepEqual(ids(kept), ids(newest3), `${repo}: the newest three kept`);
      const all = ids(snaps(repo));
      for (const s of foreign[repo]) assert.ok(all.includes(s), `${repo}: ${s} survives`);
    }
  });

  it('offsite unreachable: the local repository still gets its backup, the run fails and the status file names offsite; and the other way round', async () => {
    const before = { local: ids(homeSnaps('local')), offsite: ids(homeSnaps('offsite')) };
    await offsite.stop();
    let r: ExecResult;
    try {
      r = await runHome();
    } finally {
      await offsite.start();
    }
    assert.notEqual(r.code, 0, 'the run fails when a repository failed');
    assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN);
    const local = homeSnaps('local');
    assert.equal(local.filter((s) => !before.local.includes(s.id)).length, 1, 'the local repository got its backup');
    assert.equal(local.length, 3, 'and its retention');
    assert.deepEqual(ids(homeSnaps('offsite')), before.offsite, 'nothing reached offsite');
    assert.deepEqual(recorded(), { local: true, offsite: false });

    // The first repository failing does not stop the next one.
    const localRepo = String(repos.local['RESTIC_REPOSITORY']);
    const offsiteBefore = ids(homeSnaps('offsite'));
    renameSync(localRepo, `${localRepo}.away`);
    let r2: ExecResult;
    try {
      r2 = await runHome();
    } finally {
      renameSync(`${localRepo}.away`, localRepo);
    }
    assert.notEqual(r2.code, 0);
    assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN);
    assert.equal(homeSnaps('offsite').filter((s) => !offsiteBefore.includes(s.id)).length, 1, 'offsite got its backup after local failed');
    assert.equal(existsSync(join(localRepo, 'config')), true);
    assert.deepEqual(recorded(), { local: false, offsite: true });
  });

  it('`check home` exits 0 on sound repositories and non-zero once a pack file of one is damaged', async () => {
    const checks = () =>
      Object.fromEntries(
        Object.entries((JSON.parse(readFileSync(statusFile, 'utf8')) as { checks?: Record<string, Record<string, { ok: boolean }>> }).checks?.['home'] ?? {}).map(([k, v]) => [k, v.ok]),
      );
    const ok = await kopiatomic(['check', 'home']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(checks(), { local: true, offsite: true }, 'each repository\'s check recorded');
    damagePack(String(repos.local['RESTIC_REPOSITORY']));
    const bad = await kopiatomic(['check', 'home']);
    assert.notEqual(bad.code, 0, 'a damaged pack file fails the check');
    assert.notEqual(bad.code, null, bad.stderr);
    assert.deepEqual(checks(), { local: false, offsite: true }, 'the failed repository recorded as failed');
  });
});
