// Power cut, second boot (after cut.test.js reset the guest in the middle of
// a backup): the pools are imported as a boot would, our snapshots and holds
// are still there (else the test proves nothing), and the first run with the
// same mount root and journal directory recovers everything, touches nothing
// foreign and makes its own backup.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLEAN, foreignState, KOPIATOMIC, ourLeftovers, run, scratchDir, script, sh, shOk } from '../e2e/lib.js';
import { backupArgs, journalExists, pools, POOLS, ROOT, SEEN, type Seen } from './power-cut.js';

const seen = JSON.parse(readFileSync(SEEN, 'utf8')) as Seen;

test('after the power cut: the pools import, our snapshots and holds survived, nothing is mounted in the tree', (t) => {
  for (const name of POOLS) {
    // Never exported: a boot imports it from its cache file; here by hand.
    if (!shOk('zpool', 'import', '-d', '/dev/disk/by-id', name)) {
      t.diagnostic(`zpool import ${name} needed -f`);
      sh('zpool', 'import', '-f', '-d', '/dev/disk/by-id', name);
    }
  }
  const now = ourLeftovers(pools(), ROOT, seen.foreignSnaps);
  assert.deepEqual(now.snapshots, seen.ours.snapshots, 'our snapshots survived the cut');
  assert.deepEqual(now.holds, seen.ours.holds, 'and their holds');
  assert.deepEqual(now.mounts, [], 'a boot mounts nothing in the tree');
  assert.ok(journalExists(), 'the journal survived the cut');
});

test('after the power cut: the first run recovers everything, touches nothing foreign, and backs up', async () => {
  try {
    const work = scratchDir('power-cut-after');
    const saw = `${work}/saw`;
    const engine = script(work, 'engine.sh', `cat "$1/${POOLS[0]}/a/file.txt" "$1/${POOLS[1]}/x/file.txt" > '${saw}'`);
    const r = await run(KOPIATOMIC, backupArgs(engine));
    assert.equal(r.code, 0, `${r.stderr}${r.stdout.slice(-2000)}`);
    assert.equal(readFileSync(saw, 'utf8'), `content of ${POOLS[0]}/a\ncontent of ${POOLS[1]}/x\n`, "the run's own backup saw the tree");
    assert.deepEqual(ourLeftovers(pools(), ROOT, seen.foreignSnaps), CLEAN, 'none of ours is left: snapshots, holds, mounts, directories');
    assert.equal(existsSync(ROOT), false, 'the mount root is removed');
    assert.equal(journalExists(), false, 'the journal is done');
    assert.deepEqual(foreignState(pools(), seen.foreignSnaps), seen.foreign, 'every foreign thing is as it was');
    assert.equal(readFileSync(`/${POOLS[0]}/clone/mine.txt`, 'utf8'), "the user's work\n", "the user's clone keeps its file");
  } finally {
    for (const p of pools()) p.destroy();
  }
});
