// Threat: a zfs command that never returns (a suspended pool). A wrapper on
// PATH makes `zfs snapshot` hang: kopiatomic kills it at --zfs-timeout, exits
// 9, releases its lock and leaves nothing behind.
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { test } from 'node:test';
import { CLEAN, KOPIATOMIC, leftovers, Pool, run, scratchDir, script, sh } from '../lib.js';
import { forgetRoot, gone, lockOf } from './common.js';

test('a zfs snapshot that hangs: killed at the limit, exit 9, the lock free, nothing left; the next run works', async (t) => {
  const root = `/kt-hang-${process.pid}`;
  const pool = Pool.create(['a']);
  const work = scratchDir('hang');
  const real = realpathSync(sh('sh', '-c', 'command -v zfs').trim());
  script(work, 'zfs', `if [ "$1" = snapshot ]; then exec sleep 4242; fi\nexec ${real} "$@"`);
  const args = ['--json', '--mount-root', root, '--engine', 'command', '-c', 'true', '-r', pool.ds('a')];
  t.after(() => {
    pool.destroy();
    forgetRoot(root);
  });
  const t0 = Date.now();
  const r = await run(KOPIATOMIC, ['--zfs-timeout', '3', ...args], { env: { PATH: `${work}:${process.env['PATH']}` } });
  const took = (Date.now() - t0) / 1000;
  assert.equal(r.code, 9, r.stderr);
  assert.ok(took < 60, `it stopped soon after the limit (${took} s)`);
  assert.doesNotMatch(sh('ps', '-eo', 'args'), /sleep 4242/, 'the hung command was killed');
  assert.ok(gone(lockOf(root)), 'the lock is free');
  assert.deepEqual(leftovers([pool], root), CLEAN);
  assert.ok(gone(root));
  const again = await run(KOPIATOMIC, args);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(leftovers([pool], root), CLEAN);
});
