// check, exec and restore against a real restic repository (local) and real
// OpenZFS: `check` exits 0, and non-zero once a pack file is gone; `exec --
// snapshots --json` lists the job's snapshots with the password in the
// environment only (what restic's own /proc/PID/cmdline held, logged by a
// wrapper); `restore` of a real path gives back exactly what the snapshot
// held, not what the source holds now; a non-empty target is refused and
// left as it was; signals reach an exec'd engine and its exit status is
// ours; the job's nice and io_class are those of the engine process (read
// from /proc and ionice by the wrapper), not of zfs.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLEAN, damagePack, KOPIATOMIC, leftovers, Pool, restic, resticRepo, run, scratchDir, script, sh, startRun, treeDigest, waitFor } from './lib.js';

const ROOT = '/kt-life';

/** A line on the console per step: a slow guest must not look idle between two tests' results. */
const step = (what: string) => process.stderr.write(`[lifecycle-commands] ${new Date().toISOString().slice(11, 19)} ${what}\n`);

interface Setup {
  pool: Pool;
  work: string;
  repo: NodeJS.ProcessEnv;
  config: string;
  env: NodeJS.ProcessEnv;
  /** What the wrapper saw of each restic call: its argv (cmdline), nice value and I/O class. */
  calls(): { cmdline: string; nice: number; io: string }[];
}

