// The zfs verbs build the words zfs(8) documents, in one place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { zfsDestroy, zfsHold, zfsHolds, zfsList, zfsProgram, zfsRelease, zfsSnapshot } from '../../src/zfs/zfs.js';

test('each verb: its argv', () => {
  assert.deepEqual(zfsSnapshot(['t/a@s', 't/b@s'], { 'k:run': 'R', 'k:owner': 'O' }), ['zfs', 'snapshot', '-o', 'k:run=R', '-o', 'k:owner=O', 't/a@s', 't/b@s']);
  assert.deepEqual(zfsHold('tag', ['t@s'], { recursive: true }), ['zfs', 'hold', '-r', 'tag', 't@s']);
  assert.deepEqual(zfsRelease('tag', ['t@s']), ['zfs', 'release', 'tag', 't@s']);
  assert.deepEqual(zfsDestroy('t@s'), ['zfs', 'destroy', 't@s']);
  assert.deepEqual(zfsList({ type: 'snapshot', columns: ['name', 'guid'], recursiveFrom: 'tank' }), ['zfs', 'list', '-H', '-p', '-t', 'snapshot', '-o', 'name,guid', '-r', 'tank']);
  assert.deepEqual(zfsList({ type: 'filesystem', columns: ['name'], names: ['a', 'b'] }), ['zfs', 'list', '-H', '-p', '-t', 'filesystem', '-o', 'name', 'a', 'b']);
  assert.deepEqual(zfsHolds(['t@s']), ['zfs', 'holds', '-H', 't@s']);
  assert.deepEqual(zfsProgram('tank', ['a', 'b']), ['zfs', 'program', 'tank', '-', 'a', 'b']);
});
