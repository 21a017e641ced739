import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLEAN, KOPIATOMIC, leftovers, Pool, run, summary } from './lib.js';

test('a command-engine run snapshots, mounts, runs and leaves nothing', async () => {
  const pool = Pool.create(['a', 'b', 'b/nested']);
  try {
    const r = await run(KOPIATOMIC, ['--json', '--mount-root', '/kt-smoke', '-c', 'ls -R', '-r', pool.name]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(summary(r)?.['status'], 'ok');
    assert.deepEqual(leftovers([pool], '/kt-smoke'), CLEAN);
  } finally {
    pool.destroy();
  }
});
