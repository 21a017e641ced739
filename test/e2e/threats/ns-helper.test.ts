// Threat: the paths layout's namespace helper (ns-exec), also used by the
// verification. Large jobs must never become one argv word (E2BIG), the
// engine must read KOPIATOMIC_DATASETS_FILE there, and what a SIGKILLed run
// left in the runtime state directory is gone after the next run.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { CLEAN, leftovers, Pool, RESTOMIC, restic, resticRepo, run, scratchDir, script } from '../lib.js';

const STATE = '/run/kopiatomic';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The per-process directories of the runtime state directory. */
const procDirs = () => (existsSync(STATE) ? readdirSync(STATE).filter((n) => n.startsWith('proc-')) : []);

test('--verify with the paths layout and 10 mount points of 3800 bytes each: no E2BIG, verified, the engine reads KOPIATOMIC_DATASETS_FILE', async (t) => {
  const names = Array.from({ length: 10 }, (_, i) => `d${i}`);
  // Long real mount points: the comparison's job is well over the 128 KiB one argv word may hold.
  const long = (i: number) => `/kt-nsbig-${process.pid}/m${i}/${Array.from({ length: 15 }, () => 'x'.repeat(250)).join('/')}`;
  const pool = Pool.create(names.map((name, i) => ({ name, props: { mountpoint: long(i) } })));
  t.after(() => {
    pool.destroy();
    rmSync(`/kt-nsbig-${process.pid}`, { recursive: true, force: true });
  });
  for (const i of names.keys()) readdirSync(long(i)); // mounted there
  const dir = scratchDir('nsbig');
  const seen = `${dir}/datasets-seen`;
  const wrapper = script(dir, 'restic-wrapper', `[ "$1" = backup ] && cat "$KOPIATOMIC_DATASETS_FILE" > ${seen}\nexec restic "$@"`);
  const repo = resticRepo();
  const r = await run(RESTOMIC, ['--json', '--verify', '--layout', 'paths', '--mount-root', '/kt-nsbig', '--engine', 'restic', '-c', `${wrapper} backup`, ...names.map((n) => pool.ds(n))], {
    env: repo,
    timeoutMs: 600_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /E2BIG/);
  assert.deepEqual(readFileSync(seen, 'utf8').trim().split('\n').sort(), names.map((n) => pool.ds(n)).sort(), 'the engine read the list of datasets inside the namespace');
  const paths = (JSON.parse(restic(repo, 'snapshots', '--json')) as { paths: string[] }[])[0]!.paths.sort();
  assert.deepEqual(paths, names.map((_, i) => long(i)).sort(), 'restic backed up the real long paths');
  assert.deepEqual(leftovers([pool], '/kt-nsbig'), CLEAN);
  assert.deepEqual(procDirs(), [], 'no run files left in /run/kopiatomic');
});

test("paths layout with restic's cache on a frozen dataset: the engine reads KOPIATOMIC_DATASETS_FILE; SIGKILLed, the run leaves its files in /run/kopiatomic and the next run removes them", async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const dir = scratchDir('nskill');
  const gate = `${dir}/started`;
  const seen = `${dir}/datasets-seen`;
  // The engine records what it sees, then is `sleep` itself, so that stopping it leaves no process in the namespace.
  const slow = script(
    dir,
    'restic-slow',
    `[ "$1" = backup ] && { cat "$KOPIATOMIC_DATASETS_FILE" > ${seen}; grep -c kopiatomic-ns /proc/self/mountinfo > ${dir}/staged; touch ${gate}; exec sleep 60; }\nexec restic "$@"`,
  );
  // restic's cache on the frozen dataset: ns-exec stages it on its private tmpfs, which must not hide the run's files.
  const repo = { ...resticRepo(), RESTIC_CACHE_DIR: pool.path('a/.cache/restic') };
  const before = new Set(procDirs());
  const first = run(RESTOMIC, ['--json', '--layout', 'paths', '--mount-root', '/kt-nskill', '--engine', 'restic', '-c', `${slow} backup`, pool.ds('a')], { env: repo, timeoutMs: 120_000 });
  const until = Date.now() + 90_000;
  while (!existsSync(gate)) {
    if (Date.now() > until) throw new Error('the engine never started');
    await sleep(50);
  }
  assert.ok(Number(readFileSync(`${dir}/staged`, 'utf8')) > 0, 'the staging tmpfs was mounted in the namespace');
  assert.equal(readFileSync(seen, 'utf8'), `${pool.ds('a')}\n`, 'the engine read the list of datasets inside the namespace');
  const mine = procDirs().filter((n) => !before.has(n));
  assert.equal(mine.length, 1, `one directory for the run's files: ${JSON.stringify(procDirs())}`);
  assert.ok(readdirSync(`${STATE}/${mine[0]}`).some((n) => n.endsWith('.datasets')), 'it holds the list of datasets');
  // SIGKILL kopiatomic itself: nothing of it runs its cleanup.
  const pid = Number(/^proc-(\d+)-/.exec(mine[0]!)![1]);
  process.kill(pid, 'SIGKILL');
  await first;
  // ns-exec notices its parent is gone and stops the engine; wait for the namespace to go.
  const gone = Date.now() + 30_000;
  while (existsSync(`/proc/${pid}`) && Date.now() < gone) await sleep(100);
  assert.ok(existsSync(`${STATE}/${mine[0]}`), 'the killed run left its directory');

  const second = await run(RESTOMIC, ['--json', '--layout', 'paths', '--mount-root', '/kt-nskill', pool.ds('a')], { env: repo, timeoutMs: 300_000 });
  assert.equal(second.code, 0, second.stderr);
  assert.equal(existsSync(`${STATE}/${mine[0]}`), false, 'the next run removed the dead run\'s directory');
  assert.deepEqual(procDirs().filter((n) => !before.has(n)), [], 'and left none of its own');
  assert.deepEqual(leftovers([pool], '/kt-nskill'), CLEAN);
});
