// The program as installed: dist/app alone, no node_modules (the configuration
// libraries are bundled), started from the code cache the build made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Script } from 'node:vm';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('the installed program reads a configuration file without node_modules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-bundle-'));
  try {
    cpSync(join(ROOT, 'dist/app'), join(dir, 'dist/app'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    const good = join(dir, 'good.toml');
    const bad = join(dir, 'bad.toml');
    writeFileSync(good, '[jobs.home]\nengine = "command"\ncommand = "true"\ndatasets = ["tank/home"]\n');
    writeFileSync(bad, '[jobs.home]\nengine = "restik"\n');
    const run = (file: string) => spawnSync(process.execPath, [join(dir, 'dist/app/bin/kopiatomic.js'), '--config', file, 'config', 'check'], { encoding: 'utf8', env: { PATH: '/nonexistent' } });
    const ok = run(good);
    assert.equal(ok.status, 0, ok.stderr);
    const no = run(bad);
    assert.equal(no.status, 2);
    assert.match(no.stderr, /bad\.toml:2:1: .*engine/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const built = (JSON.parse(readFileSync(join(ROOT, 'dist/app/lib/code-cache.json'), 'utf8')) as { node: string }).node;

test('the code caches the build made are accepted by the node that made them', { skip: built !== process.version && `built with node ${built}` }, () => {
  for (const f of ['dist/app/bin/kopiatomic.code.js', 'dist/app/bin/restomic.code.js', 'dist/app/lib/config-libs.js']) {
    const file = join(ROOT, f);
    const src = '(function (exports, require, module, __filename, __dirname) { ' + readFileSync(file, 'utf8').replace(/^#!.*/, '') + '\n})';
    const s = new Script(src, { filename: file, cachedData: readFileSync(file + '.v8') });
    assert.equal(s.cachedDataRejected, false, f);
  }
});
