// Issue 3, failures: each gives its documented exit code, and every one
// passes the same nothing-left-behind check.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLEAN, KOPIATOMIC, leftovers, Pool, resticRepo, RESTOMIC, run, scratchDir, sh, summary, script, mountsUnder, waitFor } from './lib.js';

/** How many `zfs snapshot` commands ever ran on the pool. */
function snapshotCalls(pool: Pool): number {
  return sh('zpool', 'history', pool.name).split('\n').filter((l) => / zfs snapshot /.test(l)).length;
}

test('engine exit 1: backup failed (exit 1), nothing left behind', async (t) => {
  const pool = Pool.create(['a', 'b']).destroyAfter(t);
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', '/kt-f1', '--engine', 'command', '-c', 'sh -c "exit 1" sh', '-r', pool.name]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(summary(r)?.['status'], 'backup-failed');
  assert.equal(snapshotCalls(pool), 1);
  assert.deepEqual(leftovers([pool], '/kt-f1'), CLEAN);
});

test('restic exit 3: partial backup (exit 3), nothing left behind', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const work = scratchDir('partial');
  const env = resticRepo();
  const wrapper = script(work, 'restic3', 'if [ "$1" = backup ]; then restic "$@"; exit 3; fi\nexec restic "$@"');
  const r = await run(RESTOMIC, ['--json', '--engine', 'restic', '-c', `${wrapper} backup`, pool.ds('a')], { env });
  assert.equal(r.code, 3, r.stderr);
  assert.equal(summary(r)?.['status'], 'partial');
  assert.deepEqual(leftovers([pool], '/restic'), CLEAN);
});

test('a failing pre hook stops the run before any snapshot (exit 4); the post hook still runs and sees the status', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const work = scratchDir('prehook');
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', '/kt-f2', '--engine', 'command', '-c', `touch ${work}/engine-ran`, '-p', 'exit 7', '-q', `echo "$KOPIATOMIC_STATUS $KOPIATOMIC_EXIT_CODE" > ${work}/post`, pool.ds('a')]);
  assert.equal(r.code, 4, r.stderr);
  assert.equal(snapshotCalls(pool), 0, 'no snapshot was ever taken');
  assert.equal(existsSync(`${work}/engine-ran`), false);
  assert.equal(readFileSync(`${work}/post`, 'utf8'), 'setup-failed 4\n');
  assert.deepEqual(leftovers([pool], '/kt-f2'), CLEAN);
});

test('hooks run through /bin/sh with the KOPIATOMIC_* variables; the post hook runs last', async (t) => {
  const pool = Pool.create(['a', 'a/b']).destroyAfter(t);
  const work = scratchDir('hooks');
  const r = await run(KOPIATOMIC, [
    '--json', '--mount-root', '/kt-hooks', '--engine', 'command', '-c', `sh -c 'echo engine >> ${work}/order' sh`,
    '-p', `echo pre >> ${work}/order; env | grep ^KOPIATOMIC_ | sort > ${work}/pre-env`,
    '-q', `echo post >> ${work}/order; echo "$KOPIATOMIC_STATUS" > ${work}/status; test -z "$(zfs list -H -t snapshot -o name | grep @$KOPIATOMIC_SNAPSHOT)" && echo clean > ${work}/at-post`,
    '-r', pool.ds('a'),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(`${work}/order`, 'utf8'), 'pre\nengine\npost\n');
  const env = readFileSync(`${work}/pre-env`, 'utf8');
  assert.match(env, /^KOPIATOMIC_RUN_ID=\S+$/m);
  assert.match(env, /^KOPIATOMIC_SNAPSHOT=kopiatomic-\S+$/m);
  assert.match(env, /^KOPIATOMIC_MOUNT_ROOT=\/kt-hooks$/m);
  assert.match(env, new RegExp(`^KOPIATOMIC_DATASETS=${pool.ds('a')}$`, 'm'));
  assert.equal(readFileSync(`${work}/status`, 'utf8'), 'ok\n');
  assert.equal(readFileSync(`${work}/at-post`, 'utf8'), 'clean\n', 'snapshots are gone before the post hook runs');
});

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  const code = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 }[sig];
  test(`${sig} during the backup is forwarded to the engine, then cleanup runs (exit ${code})`, async (t) => {
    const pool = Pool.create(['a', 'a/b']).destroyAfter(t);
    const work = scratchDir('signal');
    const engine = script(work, 'slow', `trap 'echo got-${sig} > ${work}/engine-signal; exit 99' ${sig.slice(3)}\n: > ${work}/trapped\nwhile :; do sleep 0.1; done`);
    const r = await run(KOPIATOMIC, ['--json', '--mount-root', '/kt-sig', '--engine', 'command', '-c', engine, '-r', pool.ds('a')], {
      onEvent: (e, child) => {
        // Once the engine's trap is set (a fixed pause can be too short on a busy host).
        if (e['event'] === 'backup-start') void waitFor('the engine to set its trap', () => existsSync(`${work}/trapped`), 60_000).then(() => child.kill(sig));
      },
    });
    assert.equal(r.code, code, r.stderr);
    assert.equal(summary(r)?.['status'], 'interrupted');
    assert.equal(readFileSync(`${work}/engine-signal`, 'utf8'), `got-${sig}\n`);
    assert.deepEqual(leftovers([pool], '/kt-sig'), CLEAN);
  });
}

test('SIGTERM during setup (in the pre hook) stops before the snapshot and leaves nothing', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', '/kt-sig2', '--engine', 'command', '-c', 'true', '-p', 'exec sleep 30', pool.ds('a')], {
    onEvent: (e, child) => {
      if (e['event'] === 'hook-start') setTimeout(() => child.kill('SIGTERM'), 300);
    },
  });
  assert.equal(r.code, 143, r.stderr);
  assert.equal(snapshotCalls(pool), 0);
  assert.deepEqual(leftovers([pool], '/kt-sig2'), CLEAN);
});

test('an unmount that fails leaves its folder in place, says so, and exits 5', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const work = scratchDir('busy');
  // The engine leaves a process behind with its working folder inside the
  // snapshot mount, so the unmount is refused (busy).
  const engine = script(work, 'leave-busy', `cd "$1"/*/a && { sleep 120 </dev/null >/dev/null 2>&1 & echo $! > ${work}/pid; }`);
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', '/kt-busy', '--engine', 'command', '-c', engine, pool.ds('a')]);
  assert.equal(r.code, 5, r.stderr);
  assert.equal(summary(r)?.['status'], 'cleanup-incomplete');
  assert.match(r.stderr + r.stdout, /in place/);
  assert.equal(mountsUnder('/kt-busy').length, 1, 'the busy snapshot mount is still there');
  // The folder stays (no rm -r of a mounted snapshot); once the process is
  // gone, `kopiatomic cleanup` repairs everything.
  process.kill(Number(readFileSync(`${work}/pid`, 'utf8')), 'SIGKILL');
  await new Promise((res) => setTimeout(res, 500));
  const c = await run(KOPIATOMIC, ['cleanup', '--json', '--mount-root', '/kt-busy']);
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(leftovers([pool], '/kt-busy'), CLEAN);
});
