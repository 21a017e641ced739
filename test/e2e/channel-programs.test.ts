// The channel programs against real OpenZFS, where what they lean on is the
// kernel's: zfs.get_prop of a name that is not there stops the program (no
// pcall in channel programs), so the quick identity read fails as a whole and
// the careful one answers for the names that are there; and the destroy
// program, which reads the guid instead of asking whether the name exists,
// destroys nothing when one name is gone. Asserted on the programs' answers
// and on `zfs list`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { DESTROY_PROGRAM, luaGuid } from '../../src/zfs/destroy-program.js';
import { IDENTITY_PROGRAM, IDENTITY_PROGRAM_CAREFUL, parseIdentities } from '../../src/zfs/identity-program.js';
import { PROP_OWNER, PROP_RUN } from '../../src/zfs/naming.js';
import { Pool, zfs } from './lib.js';

function program(argv: string[], input: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('zfs', ['program', ...argv], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** guid and createtxg as `zfs list -p` prints them. */
function identity(name: string): { guid: string; txg: string } {
  const [guid, txg] = zfs('list', '-H', '-p', '-o', 'guid,createtxg', name).trim().split('\t') as [string, string];
  return { guid, txg };
}

test('identity programs: the quick one stops at a missing name and answers nothing; the careful one answers for the rest; both agree with zfs list', (t) => {
  const pool = Pool.create(['a', 'b']).destroyAfter(t);
  const [a, b, gone] = [`${pool.ds('a')}@s`, `${pool.ds('b')}@s`, `${pool.ds('gone')}@s`];
  zfs('snapshot', a, b);
  const quick = program(['-n', '-j', pool.name, '-', a, b], IDENTITY_PROGRAM);
  assert.equal(quick.code, 0, quick.stderr);
  const both = parseIdentities(quick.stdout, [a, b]);
  for (const n of [a, b]) assert.deepEqual({ guid: both.get(n)?.guid, txg: both.get(n)?.txg }, identity(n), n);

  const stopped = program(['-n', '-j', pool.name, '-', a, gone, b], IDENTITY_PROGRAM);
  assert.notEqual(stopped.code, 0, 'a missing name stops the quick program');
  assert.equal(stopped.stdout.trim(), '', 'and it answers nothing');
  const careful = program(['-n', '-j', pool.name, '-', a, gone, b], IDENTITY_PROGRAM_CAREFUL);
  assert.equal(careful.code, 0, careful.stderr);
  const found = parseIdentities(careful.stdout, [a, gone, b]);
  assert.deepEqual([...found.keys()].sort(), [a, b]);
  for (const n of [a, b]) assert.deepEqual({ guid: found.get(n)?.guid, txg: found.get(n)?.txg }, identity(n), n);
});

test('destroy program: a name that is gone (its guid read fails) destroys nothing and answers nothing; with every name there, each is destroyed and it answers how many', (t) => {
  const pool = Pool.create(['a', 'b', 'c']).destroyAfter(t);
  const [a, b, gone] = [`${pool.ds('a')}@s`, `${pool.ds('b')}@s`, `${pool.ds('c')}@s`];
  zfs('snapshot', '-o', `${PROP_RUN}=R`, '-o', `${PROP_OWNER}=O`, a, b, gone);
  const words = (names: string[], ids: Record<string, { guid: string; txg: string }>) => names.flatMap((n) => [n, luaGuid(ids[n]!.guid), ids[n]!.txg]);
  const ids = Object.fromEntries([a, b, gone].map((n) => [n, identity(n)]));
  zfs('destroy', gone);
  const failed = program(['-j', pool.name, '-', 'R', 'O', ...words([a, gone, b], ids)], DESTROY_PROGRAM);
  assert.notEqual(failed.code, 0, 'the missing name stops the program');
  assert.equal(failed.stdout, '', 'and it answers nothing');
  assert.deepEqual(pool.snapshots().sort(), [a, b], 'nothing destroyed');
  const done = program(['-j', pool.name, '-', 'R', 'O', ...words([a, b], ids)], DESTROY_PROGRAM);
  assert.equal(done.code, 0, done.stderr);
  assert.deepEqual(JSON.parse(done.stdout), { return: { destroyed: 2 } }, 'it answers how many it destroyed');
  assert.deepEqual(pool.snapshots(), []);
});
