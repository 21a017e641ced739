// Issue 9 item 13: a mount point holding a newline used to make every run
// exit 70 (zfs list -H is tab/newline separated). Now that dataset is
// skipped with a reason and the rest is backed up; a mount point crafted to
// look like another row does not make anything be mounted where it points.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLEAN, KOPIATOMIC, leftovers, Pool, run, scratchDir, script, zfs } from './lib.js';

test('a newline in a mount point: that dataset is skipped, the others are backed up, nothing is left', async (t) => {
  const pool = Pool.create(['a', 'b', 'c']).destroyAfter(t);
  const work = scratchDir('newline');
  const root = '/kt-newline';
  zfs('set', `mountpoint=${pool.path('we')}\nird`, pool.ds('b'));
  // c's mount point imitates a row for a, pointing at /etc.
  zfs('set', `mountpoint=/x\t${pool.ds('c')}\n${pool.ds('a')}\ton\tyes\t-\t-\t/etc\t${pool.ds('a')}\ny`, pool.ds('c'));
  const recorder = script(work, 'record', `zfs list -H -t snapshot -o name | grep "@$KOPIATOMIC_SNAPSHOT$" > ${work}/snaps; findmnt -rn -o TARGET | grep "^${root}" > ${work}/mounts || true`);
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', recorder, '-r', pool.name]);
  assert.equal(r.code, 0, r.stderr);
  const snaps = readFileSync(`${work}/snaps`, 'utf8').trim().split('\n').map((s) => s.split('@')[0]);
  assert.deepEqual(snaps.sort(), [pool.ds()], 'only the pool itself: a (imitated), b and c (newlines) are not trusted');
  assert.deepEqual(readFileSync(`${work}/mounts`, 'utf8').trim().split('\n'), [`${root}${pool.path()}`]);
  assert.deepEqual(leftovers([pool], root), CLEAN);
});
