// The backup's whole life with kopia, where kopia is installed (it is not in
// Debian, so the guest has none and this file skips there; the argv of every
// verb is checked against kopia's source in the unit tests). Two filesystem
// repositories from one frozen instant, the job tag, retention as kopia's
// own source policy, check, pass-through and restore, asserted on what
// kopia itself lists and on the restored files.
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { which } from '../../src/core/which.js';
import { CLEAN, KOPIATOMIC, leftovers, Pool, run, scratchDir, sh } from './lib.js';

interface Manifest {
  id: string;
  startTime: string;
  source: { path: string };
  tags?: Record<string, string>;
}

const PASSWORD = 'e2e-kopia-password';

test('kopia: two repositories from one instant, the job tag, retention by policy, check, exec and restore (runs only where kopia is installed)', { skip: which('kopia') ? false : 'kopia is not installed here' }, async (t) => {
  const pool = Pool.create(['home']).destroyAfter(t);
  const work = scratchDir('kopia-life');
  writeFileSync(pool.path('home/f'), 'first\n');
  const repos = ['r1', 'r2'].map((name) => ({ name, path: join(work, name), config: join(work, `${name}.config`) }));
  const kopia = (config: string, ...args: string[]) =>
    sh('env', `KOPIA_PASSWORD=${PASSWORD}`, `KOPIA_CONFIG_PATH=${config}`, 'KOPIA_CHECK_FOR_UPDATES=false', 'kopia', ...args);
  for (const r of repos) kopia(r.config, 'repository', 'create', 'filesystem', `--path=${r.path}`);
  // Not ours: a snapshot made by hand of another source, in the first repository.
  writeFileSync(join(work, 'by-hand'), 'by hand\n');
  kopia(repos[0]!.config, 'snapshot', 'create', join(work, 'by-hand'));
  const file = join(work, 'kopiatomic.toml');
  writeFileSync(
    file,
    `status_file = "${join(work, 'status.json')}"

[jobs.home]
engine = "kopia"
datasets = ["${pool.ds('home')}"]
mount_root = "/kt-kopia-life"
env = { KOPIA_PASSWORD = "${PASSWORD}", KOPIA_CHECK_FOR_UPDATES = "false" }
${repos.map((r) => `\n[[jobs.home.repositories]]\nname = "${r.name}"\nenv = { KOPIA_CONFIG_PATH = "${r.config}" }\n`).join('')}
[jobs.home.retention]
keep_last = 1
`,
  );
  chmodSync(file, 0o600);
  const cli = (...args: string[]) => run(KOPIATOMIC, [...args.slice(0, 1), '--config', file, ...args.slice(1)], { timeoutMs: 600_000 });
  const list = (config: string): Manifest[] => JSON.parse(kopia(config, 'snapshot', 'list', '--json', '--all')) as Manifest[];
  const ofJob = (ms: Manifest[]) => ms.filter((m) => m.tags?.['tag:kopiatomic-job'] === 'home');

  for (const content of ['first\n', 'second\n']) {
    writeFileSync(pool.path('home/f'), content);
    const r = await cli('run', 'home');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(leftovers([pool], '/kt-kopia-life'), CLEAN);
  }
  const times = repos.map((r) => {
    const mine = ofJob(list(r.config));
    assert.equal(mine.length, 1, `${r.name}: keep_last = 1 leaves one of the job's snapshots`);
    return mine[0]!.startTime;
  });
  assert.equal(new Set(times).size, 1, 'both repositories hold the same instant');
  assert.equal(list(repos[0]!.config).filter((m) => m.source.path === join(work, 'by-hand')).length, 1, 'the snapshot made by hand survives');

  assert.equal((await cli('check', 'home')).code, 0);

  const e = await cli('exec', 'home', '--repository', 'r2', '--', 'snapshot', 'list', '--json', '--all');
  assert.equal(e.code, 0, e.stderr);
  assert.deepEqual((JSON.parse(e.stdout) as Manifest[]).map((m) => m.id).sort(), list(repos[1]!.config).map((m) => m.id).sort());

  writeFileSync(pool.path('home/f'), 'changed after the backup\n');
  const target = join(work, 'restored');
  const r = await cli('restore', 'home', '--target', target, pool.path('home/f'));
  assert.equal(r.code, 0, r.stderr);
  const found = sh('find', target, '-type', 'f', '-name', 'f').trim().split('\n').filter(Boolean);
  assert.equal(found.length, 1, `one file restored: ${found.join(', ')}`);
  assert.equal(readFileSync(found[0]!, 'utf8'), 'second\n', 'the snapshot held the second content');
});
