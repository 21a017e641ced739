// The folders of src/ are layers: a file imports only from its own layer or
// the ones below it (docs/ARCHITECTURE.md, "Layers"), and no two files import
// each other, however long the way round. No exceptions: a shared thing that
// two layers need moves down to the lower one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT_DIR } from './paths.js';

// Bottom first. Keep in step with docs/ARCHITECTURE.md.
export const LAYERS = [
  'core', 'zfs', 'platform', 'discover', 'engine', 'config', 'plan',
  'safety', 'execute', 'verify', 'ops', 'cli', 'bin',
];

const SRC = join(ROOT_DIR, 'src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

// Every module a file names: `import ... from`, `import type`, `export ... from`,
// a bare `import '...'` and a dynamic `import('...')`.
export function importsOf(text: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) out.push(m[1]!);
  return out;
}

function layerOf(file: string): string {
  return relative(SRC, file).split('/')[0]!;
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const deps: string[] = [];
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      deps.push(resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
    }
    g.set(file, deps);
  }
  return g;
}

test('every folder of src/ has its place in the layer order', () => {
  const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  for (const f of folders) assert.ok(LAYERS.includes(f), `src/${f}/ is missing from the layer order`);
});

test('every file of src/ is inside a layer, and every dynamic import names its module as written', () => {
  for (const f of sourceFiles(SRC)) {
    assert.ok(LAYERS.includes(layerOf(f)), `${relative(SRC, f)} is in no layer`);
    const text = readFileSync(f, 'utf8');
    const dynamic = [...text.matchAll(/\bimport\s*\(\s*([^)]*)\)/g)].map((m) => m[1]!.trim());
    for (const d of dynamic) assert.match(d, /^['"][^'"]+['"]$/, `${relative(SRC, f)}: import(${d}) cannot be checked`);
  }
});

test('imports point down the layers', () => {
  const wrong: string[] = [];
  for (const [file, deps] of graph()) {
    const from = LAYERS.indexOf(layerOf(file));
    for (const dep of deps) {
      if (LAYERS.indexOf(layerOf(dep)) > from) wrong.push(`${relative(SRC, file)} -> ${relative(SRC, dep)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no import cycle between files', () => {
  const g = graph();
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const path: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    path.push(f);
    for (const d of g.get(f) ?? []) {
      const s = state.get(d);
      if (s === 'open') cycles.push(path.slice(path.indexOf(d)).concat(d).map((p) => relative(SRC, p)).join(' -> '));
      else if (s === undefined && g.has(d)) visit(d);
    }
    path.pop();
    state.set(f, 'done');
  };
  for (const f of [...g.keys()].sort()) if (!state.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});

test('the import reader sees every form', () => {
  const text = [
    "import { a } from './a.js';",
    "import type { B } from '../b/b.js';",
    "export { c } from './c.js';",
    "import './side.js';",
    "const m = await import('./late.js');",
    "import {\n  d,\n  e,\n} from './multi.js';",
  ].join('\n');
  assert.deepEqual(importsOf(text).sort(), ['../b/b.js', './a.js', './c.js', './late.js', './multi.js', './side.js'].sort());
});
