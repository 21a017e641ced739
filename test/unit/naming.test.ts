// Run ids, snapshot names and owners.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRunId, ownerOf, snapshotNameFor } from '../../src/zfs/naming.js';

test('newRunId: UTC stamp, pid, random suffix; unique', () => {
  const id = newRunId(new Date(Date.UTC(2026, 10, 26, 7, 8, 9, 555)), 4242);
  assert.match(id, /^20261126T070809Z-4242-[0-9a-f]{6}$/);
  assert.notEqual(newRunId(), newRunId());
  assert.equal(snapshotNameFor('X'), 'kopiatomic-X');
  assert.equal(ownerOf('h1', 'b-1', 7), 'h1:b-1:7');
});
