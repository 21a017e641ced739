// docs/THREATS.md maps each threat to its test: every test it names exists
// (the file, and a test whose title starts with the quoted text), and every
// threat test file is named by some row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_DIR } from './paths.js';

const doc = readFileSync(join(ROOT_DIR, 'docs/THREATS.md'), 'utf8');
const refs = [...doc.matchAll(/`(test\/[\w./-]+\.test\.ts)` › "([^"]+)"/g)].map((m) => ({ file: m[1]!, title: m[2]! }));

/** The titles of a test file's tests, as written in its source (in a test() call, or as the name of a row of a table of cases). */
function titles(file: string): string[] {
  const src = readFileSync(join(ROOT_DIR, file), 'utf8');
  return [...src.matchAll(/(?:\btest\(|^\s*name:)\s*(['"`])((?:\\.|(?!\1).)*)\1/gm)].map((m) => m[2]!.replace(/\\(.)/g, '$1'));
}

test('every row of THREATS.md names a test that exists', () => {
  assert.ok(refs.length >= 20, `THREATS.md names ${refs.length} tests`);
  for (const r of refs) {
    const t = titles(r.file);
    assert.ok(t.some((x) => x.startsWith(r.title)), `${r.file} has a test titled "${r.title}…"`);
  }
});

test('every threat test file is named in THREATS.md', () => {
  const dir = join(ROOT_DIR, 'test/e2e/threats');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.test.ts'))) {
    assert.ok(refs.some((r) => r.file === `test/e2e/threats/${f}`), `THREATS.md names test/e2e/threats/${f}`);
  }
});
