// README's configuration example and key table cannot rot: the example is
// loaded and every job resolved as `config check` does, and every key of the
// schema must be documented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KOPIATOMIC } from '../../src/config/job.js';
import { loadConfig } from '../../src/config/load.js';
import { resolveJobs } from '../../src/config/resolve.js';
import { KNOWN_KEYS } from '../../src/config/schema.js';
import { ROOT_DIR } from './paths.js';

const README = readFileSync(join(ROOT_DIR, 'README.md'), 'utf8');

function exampleBlock(): string {
  const at = README.indexOf('### A complete example');
  assert.ok(at > 0, 'README has "### A complete example"');
  const m = /```toml\n([\s\S]*?)```/.exec(README.slice(at));
  assert.ok(m, 'a toml block follows it');
  return m[1]!;
}

test("README's complete example is a valid configuration", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-readme-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'kopiatomic.toml');
  writeFileSync(f, exampleBlock());
  chmodSync(f, 0o600);
  const jobs = resolveJobs(loadConfig(f), [], { flavour: KOPIATOMIC, readEnvFiles: false });
  assert.deepEqual(jobs.map((j) => j.job), ['home', 'marked', 'vms']);
  assert.equal(jobs[1]!.property, true);
  assert.equal(jobs[2]!.engine.name, 'kopia');
  assert.equal(jobs[2]!.verifyPercent, 100);
});

test('every key of the schema is in README', () => {
  for (const k of [...KNOWN_KEYS.top, ...KNOWN_KEYS.defaults]) assert.ok(README.includes(`\`${k}\``), `README documents \`${k}\``);
  for (const c of ['kopiatomic:backup', 'config check', 'config show', 'kopiatomic jobs', 'run [JOB...]', '--property', '--config FILE']) assert.ok(README.includes(c), c);
});
