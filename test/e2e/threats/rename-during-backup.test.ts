// Threat: a dataset is renamed during the backup (`zfs rename POOL/p/c
// POOL/moved`), out from under the root that `zfs release -r` reaches. Its
// snapshot is followed by its recorded guid and createtxg: released and
// destroyed under its new name; when that cannot be done (the user cloned it)
// the run exits 5 and keeps its journal, and `cleanup` removes it by identity
// once the clone is gone.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { KOPIATOMIC, mountsUnder, Pool, run, scratchDir, script, zfs } from '../lib.js';
import { cmd, journalOf, namedOurs, ourHolds, teardown, why } from './common.js';

test('a dataset renamed during the backup: its snapshot is released and destroyed under the new name; exit 0', async (t) => {
  const root = '/kt-threat-rename';
  const pool = Pool.create(['p/c', 'p/d']);
  const work = scratchDir('threat-rename');
  t.after(() => teardown([pool], root));
  const engine = script(work, 'rename.sh', `zfs rename ${pool.ds('p/c')} ${pool.ds('moved')} || exit 9`);
  const r = await run(KOPIATOMIC, [...cmd(root, engine), pool.ds('p/c'), pool.ds('p/d')]);
  assert.equal(r.code, 0, why(r));
  assert.ok(zfs('list', '-H', '-o', 'name', pool.ds('moved')).includes(pool.ds('moved')), 'the rename happened');
  assert.deepEqual(namedOurs([pool]), [], 'no snapshot of ours, under any name');
  assert.deepEqual(ourHolds([pool]), [], 'no hold of ours anywhere');
  assert.deepEqual(mountsUnder(root), []);
  assert.equal(existsSync(journalOf(root)), false, 'nothing left: the journal is gone');
});

test('a renamed snapshot that a user then clones: exit 5, journal kept, no hold of ours; `cleanup` removes it by identity once the clone is gone', async (t) => {
  const root = '/kt-threat-rename-clone';
  const pool = Pool.create(['p/c', 'p/d']);
  const work = scratchDir('threat-rename-clone');
  t.after(() => teardown([pool], root));
  const engine = script(work, 'rename.sh', `zfs rename ${pool.ds('p/c')} ${pool.ds('moved')} || exit 9\nzfs clone "${pool.ds('moved')}@$KOPIATOMIC_SNAPSHOT" ${pool.ds('userclone')} || exit 9`);
  const r = await run(KOPIATOMIC, [...cmd(root, engine), pool.ds('p/c'), pool.ds('p/d')]);
  assert.equal(r.code, 5, why(r));
  const left = namedOurs([pool]);
  assert.equal(left.length, 1, `only the cloned one is left: ${left.join(' ')}`);
  assert.ok(left[0]!.startsWith(`${pool.ds('moved')}@kopiatomic-`), left[0]);
  assert.deepEqual(ourHolds([pool]), [], 'our hold was released by its new name');
  assert.ok(existsSync(journalOf(root)), 'the journal remembers it');
  assert.ok(zfs('list', '-H', '-o', 'name', pool.ds('userclone')).includes('userclone'), 'the clone survives');

  zfs('destroy', pool.ds('userclone'));
  const c = await run(KOPIATOMIC, ['cleanup', '--json', '--mount-root', root]);
  assert.equal(c.code, 0, why(c));
  assert.deepEqual(namedOurs([pool]), [], 'removed by identity under its new name');
  assert.deepEqual(ourHolds([pool]), []);
  assert.equal(existsSync(journalOf(root)), false, 'the journal is gone');
});
