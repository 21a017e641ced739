// Engine figures read from restic's --json summary and kopia's --json manifests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandEngine } from '../../src/engine/command.js';
import { kopiaFigures } from '../../src/engine/kopia.js';
import { resticFigures } from '../../src/engine/restic.js';
import { buildRunRecord } from '../../src/ops/run-record.js';

test('restic: the summary line among status lines', () => {
  const out = [
    '{"message_type":"status","percent_done":0.5,"total_files":10}',
    'not json',
    '{"message_type":"summary","files_new":5,"files_changed":2,"files_unmodified":100,"dirs_new":1,"data_blobs":7,"data_added":123456,"total_files_processed":107,"total_bytes_processed":9876543,"total_duration":1.5,"snapshot_id":"7a8b9c0d1e2f"}',
  ].join('\n');
  assert.deepEqual(resticFigures(out), {
    engine: 'restic',
    snapshotId: '7a8b9c0d1e2f',
    filesNew: 5,
    filesChanged: 2,
    filesUnmodified: 100,
    files: 107,
    bytesProcessed: 9876543,
    bytesAdded: 123456,
  });
  assert.equal(resticFigures('{"message_type":"status"}\n'), undefined);
});

test('kopia: one manifest per source, summed; errors from stats or the root entry', () => {
  const m1 = { id: 'k1', source: { path: '/home' }, stats: { fileCount: 10, totalSize: 1000, errorCount: 0 }, rootEntry: { summ: { numFailed: 0 } } };
  const m2 = { id: 'k2', source: { path: '/srv' }, stats: { fileCount: 5, totalSize: 500, errorCount: 1 }, rootEntry: { summ: { numFailed: 2 } } };
  const f = kopiaFigures(`${JSON.stringify(m1)}\n${JSON.stringify(m2)}\n`);
  assert.deepEqual(f, { engine: 'kopia', snapshotId: 'k1,k2', files: 15, bytesProcessed: 1500, errors: 2 });
  assert.equal(commandEngine.figures(JSON.stringify(m1)), undefined);
  assert.equal(kopiaFigures('ERROR something\n'), undefined);
});

test('buildRunRecord fills the host and ISO times', () => {
  const r = buildRunRecord({ job: 'default', start: new Date(0), end: new Date(1000), status: 'ok', exitCode: 0 });
  assert.equal(r.start, '1970-01-01T00:00:00.000Z');
  assert.equal(r.leftovers, 0);
  assert.ok(r.host.length > 0);
});
