// Several repositories from one frozen instant, the job tag and retention,
// with real restic and two local repositories: one run puts one snapshot of
// the same time in each, tagged with the job; keep_last = 3 after four runs
// leaves three of the job's snapshots, while one made by hand and one of
// another job survive; `forget -n` changes nothing, `forget` applies the
// retention alone; a repository that cannot be opened fails the run (exit 1)
// and the next repository still gets its backup, and the status file names
// the failed one. Asserted on what restic and the status file show.
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLEAN, KOPIATOMIC, leftovers, Pool, restic, resticRepo, run, scratchDir } from './lib.js';

interface Snap {
  id: string;
  time: string;
  tags?: string[];
  hostname: string;
}

const snaps = (env: NodeJS.ProcessEnv): Snap[] => JSON.parse(restic(env, 'snapshots', '--json')) as Snap[];
const ofJob = (list: Snap[], job: string) => list.filter((s) => s.tags?.includes(`kopiatomic-job:${job}`));
const ids = (list: Snap[]) => list.map((s) => s.id).sort();

function writeConfig(dir: string, name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  chmodSync(f, 0o600);
  return f;
}

/** A job home backing up DATASET to the named repositories, with a retention. */
function config(o: { dataset: string; root: string; pw: string; cache: string; status: string; repos: [string, string][]; keepLast: number }): string {
  return `[defaults]
engine = "restic"
status_file = "${o.status}"

[jobs.home]
datasets = ["${o.dataset}"]
mount_root = "${o.root}"
env = { RESTIC_CACHE_DIR = "${o.cache}" }
env_files = { RESTIC_PASSWORD = "${o.pw}" }
${o.repos.map(([name, repo]) => `\n[[jobs.home.repositories]]\nname = "${name}"\nenv = { RESTIC_REPOSITORY = "${repo}" }\n`).join('')}
[jobs.home.retention]
keep_last = ${o.keepLast}
`;
}

test('two repositories: one instant in each, the job tag, keep_last = 3 after four runs, forget -n changes nothing', async (t) => {
  const pool = Pool.create(['home']).destroyAfter(t);
  const work = scratchDir('repos');
  const [a, b] = [resticRepo(), resticRepo()];
  const pw = join(work, 'pw');
  writeFileSync(pw, `${a['RESTIC_PASSWORD']}\n`, { mode: 0o600 });
  // Not ours: one snapshot made by hand, one of another job, in each repository.
  writeFileSync(join(work, 'other-file'), 'other\n');
  for (const r of [a, b]) {
    restic(r, 'backup', '-q', join(work, 'other-file'));
    restic(r, 'backup', '-q', '--tag', 'kopiatomic-job:other', join(work, 'other-file'));
  }
  const foreign = [ids(snaps(a)), ids(snaps(b))];
  const opts = { dataset: pool.ds('home'), root: '/kt-repos', pw, cache: a['RESTIC_CACHE_DIR']!, status: join(work, 'status.json'), repos: [['local', a['RESTIC_REPOSITORY']!], ['offsite', b['RESTIC_REPOSITORY']!]] as [string, string][] };
  const cfg = writeConfig(work, 'kopiatomic.toml', config({ ...opts, keepLast: 3 }));
  const env = { RESTIC_PASSWORD: '', RESTIC_REPOSITORY: '' };

  for (let k = 1; k <= 4; k++) {
    writeFileSync(pool.path(`home/f${k}`), `${k}\n`);
    const r = await run(KOPIATOMIC, ['--json', '--config', cfg, 'run', 'home'], { env });
    assert.equal(r.code, 0, r.stderr);
    if (k === 1) {
      // One snapshot of the run in each repository, with the same time: the snapshot's.
      const [sa, sb] = [ofJob(snaps(a), 'home'), ofJob(snaps(b), 'home')];
      assert.equal(sa.length, 1);
      assert.equal(sb.length, 1);
      assert.equal(sa[0]!.time, sb[0]!.time, 'both repositories record the same instant');
      const runTag = sa[0]!.tags!.find((x) => /^kopiatomic-\d/.test(x));
      assert.ok(runTag, `the run tag is there: ${sa[0]!.tags}`);
      assert.ok(sb[0]!.tags!.includes(runTag), 'the same run in both');
    }
  }
  assert.deepEqual(leftovers([pool], '/kt-repos'), CLEAN);
  for (const [k, r] of [a, b].entries()) {
    const all = snaps(r);
    assert.equal(ofJob(all, 'home').length, 3, 'keep_last = 3 after four runs');
    for (const id of foreign[k]!) assert.ok(all.some((s) => s.id === id), 'the snapshot made by hand and the other job\'s survive');
    // The newest three runs are those kept: f4 is in the newest, f1 in none.
    const newest = ofJob(all, 'home').sort((x, y) => x.time.localeCompare(y.time)).at(-1)!;
    const listed = restic(r, 'ls', newest.id);
    assert.match(listed, /\/f4\n/);
  }

  // forget -n with a stricter retention shows, and changes nothing.
  const strict = writeConfig(work, 'strict.toml', config({ ...opts, keepLast: 1 }));
  const before = [ids(snaps(a)), ids(snaps(b))];
  const dry = await run(KOPIATOMIC, ['--config', strict, 'forget', '-n', 'home'], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual([ids(snaps(a)), ids(snaps(b))], before, 'forget -n changed nothing');
  // forget applies the retention alone, in each repository, to the job's snapshots only.
  const real = await run(KOPIATOMIC, ['--config', strict, 'forget', 'home'], { env });
  assert.equal(real.code, 0, real.stderr);
  for (const [k, r] of [a, b].entries()) {
    const all = snaps(r);
    assert.equal(ofJob(all, 'home').length, 1);
    for (const id of foreign[k]!) assert.ok(all.some((s) => s.id === id));
  }
});

test('a repository that cannot be opened: the next one still gets its backup, exit 1, the status file names it', async (t) => {
  const pool = Pool.create(['home']).destroyAfter(t);
  const work = scratchDir('repos-bad');
  const good = resticRepo();
  const pw = join(work, 'pw');
  writeFileSync(pw, `${good['RESTIC_PASSWORD']}\n`, { mode: 0o600 });
  writeFileSync(pool.path('home/f'), 'f\n');
  const status = join(work, 'status.json');
  const cfg = writeConfig(
    work,
    'kopiatomic.toml',
    config({ dataset: pool.ds('home'), root: '/kt-repos-bad', pw, cache: good['RESTIC_CACHE_DIR']!, status, repos: [['gone', join(work, 'no-such-repository')], ['good', good['RESTIC_REPOSITORY']!]], keepLast: 3 }),
  );
  const r = await run(KOPIATOMIC, ['--json', '--config', cfg, 'run', 'home'], { env: { RESTIC_PASSWORD: '', RESTIC_REPOSITORY: '' } });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(ofJob(snaps(good), 'home').length, 1, 'the repository after the failed one got its backup');
  assert.deepEqual(leftovers([pool], '/kt-repos-bad'), CLEAN);
  const rec = (JSON.parse(readFileSync(status, 'utf8')) as { jobs: Record<string, { status: string; error?: string; repositories?: { name: string; status: string; retention?: string }[] }> }).jobs['home']!;
  assert.equal(rec.status, 'backup-failed');
  assert.match(rec.error ?? '', /repository gone: backup-failed/);
  assert.deepEqual(
    rec.repositories?.map((x) => [x.name, x.status, x.retention]),
    [
      ['gone', 'backup-failed', 'skipped'],
      ['good', 'ok', 'ok'],
    ],
  );
});