function setup(t: { after(fn: () => void): void }): Setup {
  const pool = Pool.create(['home']).destroyAfter(t);
  const work = scratchDir('life');
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const repo = resticRepo();
  const pw = join(work, 'pw');
  writeFileSync(pw, `${repo['RESTIC_PASSWORD']}\n`);
  chmodSync(pw, 0o600);
  const real = sh('sh', '-c', 'command -v restic').trim();
  const log = join(work, 'calls.log');
  mkdirSync(join(work, 'bin'));
  // restic behind a wrapper: what the engine process really had (its own
  // cmdline from /proc, its nice value: field 19 of /proc/self/stat, its I/O
  // class from ionice), then the real restic in the same process.
  script(
    join(work, 'bin'),
    'restic',
    `{ printf 'cmdline=%s\\n' "$(tr '\\0' ' ' < /proc/$$/cmdline)"; printf 'nice=%s\\n' "$(cut -d' ' -f19 /proc/$$/stat)"; printf 'io=%s\\n--\\n' "$(ionice -p $$)"; } >> ${log}
if [ "$1" = linger ]; then trap 'echo TERM > ${work}/got-term; exit 143' TERM; : > ${work}/trapped; sleep 60 & wait; exit 0; fi
exec ${real} "$@"`,
  );
  // zfs behind one too: its nice value, which the job's must not change.
  script(join(work, 'bin'), 'zfs', `cut -d' ' -f19 /proc/$$/stat >> ${work}/zfs-nice.log\nexec ${sh('sh', '-c', 'command -v zfs').trim()} "$@"`);
  const config = join(work, 'kopiatomic.toml');
  writeFileSync(
    config,
    `status_file = "${work}/status.json"

[jobs.home]
engine = "restic"
datasets = ["${pool.ds('home')}"]
mount_root = "${ROOT}"
metrics_file = "${work}/metrics.prom"
nice = 7
io_class = "idle"
# The job tag, given here too so that this test stands on its own.
options = ["--tag", "kopiatomic-job:home"]
env = { RESTIC_REPOSITORY = "${repo['RESTIC_REPOSITORY']}", RESTIC_CACHE_DIR = "${repo['RESTIC_CACHE_DIR']}" }
env_files = { RESTIC_PASSWORD = "${pw}" }
`,
  );
  chmodSync(config, 0o600);
  const env = { PATH: `${work}/bin:${process.env['PATH']}`, RESTIC_PASSWORD: '', RESTIC_REPOSITORY: '' };
  const calls = () =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('--\n')
          .filter((b) => b.trim())
          .map((b) => {
            const f = Object.fromEntries(b.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
            return { cmdline: f['cmdline'] ?? '', nice: Number(f['nice']), io: f['io'] ?? '' };
          })
      : [];
  return { pool, work, repo, config, env, calls };
}

test('check, exec and restore of a job, with its priority and its secrets in the environment only', async (t) => {
  const s = setup(t);
  const { pool, work, repo, config, env } = s;
  const docs = pool.path('home/alice/docs');
  mkdirSync(join(docs, 'sub'), { recursive: true });
  writeFileSync(join(docs, 'a.txt'), 'version 1\n');
  writeFileSync(join(docs, 'sub/b.txt'), 'b\n');
  mkdirSync(pool.path('home/bob'));
  writeFileSync(pool.path('home/bob/x'), 'bob\n');
  const atSnapshot = treeDigest(docs);

  step('run');
  const backup = await run(KOPIATOMIC, ['--config', config, 'run', 'home'], { env });
  assert.equal(backup.code, 0, backup.stderr);
  assert.deepEqual(leftovers([pool], ROOT), CLEAN);
  // The engine ran at the job's priority; kopiatomic (and so zfs) did not.
  const engine = s.calls().find((c) => / backup /.test(c.cmdline))!;
  assert.equal(engine.nice, 7);
  assert.match(engine.io, /^idle/);
  const zfsNice = readFileSync(join(work, 'zfs-nice.log'), 'utf8').split('\n').filter(Boolean);
  assert.ok(zfsNice.length > 3 && zfsNice.every((n) => n === '0'), `zfs ran at nice ${zfsNice.join(' ')}`);

  // The source changes after the backup: the restore must give back the snapshot's.
  writeFileSync(join(docs, 'a.txt'), 'version 2\n');
  rmSync(join(docs, 'sub/b.txt'));

  // exec: restic's own listing, with the password in the environment only.
  step('exec -- snapshots --json');
  const listed = await run(KOPIATOMIC, ['--config', config, 'exec', 'home', '--', 'snapshots', '--json'], { env });
  assert.equal(listed.code, 0, listed.stderr);
  const snaps = JSON.parse(listed.stdout) as { id: string; paths: string[]; tags: string[] }[];
  const direct = JSON.parse(restic(repo, 'snapshots', '--json')) as { id: string }[];
  assert.deepEqual(snaps.map((x) => x.id), direct.map((x) => x.id));
  assert.equal(snaps.length, 1);
  assert.deepEqual(snaps[0]!.paths, [ROOT]);
  assert.ok(snaps[0]!.tags.includes('kopiatomic-job:home'));
  const execCall = s.calls().find((c) => / snapshots --json\s*$/.test(c.cmdline))!;
  assert.equal(execCall.nice, 0, 'exec is for a person at a terminal: no job priority');
  for (const c of s.calls()) assert.ok(!c.cmdline.includes(String(repo['RESTIC_PASSWORD'])), c.cmdline);
  // The engine's exit status is ours.
  const bad = await run(KOPIATOMIC, ['--config', config, 'exec', 'home', '--', 'cat', 'blob', 'nonexistent'], { env });
  let directCode = 0;
  try {
    restic(repo, 'cat', 'blob', 'nonexistent');
  } catch (e) {
    directCode = (e as { status: number }).status;
  }
  assert.notEqual(directCode, 0);
  assert.equal(bad.code, directCode);

  // restore of a real path: exactly what the snapshot held, and only that path.
  const target = join(work, 'restored');
  step('restore');
  const dry = await run(KOPIATOMIC, ['--config', config, 'restore', 'home', '-n', '--target', target, docs], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.ok(!existsSync(target), 'a dry run writes nothing');
  const r = await run(KOPIATOMIC, ['--config', config, 'restore', 'home', '--target', target, docs], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(treeDigest(join(target, ROOT, docs)), atSnapshot);
  assert.deepEqual(readdirSync(join(target, ROOT, pool.path('home'))), ['alice']);
  const restoreCall = s.calls().find((c) => / restore /.test(c.cmdline))!;
  assert.equal(restoreCall.nice, 7);

  // A target with something in it: refused (exit 2), left as it was.
  const full = join(work, 'full');
  mkdirSync(full);
  writeFileSync(join(full, 'keep'), 'mine\n');
  const before = treeDigest(full);
  const refused = await run(KOPIATOMIC, ['--config', config, 'restore', 'home', '--target', full, docs], { env });
  assert.equal(refused.code, 2);
  assert.deepEqual(treeDigest(full), before);

  // check: 0 on the sound repository, recorded in the status file and the metrics.
  step('check');
  const ok = await run(KOPIATOMIC, ['--config', config, 'check'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  const status = () => JSON.parse(readFileSync(join(work, 'status.json'), 'utf8')) as { checks: Record<string, Record<string, { ok: boolean }>> };
  assert.equal(status().checks['home']!['default']!.ok, true);
  // One pack file damaged: restic check fails, and so do we.
  damagePack(String(repo['RESTIC_REPOSITORY']));
  step('check of a damaged repository');
  const broken = await run(KOPIATOMIC, ['--config', config, 'check'], { env });
  assert.notEqual(broken.code, 0);
  assert.equal(broken.code, 1);
  assert.equal(status().checks['home']!['default']!.ok, false);
  assert.match(readFileSync(join(work, 'metrics.prom'), 'utf8'), /^kopiatomic_check_success\{job="home",repository="default",host="[^"]+"\} 0$/m);
  assert.match(readFileSync(join(work, 'metrics.prom'), 'utf8'), /^kopiatomic_last_run_success\{job="home",host="[^"]+"\} 1$/m);
});

test('exec: a SIGTERM to kopiatomic reaches the engine, whose exit status is ours', async (t) => {
  const s = setup(t);
  step('exec, SIGTERM');
  let pid = 0;
  const done = startRun(KOPIATOMIC, ['--config', s.config, 'exec', 'home', '--', 'linger'], s.env, (c) => (pid = c.pid!));
  await waitFor('the engine to start', () => s.calls().some((c) => / linger/.test(c.cmdline)), 30_000);
  // Its trap is set (a fixed pause was too short on a busy host: the TERM came first).
  await waitFor('the engine to set its trap', () => existsSync(join(s.work, 'trapped')), 30_000);
  process.kill(pid, 'SIGTERM');
  const r = await done;
  assert.equal(readFileSync(join(s.work, 'got-term'), 'utf8'), 'TERM\n');
  assert.equal(r.code, 143, r.stderr);
});
