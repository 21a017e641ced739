// Threat: an operator's second job, `kopiatomic cleanup` or a run whose mount
// root contains a live job's mount root. It must never unmount that job's
// tree in the middle of its backup: the lock refuses nested roots (exit 6),
// and even with the live job's lock gone, recovery leaves a live run's mounts
// alone. Asserted on the mount table, what the engine read, and zfs.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLEAN, KOPIATOMIC, leftovers, mountsUnder, Pool, run, scratchDir, script } from '../lib.js';
import { cue, forgetRoot, gone, lockOf, startHeld, waitForCue } from './common.js';

test('a live job at X/inner: cleanup and a run at X are refused, recovery without its lock leaves its mounts; its engine reads the frozen files', async (t) => {
  const X = `/kt-live-${process.pid}`;
  const inner = `${X}/inner`;
  const pool = Pool.create(['a', 'b']);
  const work = scratchDir('live');
  t.after(() => {
    cue(work);
    pool.destroy();
    forgetRoot(inner);
    forgetRoot(X);
  });
  mkdirSync(X, { mode: 0o755 });
  writeFileSync(`${pool.path('a')}/file`, 'frozen content\n');
  const engine = script(work, 'engine', waitForCue(work, `cat "$KOPIATOMIC_MOUNT_ROOT${pool.path('a')}/file" > '${work}/seen'`));
  const live = startHeld(KOPIATOMIC, ['--mount-root', inner, '--engine', 'command', '-c', engine, '-r', pool.ds('a')]);
  await live.started;
  const before = mountsUnder(inner).map((m) => `${m.source} ${m.target}`);
  assert.equal(before.length, 1, 'the live job has mounted its tree');

  const c = await run(KOPIATOMIC, ['--json', '--mount-root', X, 'cleanup']);
  assert.equal(c.code, 6, `cleanup at the outer root is refused: ${c.stderr}`);
  const other = await run(KOPIATOMIC, ['--json', '--mount-root', X, '--engine', 'command', '-c', 'true', pool.ds('b')]);
  assert.equal(other.code, 6, `a run at the outer root is refused: ${other.stderr}`);
  assert.deepEqual(pool.snapshots().filter((s) => s.startsWith(pool.ds('b') + '@')), [], 'the refused run made nothing');

  // The live job's lock is lost (an admin cleaned /run): recovery at X still proves the run alive.
  rmSync(lockOf(inner), { force: true });
  const c2 = await run(KOPIATOMIC, ['--json', '--mount-root', X, 'cleanup']);
  assert.equal(c2.code, 0, `nothing of a dead run to clean up: ${c2.stderr}`);
  assert.deepEqual(mountsUnder(inner).map((m) => `${m.source} ${m.target}`), before, 'the live job\'s mounts are all still there');

  cue(work);
  const r = await live.done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(`${work}/seen`, 'utf8'), 'frozen content\n', 'the engine read the file from the snapshot');
  assert.deepEqual(leftovers([pool], inner), CLEAN);
  assert.ok(gone(inner));
});
