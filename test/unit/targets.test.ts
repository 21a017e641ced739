import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { UsageError } from '../../src/core/errors.js';
import { toTarget } from '../../src/discover/targets.js';

test('toTarget: a word without a leading slash or ./ is a dataset name; trailing slashes dropped', () => {
  assert.deepEqual(toTarget('tank/home'), { kind: 'dataset', name: 'tank/home' });
  assert.deepEqual(toTarget('tank/my data/'), { kind: 'dataset', name: 'tank/my data' });
  assert.deepEqual(toTarget('tank'), { kind: 'dataset', name: 'tank' });
});

test('toTarget: snapshots and empty words are not filesystems', () => {
  assert.throws(() => toTarget('tank/a@snap'), (e: unknown) => e instanceof UsageError && /not a filesystem dataset: "tank\/a@snap"/.test(e.message));
  assert.throws(() => toTarget(''), UsageError);
});

test('toTarget: a path is resolved through symlinks; a missing path is a usage error', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-targets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const real = join(dir, 'real dir');
  mkdirSync(real);
  symlinkSync(real, join(dir, 'link'));
  assert.deepEqual(toTarget(join(dir, 'link')), { kind: 'path', path: realpathSync(real) });
  assert.deepEqual(toTarget(join(dir, 'real dir') + '/'), { kind: 'path', path: realpathSync(real) });
  const rel = relative(process.cwd(), real);
  if (rel.startsWith('../')) assert.deepEqual(toTarget(rel), { kind: 'path', path: realpathSync(real) });
  assert.throws(() => toTarget(join(dir, 'missing')), (e: unknown) => e instanceof UsageError && e.message.includes('no such file or directory'));
});
