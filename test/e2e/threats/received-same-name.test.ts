// Threat: during a backup a user copies our snapshot with `zfs send | zfs recv`
// (no -p: no property of ours) below the same dataset tree, so a snapshot of
// our exact name appears that is not ours (same guid, later createtxg). Neither
// the run, nor its exact destroy after a rename made the program fail, nor the
// recovery after a SIGKILL, nor `cleanup` may destroy or release it: nothing is
// destroyed by `-r`, each snapshot is followed by its recorded identity.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argvLogger, CLEAN, KOPIATOMIC, leftovers, Pool, run, scratchDir, script, zfs } from '../lib.js';
import { cmd, namedOurs, ourHolds, teardown, why } from './common.js';

test('a copy received under our name during the backup survives the run, even when a rename sends the destroy to its exact path', async (t) => {
  const root = '/kt-threat-recv-live';
  const pool = Pool.create(['a', 'b', 'backup']);
  const work = scratchDir('threat-recv-live');
  t.after(() => teardown([pool], root));
  // The copy lands below the destroy root; the rename makes the destroy program fail.
  const engine = script(work, 'copy.sh', `zfs send "${pool.ds('a')}@$KOPIATOMIC_SNAPSHOT" | zfs recv -u ${pool.ds('backup/a')} || exit 9\nzfs rename ${pool.ds('b')} ${pool.ds('moved')} || exit 9`);
  const r = await run(KOPIATOMIC, [...cmd(root, engine), pool.ds('a'), pool.ds('b')]);
  assert.equal(r.code, 0, why(r));
  const copy = namedOurs([pool]);
  assert.equal(copy.length, 1, `only the copy is left: ${copy.join(' ')}`);
  assert.ok(copy[0]!.startsWith(`${pool.ds('backup/a')}@kopiatomic-`), copy[0]);
  assert.deepEqual(ourHolds([pool]), [], 'no hold of ours anywhere');
  assert.deepEqual(leftovers([], root), CLEAN);
});

test('a copy received under our name before a crash survives the recovery of the next run and `cleanup`', async (t) => {
  const root = '/kt-threat-recv-crash';
  const pool = Pool.create(['a', 'b', 'backup']);
  const work = scratchDir('threat-recv-crash');
  t.after(() => teardown([pool], root));
  const engine = script(work, 'copy.sh', `zfs send "${pool.ds('a')}@$KOPIATOMIC_SNAPSHOT" | zfs recv -u ${pool.ds('backup/a')} || exit 9\nkill -9 $PPID\nsleep 1`);
  const r1 = await run(KOPIATOMIC, [...cmd(root, engine), pool.ds('a'), pool.ds('b')]);
  assert.equal(r1.signal ?? r1.code, 'SIGKILL', why(r1));
  const copy = namedOurs([pool]).filter((s) => s.startsWith(`${pool.ds('backup/a')}@`));
  assert.equal(copy.length, 1, 'the copy was received');
  assert.equal(namedOurs([pool]).length, 3, 'ours and the copy');

  const { env, logged } = argvLogger(work, ['zfs']);
  const r2 = await run(KOPIATOMIC, [...cmd(root, 'true'), pool.ds('a'), pool.ds('b')], { env });
  assert.equal(r2.code, 0, why(r2));
  assert.deepEqual(namedOurs([pool]), copy, 'ours are gone; the copy is intact');
  // The dead run's snapshots (recovery, from the journal's guids) and this run's both went by the
  // destroy program, which accepted the real guids and local properties: no destroy by name, none by -r.
  // (The read-only program, `zfs program -n`, only reads this run's identities.)
  const destroys = logged().filter((a) => (a[1] === 'program' && a[2] !== '-n') || a[1] === 'destroy');
  assert.deepEqual(destroys.map((a) => a.slice(0, 4).join(' ')), [`zfs program -j ${pool.name}`, `zfs program -j ${pool.name}`], destroys.map((a) => a.join(' ')).join('\n'));
  // After `zfs program -j POOL - RUN OWNER`: name, guid, createtxg for each.
  assert.ok(destroys.every((a) => a.slice(a.indexOf('-') + 3).every((w, i) => i % 3 !== 1 || /^g-?\d+$/.test(w))), 'each snapshot with its recorded guid');
  assert.deepEqual(ourHolds([pool]), [], 'no hold of ours anywhere');

  const r3 = await run(KOPIATOMIC, ['cleanup', '--json', '--mount-root', root]);
  assert.equal(r3.code, 0, why(r3));
  assert.deepEqual(namedOurs([pool]), copy, 'the copy is intact after cleanup');
  assert.equal(zfs('list', '-H', '-o', 'name', copy[0]!).trim(), copy[0]);
});
