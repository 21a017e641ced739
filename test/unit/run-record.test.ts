import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readRunRecords, recordDir, removeRunRecord, writeRunRecord } from '../../src/safety/run-record.js';

test('run records: written durably, read back, removed; a missing folder means none; a torn file is named', () => {
  const base = mkdtempSync(`${tmpdir()}/kt-rec-`);
  const dir = `${base}/runs`;
  try {
    assert.deepEqual(readRunRecords(dir), { records: [], unreadable: [] });
    const r = { runId: 'R1', snapshot: 'kopiatomic-R1', owner: 'boot:1', pools: [{ pool: 'tank', destroyRoot: 'tank/a' }] };
    writeRunRecord(dir, r);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(readRunRecords(dir).records, [r]);
    writeFileSync(`${dir}/R2.json`, '{"runId":"R2","snap');
    assert.deepEqual(readRunRecords(dir).unreadable, ['R2.json']);
    removeRunRecord(dir, 'R1');
    assert.deepEqual(readRunRecords(dir).records, []);
    assert.equal(recordDir('linux'), '/var/lib/kopiatomic/runs');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
