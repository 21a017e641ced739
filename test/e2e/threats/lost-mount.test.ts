// Threat: one of the tree's mounts disappears while the engine runs (someone
// unmounts it from outside). The engine then saw an empty directory: the
// backup must fail (never exit 0) and leave nothing behind.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLEAN, KOPIATOMIC, leftovers, mountsUnder, Pool, scratchDir, script, sh } from '../lib.js';
import { cue, forgetRoot, gone, JOURNALS, key, startHeld, waitForCue } from './common.js';

test('a mount of the tree unmounted from outside during the backup: exit 1, and no snapshot, hold, mount or directory is left', async (t) => {
  const root = `/kt-lost-${process.pid}`;
  const pool = Pool.create(['a', 'b']);
  const work = scratchDir('lost');
  t.after(() => {
    cue(work);
    pool.destroy();
    forgetRoot(root);
  });
  writeFileSync(`${pool.path('b')}/file`, 'b\n');
  const engine = script(work, 'engine', waitForCue(work, `ls "$KOPIATOMIC_MOUNT_ROOT${pool.path('b')}" > '${work}/seen'`));
  const held = startHeld(KOPIATOMIC, ['--mount-root', root, '--engine', 'command', '-c', engine, '-r', pool.ds()]);
  await held.started;
  const target = `${root}${pool.path('b')}`;
  assert.ok(mountsUnder(root).some((m) => m.target === target), 'b is mounted in the tree');
  sh('umount', target);
  cue(work);
  const r = await held.done;
  assert.equal(r.code, 1, `the backup failed: ${r.stderr}`);
  assert.ok(existsSync(`${work}/seen`), 'the engine ran (and saw an empty directory)');
  assert.equal(sh('cat', `${work}/seen`), '');
  assert.deepEqual(leftovers([pool], root), CLEAN);
  assert.ok(gone(root), 'no mount root');
  assert.ok(gone(`${JOURNALS}/${key(root)}.journal`), 'no journal');
});
