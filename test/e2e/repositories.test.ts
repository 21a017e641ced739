// A repository that cannot be opened, among several from one frozen instant:
// the run exits 1, the next repository still gets its backup and its
// retention, the failed one's retention is skipped, and the status file names
// it. Asserted on what restic and the status file show. (One instant in every
// repository, the job tag, keep_last after four runs, foreign snapshots that
// survive, `forget -n` and `forget`: lifecycle.test.ts, with one repository
// local and one over SFTP.)
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

function writeConfig(dir: string, name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  chmodSync(f, 0o600);
  return f;
}

/** A job home backing up DATASET to the named repositories, with a retention. */
function config(o: { dataset: string; root: string; pw: string; cache: string; status: string; repos: string[][]; keepLast: number }): string {
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
