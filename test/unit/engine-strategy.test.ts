// The engine is the whole strategy: outside src/engine/ nothing asks which
// engine it is (no comparison with an engine's name); it calls the engine's
// functions instead (Engine in src/engine/engine.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT_DIR } from './paths.js';

const SRC = join(ROOT_DIR, 'src');
const NAME = `'(?:kopia|restic|command)'|"(?:kopia|restic|command)"`;
const COMPARES = new RegExp(`[!=]==?\\s*(?:${NAME})|(?:${NAME})\\s*[!=]==?|\\bcase\\s+(?:${NAME})\\s*:`);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test('no comparison with an engine name outside src/engine/', () => {
  const found: string[] = [];
  for (const f of files(SRC)) {
    const rel = relative(SRC, f);
    if (rel.startsWith('engine/')) continue;
    readFileSync(f, 'utf8').split('\n').forEach((line, n) => {
      if (COMPARES.test(line)) found.push(`${rel}:${n + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, []);
});

test('the check sees the forms a comparison takes', () => {
  for (const line of [`if (e.name === 'restic')`, `x !== "kopia"`, `'command' == y`, `case 'kopia':`]) assert.ok(COMPARES.test(line), line);
  for (const line of [`pick('command')`, `engine: 'kopia',`, `['kopia', 'restic']`]) assert.ok(!COMPARES.test(line), line);
});
